"""The Audio tab: record, open, look at, play and save clips."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from desktop_app.audio.capture import LIVE_MELS, SPECTROGRAM_TOP_DB, RecordingResult, spectrogram_sizes
from desktop_app.context import AppContext
from desktop_app.tabs.base import Tab
from desktop_app.widgets.player import PlayerWidget
from desktop_app.widgets.recorder import RecorderWidget
from desktop_app.widgets.spectrogram_view import SpectrogramView
from engine.audio.io import Audio, AudioError, load_audio, resample, save_audio
from engine.audio.pitch import track_f0
from engine.audio.streaming import StreamingSpectrogram, offline_spectrogram_db

logger = logging.getLogger(__name__)

KEY_MEL_SCALE = "audio/mel_scale"
KEY_SHOW_F0 = "audio/show_f0"
KEY_LAST_FOLDER = "audio/last_folder"
F0_RATE_HZ = 16000  # F0 is tracked on a 16 kHz copy: YIN's cost grows with the square of the rate
F0_HOP_S = 0.010
OPEN_FILTER = "Audio files (*.wav *.flac *.ogg *.mp3);;All files (*)"
SAVE_FILTER = "WAV (*.wav);;FLAC (*.flac)"


@dataclass(frozen=True)
class ClipAnalysis:
    """A clip with its spectrogram and F0 track, ready to draw."""

    audio: Audio
    spectrogram_db: np.ndarray  # (frames, bins), same dB scale as the live view
    frequencies_hz: np.ndarray  # (bins,)
    hop_s: float
    f0_hz: np.ndarray  # (f0_frames,), 0 where unvoiced
    voiced: np.ndarray  # (f0_frames,) bool
    f0_hop_s: float


def analyze_clip(audio: Audio, mel: bool) -> ClipAnalysis:
    """Compute the display spectrogram (mel or linear) and the F0 track of a clip's channel mean."""
    mono = audio.samples.mean(dim=0)  # (samples,)
    n_fft, hop_length = spectrogram_sizes(audio.sample_rate_hz)
    settings = StreamingSpectrogram(audio.sample_rate_hz, n_fft=n_fft, hop_length=hop_length,
                                    n_mels=LIVE_MELS if mel else None, top_db=SPECTROGRAM_TOP_DB)
    spectrogram_db = offline_spectrogram_db(mono.double(), settings).float().numpy()  # (frames, bins)

    mono_16k = resample(mono, audio.sample_rate_hz, F0_RATE_HZ)
    f0_hz, voiced = track_f0(mono_16k, F0_RATE_HZ, hop_length=round(F0_RATE_HZ * F0_HOP_S))
    return ClipAnalysis(audio=audio, spectrogram_db=np.ascontiguousarray(spectrogram_db),
                        frequencies_hz=np.asarray(settings.frequencies_hz, dtype=np.float64),
                        hop_s=hop_length / audio.sample_rate_hz, f0_hz=f0_hz.numpy(), voiced=voiced.numpy(),
                        f0_hop_s=F0_HOP_S)


def _load_and_analyze(path: Path, mel: bool) -> ClipAnalysis:
    return analyze_clip(load_audio(path), mel)


class _ResultRelay(QObject):
    """Carries results from the loader thread to the GUI thread (queued signal delivery)."""

    finished = Signal(int, object, object)  # request number, ClipAnalysis or None, error message or None


