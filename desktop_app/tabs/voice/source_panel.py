"""The source panel of the Voice tab: record or open a clip, trim it, see its spectrogram with F0, play it."""

from __future__ import annotations

import logging
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from desktop_app.audio.capture import RecordingResult
from desktop_app.settings import Settings
from desktop_app.tabs.audio_lab import ClipAnalysis, analyze_clip
from desktop_app.tabs.voice.common import OPEN_FILTER, BackgroundRunner
from desktop_app.widgets.player import PlayerWidget
from desktop_app.widgets.recorder import RecorderWidget
from desktop_app.widgets.spectrogram_view import SpectrogramView
from engine.audio.features import trim_silence
from engine.audio.io import Audio, load_audio

logger = logging.getLogger(__name__)

KEY_LAST_FOLDER = "voice/last_folder"
TRIM_THRESHOLD_DB = -40.0  # frames this far below the loudest one count as silence for "Trim silence"
MIN_CLIP_S = 0.3  # shorter selections hold too few frames for conversion
TRIM_STEP_S = 0.01  # the resolution of the trim spin boxes (two decimals)


class SourcePanel(QGroupBox):
    """Holds the clip to convert: recorded with the microphone, opened, or dropped on the spectrogram.

    The trim range is shown as a shaded region on the spectrogram and set with the two spin boxes,
    by dragging the region, or with "Trim silence". ``clip_changed`` fires when a new clip is shown.
    """

    clip_changed = Signal(object)  # ClipAnalysis
    clip_failed = Signal(str)

    def __init__(self, settings: Settings, runner: BackgroundRunner, parent: QWidget | None = None) -> None:
        super().__init__("Source", parent)
        self._settings = settings
        self._runner = runner
        self._clip: ClipAnalysis | None = None
        self._request = 0
        self._updating_trim = False

        self.recorder_widget = RecorderWidget(settings)
        self.view = SpectrogramView(title="Source", show_controls=False)
        self.view.set_f0_visible(True)
        self.player_widget = PlayerWidget(settings)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open an audio file (or drop one on the spectrogram)")
        self.trim_start = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.0, singleStep=0.05, suffix=" s")
        self.trim_end = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.0, singleStep=0.05, suffix=" s")
        self.trim_button = QPushButton("Trim silence")
        self.trim_button.setToolTip(f"Cut leading and trailing parts quieter than {-TRIM_THRESHOLD_DB:.0f} dB "
                                    "below the loudest frame")
        self.reset_trim_button = QPushButton("Whole clip")
        self.clip_label = QLabel("No source yet: record, open or drop a file.")
        self.clip_label.setWordWrap(True)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #d33;")
        self._region = pg.LinearRegionItem(brush=pg.mkBrush(255, 255, 255, 40), movable=True)
        self._region.setZValue(10)
        self._region.setVisible(False)
        self.view.plot_widget.addItem(self._region)
        self._build_layout()
        self._connect()
        self._set_clip_controls_enabled(False)

    def _build_layout(self) -> None:
        self.recorder_widget.live_view.setMaximumHeight(110)
        trim_row = QHBoxLayout()
        trim_row.addWidget(self.open_button)
        trim_row.addSpacing(8)
        trim_row.addWidget(QLabel("Trim"))
        trim_row.addWidget(self.trim_start)
        trim_row.addWidget(QLabel("to"))
        trim_row.addWidget(self.trim_end)
        trim_row.addWidget(self.trim_button)
        trim_row.addWidget(self.reset_trim_button)
        trim_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.recorder_widget)
        layout.addLayout(trim_row)
        layout.addWidget(self.clip_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.player_widget)

    def _connect(self) -> None:
        self.open_button.clicked.connect(self._open_with_dialog)
        self.view.file_dropped.connect(self.open_file)
        self.recorder_widget.live_view.file_dropped.connect(self.open_file)
        self.recorder_widget.recording_started.connect(lambda _path: self.player_widget.stop())
        self.recorder_widget.recording_finished.connect(self._on_recording_finished)
        self.recorder_widget.devices_refreshed.connect(self.player_widget.refresh_devices)
        self.player_widget.position_changed.connect(self._on_position)
        self.player_widget.playback_finished.connect(lambda _message: self.view.set_cursor(None))
        self.trim_start.valueChanged.connect(self._on_trim_spin)
        self.trim_end.valueChanged.connect(self._on_trim_spin)
        self._region.sigRegionChangeFinished.connect(self._on_region_moved)
        self.trim_button.clicked.connect(self.trim_silence)
        self.reset_trim_button.clicked.connect(self.reset_trim)

    # ------------------------------------------------------------------------------- public API

    @property
    def clip(self) -> ClipAnalysis | None:
        return self._clip

    def trim_span(self) -> tuple[int, int]:
        """Return the selected (start, end) sample range of the clip."""
        if self._clip is None:
            return 0, 0
        audio = self._clip.audio
        start = int(round(self.trim_start.value() * audio.sample_rate_hz))
        end = int(round(self.trim_end.value() * audio.sample_rate_hz))
        # The spin boxes round to TRIM_STEP_S, so a value within one step of an edge means that edge.
        if self.trim_start.value() < TRIM_STEP_S:
            start = 0
        if self.trim_end.value() > audio.duration_s - TRIM_STEP_S:
            end = audio.num_samples
        return max(0, start), min(audio.num_samples, end)

    def trimmed_audio(self) -> Audio | None:
        """Return the selected part of the clip (channels, samples), or None without a clip."""
        if self._clip is None:
            return None
        start, end = self.trim_span()
        samples = self._clip.audio.samples[:, start:end].contiguous()
        whole = (start, end) == (0, self._clip.audio.num_samples)
        return Audio(samples, self._clip.audio.sample_rate_hz, self._clip.audio.path if whole else None)

    def selection_problem(self) -> str:
        """Return why the selection cannot be converted, or "" when it can."""
        if self._clip is None:
            return "Record, open or drop a source clip first."
        start, end = self.trim_span()
        length_s = (end - start) / self._clip.audio.sample_rate_hz
        if length_s < MIN_CLIP_S:
            return (f"The trimmed source is {length_s:.2f} s long; select at least {MIN_CLIP_S:.1f} s "
                    "(widen the trim range).")
        return ""

    def open_file(self, path: str | Path) -> None:
        """Load and analyse ``path`` off the GUI thread; ``clip_changed`` or ``clip_failed`` follows."""
        path = Path(path)
        self._settings.set(KEY_LAST_FOLDER, str(path.parent))
        self.clip_label.setText(f"Loading {path}…")
        self._request += 1
        request = self._request
        self._runner.submit(lambda: analyze_clip(load_audio(path), mel=True),
                            lambda analysis: self._on_analysed(request, analysis),
                            lambda message: self._on_failed(request, message), f"Loading {path.name}")

    def trim_silence(self) -> None:
        if self._clip is None:
            return
        mono = self._clip.audio.samples.mean(dim=0)  # (samples,)
        _, (start, end) = trim_silence(mono, self._clip.audio.sample_rate_hz, TRIM_THRESHOLD_DB)
        if end <= start:
            self._show_message("The clip is silent; there is nothing to keep.")
            return
        rate_hz = self._clip.audio.sample_rate_hz
        self._set_trim(start / rate_hz, end / rate_hz)

    def reset_trim(self) -> None:
        if self._clip is not None:
            self._set_trim(0.0, self._clip.audio.duration_s)

    def set_trim(self, start_s: float, end_s: float) -> None:
        self._set_trim(start_s, end_s)

    def shutdown(self) -> None:
        self.recorder_widget.shutdown()
        self.player_widget.shutdown()

    # ----------------------------------------------------------------------------------- internals

    def _on_analysed(self, request: int, analysis: ClipAnalysis) -> None:
        if request != self._request:
            return
        self._clip = analysis
        self._show_message("")
        self.view.set_spectrogram(analysis.spectrogram_db, analysis.frequencies_hz, analysis.hop_s)
        self.view.set_f0(analysis.f0_hz, analysis.f0_hop_s, analysis.voiced)
        duration_s = analysis.audio.duration_s
        self._updating_trim = True
        for box in (self.trim_start, self.trim_end):
            box.setMaximum(duration_s)
        self._updating_trim = False
        self._region.setBounds((0.0, duration_s))
        self._region.setVisible(True)
        self._set_clip_controls_enabled(True)
        self._set_trim(0.0, duration_s)
        audio = analysis.audio
        name = audio.path.name if audio.path else "recording"
        self.clip_label.setText(f"{name}: {duration_s:.2f} s, {audio.sample_rate_hz} Hz, "
                                f"{audio.channels} channel{'s' if audio.channels > 1 else ''}")
        self.clip_changed.emit(analysis)

    def _on_failed(self, request: int, message: str) -> None:
        if request != self._request:
            return
        self._show_message(message)
        self.clip_label.setText("The clip could not be loaded." if self._clip is None else self.clip_label.text())
        self.clip_failed.emit(message)

    def _on_recording_finished(self, result: RecordingResult) -> None:
        if result.duration_s > 0:
            self.open_file(result.path)

    def _set_trim(self, start_s: float, end_s: float) -> None:
        self._updating_trim = True
        self.trim_start.setValue(start_s)
        self.trim_end.setValue(end_s)
        self._region.setRegion((start_s, end_s))
        self._updating_trim = False
        self._update_player_clip()

    def _on_trim_spin(self) -> None:
        if self._updating_trim:
            return
        start_s, end_s = self.trim_start.value(), self.trim_end.value()
        if end_s < start_s:
            start_s, end_s = end_s, start_s
        self._set_trim(start_s, end_s)

    def _on_region_moved(self) -> None:
        if self._updating_trim:
            return
        start_s, end_s = self._region.getRegion()
        self._set_trim(float(start_s), float(end_s))

    def _update_player_clip(self) -> None:
        audio = self.trimmed_audio()
        if audio is None:
            self.player_widget.set_clip(None)
            return
        self.player_widget.set_clip(audio.samples, audio.sample_rate_hz)

    def _on_position(self, position_s: float) -> None:
        self.view.set_cursor(self.trim_start.value() + position_s)

    def _set_clip_controls_enabled(self, enabled: bool) -> None:
        for widget in (self.trim_start, self.trim_end, self.trim_button, self.reset_trim_button):
            widget.setEnabled(enabled)

    def _show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        if text:
            logger.warning("%s", text)

    def _open_with_dialog(self) -> None:
        folder = self._settings.get_str(KEY_LAST_FOLDER, str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open source audio", folder, OPEN_FILTER)
        if path:
            self.open_file(path)