class AudioLabTab(Tab):
    """Combines the recorder, the clip spectrogram and the player.

    Files load on a one-thread executor, so a long file never freezes the window. The shell's engine
    worker is not used for loading because a training job may occupy it for hours. Keys: Space
    plays or stops, R starts or stops recording.
    """

    TITLE = "Audio"

    clip_loaded = Signal(object)  # ClipAnalysis
    clip_failed = Signal(str)  # message naming the file

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._settings = context.settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio-loader")
        self._relay = _ResultRelay(self)
        self._relay.finished.connect(self._on_analysis_finished)
        self._request = 0  # number of the newest load request; older results are dropped
        self._clip: ClipAnalysis | None = None

        self._build_widgets()
        self._build_layout()
        self._connect()
        self._build_shortcuts()

    # ---------------------------------------------------------------------------------- building

    def _build_widgets(self) -> None:
        self.recorder_widget = RecorderWidget(self._settings)
        self.player_widget = PlayerWidget(self._settings)
        self.clip_view = SpectrogramView(title="Clip")
        self._open_button = QPushButton("Open…")
        self._save_button = QPushButton("Save as…")
        self._save_button.setEnabled(False)
        self._scale_box = QComboBox()
        self._scale_box.addItems(["Mel", "Linear"])
        self._scale_box.setCurrentText("Mel" if self._settings.get_bool(KEY_MEL_SCALE, True) else "Linear")
        self._f0_box = QCheckBox("F0")
        self._f0_box.setToolTip("Overlay the fundamental frequency (YIN) on the clip")
        self._f0_box.setChecked(self._settings.get_bool(KEY_SHOW_F0, True))
        self.clip_view.set_f0_visible(self._f0_box.isChecked())
        self.recorder_widget.set_mel_scale(self.mel_scale)
        self._clip_label = QLabel("No clip: record one, open a file, or drop an audio file on the spectrogram.")
        self._message_label = QLabel()
        self._message_label.setWordWrap(True)
        self._message_label.setStyleSheet("color: #d33;")

    def _build_layout(self) -> None:
        toolbar = QHBoxLayout()
        toolbar.addWidget(self._open_button)
        toolbar.addWidget(self._save_button)
        toolbar.addSpacing(12)
        toolbar.addWidget(QLabel("Frequency scale"))
        toolbar.addWidget(self._scale_box)
        toolbar.addWidget(self._f0_box)
        toolbar.addStretch(1)

        clip_panel = QWidget()
        clip_layout = QVBoxLayout(clip_panel)
        clip_layout.setContentsMargins(0, 0, 0, 0)
        clip_layout.addWidget(self._clip_label)
        clip_layout.addWidget(self.clip_view, 1)
        clip_layout.addWidget(self.player_widget)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.recorder_widget)
        splitter.addWidget(clip_panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(self._message_label)
        layout.addWidget(splitter, 1)

    def _connect(self) -> None:
        self._open_button.clicked.connect(self._open_with_dialog)
        self._save_button.clicked.connect(self._save_with_dialog)
        self._scale_box.currentTextChanged.connect(self._on_scale_changed)
        self._f0_box.toggled.connect(self._on_f0_toggled)
        self.clip_view.file_dropped.connect(self.open_file)
        self.recorder_widget.live_view.file_dropped.connect(self.open_file)
        self.recorder_widget.recording_started.connect(lambda _path: self.player_widget.stop())
        self.recorder_widget.recording_finished.connect(self._on_recording_finished)
        self.recorder_widget.devices_refreshed.connect(self.player_widget.refresh_devices)
        self.player_widget.position_changed.connect(self.clip_view.set_cursor)
        self.player_widget.playback_finished.connect(lambda _message: self.clip_view.set_cursor(None))

    def _build_shortcuts(self) -> None:
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self._play_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self, context=context)
        self._play_shortcut.activated.connect(self.toggle_playback)
        self._record_shortcut = QShortcut(QKeySequence(Qt.Key.Key_R), self, context=context)
        self._record_shortcut.activated.connect(self.recorder_widget.toggle_recording)

    # ------------------------------------------------------------------------------- public API

    @property
    def clip(self) -> ClipAnalysis | None:
        return self._clip

    @property
    def mel_scale(self) -> bool:
        return self._scale_box.currentText() == "Mel"

    @property
    def message(self) -> str:
        return self._message_label.text()

    def set_mel_scale(self, mel: bool) -> None:
        self._scale_box.setCurrentText("Mel" if mel else "Linear")

    def set_f0_visible(self, visible: bool) -> None:
        self._f0_box.setChecked(visible)

    def toggle_playback(self) -> None:
        if self.recorder_widget.is_recording:
            return
        self.player_widget.toggle_playback()

    def open_file(self, path: str | Path) -> Future:
        """Load and analyse ``path`` off the GUI thread; ``clip_loaded`` or ``clip_failed`` follows."""
        path = Path(path)
        self._settings.set(KEY_LAST_FOLDER, str(path.parent))
        self._clip_label.setText(f"Loading {path}…")
        mel = self.mel_scale  # read the widget here: the lambda runs on the loader thread
        return self._submit(lambda: _load_and_analyze(path, mel), str(path))

    def save_clip(self, path: str | Path) -> Path:
        """Write the current clip as WAV or FLAC (16-bit) by extension.

        Raises:
            AudioError: no clip, an unsupported extension, or the write failed.
        """
        if self._clip is None:
            raise AudioError("There is no clip to save: record one or open a file first.")
        saved = save_audio(path, self._clip.audio)
        self._clip_label.setText(self._describe(self._clip.audio, saved))
        return saved

    def shutdown(self) -> None:
        self.recorder_widget.shutdown()
        self.player_widget.shutdown()
        self._settings.set(KEY_MEL_SCALE, self.mel_scale)
        self._settings.set(KEY_SHOW_F0, self._f0_box.isChecked())
        self._executor.shutdown(wait=True, cancel_futures=True)

    # ----------------------------------------------------------------------------------- loading

    def _submit(self, work, description: str) -> Future:
        self._request += 1
        request = self._request
        relay = self._relay

        def run() -> None:
            try:
                analysis = work()
            except AudioError as error:
                relay.finished.emit(request, None, str(error))
            except Exception as error:  # noqa: BLE001 - any failure must reach the user, not vanish in the pool
                logger.exception("Analysing %s failed", description)
                relay.finished.emit(request, None, f"Could not analyse {description}: {type(error).__name__}: "
                                                   f"{error}. See the log for details.")
            else:
                relay.finished.emit(request, analysis, None)

        return self._executor.submit(run)

    def _on_analysis_finished(self, request: int, analysis: ClipAnalysis | None, error: str | None) -> None:
        if request != self._request:
            return  # a newer file or setting was requested meanwhile
        if analysis is None:
            self._show_error(error or "Loading failed.")
            self._clip_label.setText(self._describe(self._clip.audio) if self._clip else "No clip.")
            self.clip_view.show_message(error or "")
            self.clip_failed.emit(error or "")
            return
        self._show_clip(analysis)
        self.clip_loaded.emit(analysis)

    def _show_clip(self, analysis: ClipAnalysis) -> None:
        self._clip = analysis
        self._show_error("")
        self.clip_view.set_spectrogram(analysis.spectrogram_db, analysis.frequencies_hz, analysis.hop_s)
        self.clip_view.set_f0(analysis.f0_hz, analysis.f0_hop_s, analysis.voiced)
        self.clip_view.set_f0_visible(self._f0_box.isChecked())
        self.player_widget.set_clip(analysis.audio.samples, analysis.audio.sample_rate_hz)
        self._clip_label.setText(self._describe(analysis.audio))
        self._save_button.setEnabled(True)

    @staticmethod
    def _describe(audio: Audio, path: Path | None = None) -> str:
        source = path or audio.path
        name = source.name if source else "unsaved clip"
        return (f"{name}: {audio.duration_s:.2f} s, {audio.sample_rate_hz} Hz, "
                f"{audio.channels} channel{'s' if audio.channels > 1 else ''}")

    def _show_error(self, text: str) -> None:
        self._message_label.setText(text)
        if text:
            logger.warning("%s", text)

    # ------------------------------------------------------------------------------------ events

    def _on_recording_finished(self, result: RecordingResult) -> None:
        if result.duration_s > 0:
            self.open_file(result.path)

    def _on_scale_changed(self, _text: str) -> None:
        self._settings.set(KEY_MEL_SCALE, self.mel_scale)
        self.recorder_widget.set_mel_scale(self.mel_scale)
        if self._clip is not None:
            audio, mel = self._clip.audio, self.mel_scale
            self._submit(lambda: analyze_clip(audio, mel), str(audio.path or "the clip"))

    def _on_f0_toggled(self, checked: bool) -> None:
        self._settings.set(KEY_SHOW_F0, checked)
        self.clip_view.set_f0_visible(checked)

    def _open_with_dialog(self) -> None:
        folder = self._settings.get_str(KEY_LAST_FOLDER, str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open audio file", folder, OPEN_FILTER)
        if path:
            self.open_file(path)

    def _save_with_dialog(self) -> None:
        folder = self._settings.get_str(KEY_LAST_FOLDER, str(Path.home()))
        suggested = str(Path(folder) / ((self._clip.audio.path.stem if self._clip and self._clip.audio.path
                                         else "clip") + ".wav"))
        path, chosen_filter = QFileDialog.getSaveFileName(self, "Save clip", suggested, SAVE_FILTER)
        if not path:
            return
        if Path(path).suffix.lower() not in (".wav", ".flac"):
            path += ".flac" if chosen_filter.startswith("FLAC") else ".wav"
        try:
            self.save_clip(path)
        except AudioError as error:
            self._show_error(str(error))
