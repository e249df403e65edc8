"""The Convert page: source clip, target speaker and options, and the converted result side by side."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QRadioButton, QSplitter, QVBoxLayout, QWidget)

from desktop_app.audio import devices
from desktop_app.audio.playback import Player
from desktop_app.context import AppContext
from desktop_app.tabs.voice.common import (MEL_HOP_S, SAVE_FILTER, VOCODER_CHOICES, BackgroundRunner,
                                           disable_missing_gan_vocoder, log_mel_to_display_db, mel_frequencies,
                                           voice_work_dir)
from desktop_app.tabs.voice.models_page import METHOD_TITLES, ModelCatalog, info_value
from desktop_app.tabs.voice.source_panel import SourcePanel
from desktop_app.widgets.job_bar import job_title
from desktop_app.widgets.player import KEY_OUTPUT_DEVICE, PlayerWidget
from desktop_app.widgets.spectrogram_view import SpectrogramView
from engine.audio.io import Audio, AudioError, load_audio, save_audio
from engine.core.jobs import CancelToken, EventSink
from engine.voice import ConvertJob, load_voice_model, speaker_sample

logger = logging.getLogger(__name__)

KEY_PITCH = "voice/pitch_shift"
KEY_VOCODER = "voice/vocoder"
KEY_METHOD = "voice/method"
NEW_SPEAKER_ITEM = "New speaker…"
CONVERSION_SAMPLE_KIND = "voice_conversion"  # the ConvertJob sample with the log-mels and F0 tracks
MAX_PITCH_SHIFT = 12.0  # semitones, one octave either way


class ConvertClipJob:
    """Write the trimmed source clip to a file when needed, then run the engine's ConvertJob on it."""

    name = "voice.convert"

    def __init__(self, source: Audio, target_speaker: str, output: Path, model_path: Path,
                 pitch_shift_semitones: float, vocoder: str) -> None:
        self.source = source
        self.target_speaker = target_speaker
        self.output = output
        self.model_path = model_path
        self.pitch_shift_semitones = pitch_shift_semitones
        self.vocoder = vocoder

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        source_path = self.source.path
        if source_path is None:
            source_path = voice_work_dir("sources") / f"{self.output.stem}-source.wav"
            save_audio(source_path, self.source, subtype="FLOAT")
        job = ConvertJob(source_path, self.target_speaker, self.output, self.model_path,
                         pitch_shift_semitones=self.pitch_shift_semitones, vocoder=self.vocoder)
        job.run(sink, cancel)


def speaker_sample_audio(model_path: Path, speaker: str) -> Audio:
    """Return a short sample of ``speaker`` (a stored training clip, resynthesised) as (1, samples) Audio.

    Raises:
        CheckpointError: the model file cannot be loaded.
        ValueError: the model has no such speaker or stores no sample of it.
    """
    samples, rate_hz = speaker_sample(load_voice_model(model_path), speaker)
    mono = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).reshape(1, -1)  # (1, samples)
    return Audio(mono, int(rate_hz))


class TargetPanel(QGroupBox):
    """Method, model and target speaker (each with a sample to play), plus pitch shift and vocoder."""

    new_speaker_requested = Signal()

    def __init__(self, context: AppContext, catalog: ModelCatalog, runner: BackgroundRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__("Target", parent)
        self._settings = context.settings
        self._catalog = catalog
        self._runner = runner
        self._sample_player = Player(self)
        self._samples: dict[tuple[str, str], Audio] = {}

        self.method_combo = QComboBox()
        self.model_combo = QComboBox()
        self.speaker_list = QListWidget()
        self.speaker_list.setMinimumHeight(120)
        self.sample_button = QPushButton("Play sample")
        self.sample_button.setToolTip("Play a short recording of the selected speaker")
        self.new_speaker_button = QPushButton(NEW_SPEAKER_ITEM)
        self.new_speaker_button.setToolTip("Record about 20 sentences of a new voice and fine-tune the model on them")
        self.pitch_spin = QDoubleSpinBox(decimals=1, minimum=-MAX_PITCH_SHIFT, maximum=MAX_PITCH_SHIFT,
                                         singleStep=0.5, suffix=" semitones")
        self.pitch_spin.setToolTip("Shift the converted F0 up (positive) or down (negative) after conversion")
        self.pitch_spin.setValue(self._settings.get_float(KEY_PITCH, 0.0))
        self.vocoder_combo = QComboBox()
        for title, value in VOCODER_CHOICES:
            self.vocoder_combo.addItem(title, value)
        self._disable_missing_gan_vocoder()
        saved_vocoder = self.vocoder_combo.findData(self._settings.get_str(KEY_VOCODER, "gan"))
        if saved_vocoder >= 0 and self.vocoder_combo.model().item(saved_vocoder).isEnabled():
            self.vocoder_combo.setCurrentIndex(saved_vocoder)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)

        sample_row = QHBoxLayout()
        sample_row.addWidget(self.sample_button)
        sample_row.addWidget(self.new_speaker_button)
        form = QFormLayout(self)
        form.addRow("Method", self.method_combo)
        form.addRow("Model", self.model_combo)
        form.addRow(self.speaker_list)
        form.addRow(sample_row)
        form.addRow("Pitch shift", self.pitch_spin)
        form.addRow("Vocoder", self.vocoder_combo)
        form.addRow(self.message_label)

        self.method_combo.activated.connect(self._on_method_chosen)
        self.model_combo.activated.connect(self._on_model_chosen)
        self.speaker_list.itemActivated.connect(self._on_item_activated)
        self.speaker_list.itemClicked.connect(self._on_item_activated)
        self.sample_button.clicked.connect(self.play_sample)
        self.new_speaker_button.clicked.connect(self.new_speaker_requested)
        self.pitch_spin.valueChanged.connect(lambda value: self._settings.set(KEY_PITCH, value))
        self.vocoder_combo.currentIndexChanged.connect(
            lambda _index: self._settings.set(KEY_VOCODER, self.vocoder_combo.currentData()))
        self._sample_player.finished.connect(lambda message: self._show_message(message))
        catalog.changed.connect(self._fill)
        self._fill()

    # ------------------------------------------------------------------------------- public API

    @property
    def target_speaker(self) -> str | None:
        item = self.speaker_list.currentItem()
        if item is None or item.text() == NEW_SPEAKER_ITEM:
            return None
        return item.text()

    def select_speaker(self, name: str) -> None:
        """Select the target ``name``.

        Raises:
            ValueError: the current model has no such speaker.
        """
        matches = self.speaker_list.findItems(name, Qt.MatchFlag.MatchExactly)
        if not matches:
            speakers = ", ".join(self._catalog.current_speakers)
            raise ValueError(f"The model has no speaker {name!r}; its speakers are {speakers}.")
        self.speaker_list.setCurrentItem(matches[0])

    @property
    def sample_player(self) -> Player:
        return self._sample_player

    @property
    def pitch_shift(self) -> float:
        return float(self.pitch_spin.value())

    @property
    def vocoder(self) -> str:
        return str(self.vocoder_combo.currentData())

    def play_sample(self) -> None:
        speaker = self.target_speaker
        model_path = self._catalog.current_path
        if speaker is None or model_path is None:
            self._show_message("Select a speaker first.")
            return
        cached = self._samples.get((str(model_path), speaker))
        if cached is not None:
            self._play(cached)
            return
        self._show_message(f"Preparing a sample of {speaker}…")
        self._runner.submit(lambda: speaker_sample_audio(model_path, speaker),
                            lambda audio: self._on_sample_ready(str(model_path), speaker, audio),
                            self._show_message, f"The sample of {speaker}")

    def shutdown(self) -> None:
        self._sample_player.stop()

    # ----------------------------------------------------------------------------------- internals

    def _disable_missing_gan_vocoder(self) -> None:
        disable_missing_gan_vocoder(self.vocoder_combo)

    def _fill(self) -> None:
        catalog = self._catalog
        method = catalog.current and info_value(catalog.current, "method") or self._settings.get_str(KEY_METHOD,
                                                                                                  "multi_target")
        self.method_combo.blockSignals(True)
        self.method_combo.clear()
        for key, title in METHOD_TITLES.items():
            self.method_combo.addItem(title, key)
            if not catalog.models_with_method(key):
                item = self.method_combo.model().item(self.method_combo.count() - 1)
                item.setEnabled(False)
                item.setToolTip(f"No {title} model is installed; train one with gan-studio-cli voice train.")
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(method)))
        self.method_combo.blockSignals(False)

        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for info in catalog.models_with_method(self.method_combo.currentData()):
            path = Path(info_value(info, "path"))
            self.model_combo.addItem(str(info_value(info, "name", path.stem)), str(path))
        current = catalog.current_path
        if current is not None:
            self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(str(current))))
        self.model_combo.blockSignals(False)

        previous = self.target_speaker
        self.speaker_list.clear()
        for speaker in catalog.current_speakers:
            self.speaker_list.addItem(QListWidgetItem(speaker))
        new_item = QListWidgetItem(NEW_SPEAKER_ITEM)
        new_item.setForeground(Qt.GlobalColor.darkBlue)
        self.speaker_list.addItem(new_item)
        speakers = catalog.current_speakers
        if speakers:
            self.speaker_list.setCurrentRow(speakers.index(previous) if previous in speakers else 0)
        if catalog.error:
            self._show_message(catalog.error)
        elif current is None:
            self._show_message("No voice model is installed; import one on the Models page.")

    def _on_method_chosen(self, index: int) -> None:
        method = self.method_combo.itemData(index)
        self._settings.set(KEY_METHOD, method)
        models = self._catalog.models_with_method(method)
        if models:
            self._catalog.select(info_value(models[0], "path"))

    def _on_model_chosen(self, index: int) -> None:
        self._catalog.select(self.model_combo.itemData(index))

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        if item.text() == NEW_SPEAKER_ITEM:
            self.new_speaker_requested.emit()

    def _on_sample_ready(self, model_key: str, speaker: str, audio: Audio) -> None:
        self._samples[(model_key, speaker)] = audio
        if self.target_speaker == speaker:
            self._play(audio)

    def _play(self, audio: Audio) -> None:
        device = self._settings.get_str(KEY_OUTPUT_DEVICE, "") or None
        try:
            self._sample_player.play(audio.samples, audio.sample_rate_hz, device)
        except devices.AudioDeviceError as error:
            self._show_message(str(error))
            return
        self._show_message(f"Playing a {audio.duration_s:.1f} s sample of {self.target_speaker}.")

    def _show_message(self, text: str) -> None:
        self.message_label.setText(text)


class ResultPanel(QGroupBox):
    """The converted clip: spectrogram with F0, playback with an A/B switch to the source, and Save."""

    def __init__(self, context: AppContext, runner: BackgroundRunner, parent: QWidget | None = None) -> None:
        super().__init__("Converted", parent)
        self._settings = context.settings
        self._runner = runner
        self.converted: Audio | None = None
        self.source: Audio | None = None
        self.summary: Mapping[str, Any] = {}
        self._offset_s = 0.0  # where in the clip playback started, for A/B switching mid-play

        self.view = SpectrogramView(title="Converted", show_controls=False)
        self.view.set_f0_visible(True)
        self.player_widget = PlayerWidget(context.settings)
        self.a_button = QRadioButton("A: source")
        self.b_button = QRadioButton("B: converted")
        self.b_button.setChecked(True)
        self._ab_group = QButtonGroup(self)
        self._ab_group.addButton(self.a_button)
        self._ab_group.addButton(self.b_button)
        for button in (self.a_button, self.b_button):
            button.setToolTip("Switch between the source and the converted clip; playback goes on at the same time")
        self.save_button = QPushButton("Save as…")
        self.save_button.setEnabled(False)
        self.info_label = QLabel("Convert a clip to see the result here.")
        self.info_label.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.a_button)
        row.addWidget(self.b_button)
        row.addStretch(1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info_label)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        layout.addWidget(self.player_widget)

        self.b_button.toggled.connect(self._on_ab_toggled)
        self.save_button.clicked.connect(self._save_with_dialog)
        self.player_widget.position_changed.connect(self._on_position)
        self.player_widget.playback_finished.connect(lambda _message: self.view.set_cursor(None))
        self._set_ab_enabled(False)

    @property
    def playing_converted(self) -> bool:
        return self.b_button.isChecked()

    def show_result(self, summary: Mapping[str, Any], source: Audio, converted: Audio) -> None:
        """Show a finished conversion: its spectrogram and F0, and the two clips to compare."""
        self.summary = summary
        self.source = source
        self.converted = converted
        hop_s = float(summary.get("hop_s", MEL_HOP_S))
        self.view.set_spectrogram(log_mel_to_display_db(summary["converted_log_mel"]), mel_frequencies(), hop_s)
        f0_hz = summary.get("converted_f0_hz")
        if f0_hz is not None:
            f0_hz = np.asarray(f0_hz, dtype=np.float64)
            self.view.set_f0(f0_hz, hop_s, f0_hz > 0)
        self.b_button.setChecked(True)
        self._set_ab_enabled(True)
        self._offset_s = 0.0
        self.player_widget.set_clip(converted.samples, converted.sample_rate_hz)
        self.save_button.setEnabled(True)
        name = Path(summary.get("output", "")).name
        self.info_label.setText(f"{name}: {converted.duration_s:.2f} s at {converted.sample_rate_hz} Hz, "
                                f"voice {summary.get('target', '')}")

    def save(self, path: str | Path) -> Path:
        """Write the converted clip as WAV or FLAC by extension.

        Raises:
            AudioError: no result yet, an unsupported extension, or the write failed.
        """
        if self.converted is None:
            raise AudioError("There is no converted clip to save: convert one first.")
        return save_audio(path, self.converted)

    def shutdown(self) -> None:
        self.player_widget.shutdown()

    def _set_ab_enabled(self, enabled: bool) -> None:
        self.a_button.setEnabled(enabled)
        self.b_button.setEnabled(enabled)

    def _on_ab_toggled(self, _checked: bool) -> None:
        clip = self.converted if self.b_button.isChecked() else self.source
        if clip is None:
            return
        player = self.player_widget
        was_playing = player.is_playing
        position_s = self._offset_s + (player.player.position_s if was_playing else 0.0)
        start = min(int(position_s * clip.sample_rate_hz), clip.num_samples - 1) if was_playing else 0
        self._offset_s = start / clip.sample_rate_hz
        player.set_clip(clip.samples[:, start:], clip.sample_rate_hz)
        if was_playing:
            player.play()

    def _on_position(self, position_s: float) -> None:
        self.view.set_cursor(self._offset_s + position_s)

    def _save_with_dialog(self) -> None:
        folder = self._settings.get_str("voice/last_folder", str(Path.home()))
        suggested = str(Path(folder) / (Path(self.summary.get("output", "converted.wav")).stem + ".wav"))
        path, chosen = QFileDialog.getSaveFileName(self, "Save converted clip", suggested, SAVE_FILTER)
        if not path:
            return
        if Path(path).suffix.lower() not in (".wav", ".flac"):
            path += ".flac" if chosen.startswith("FLAC") else ".wav"
        try:
            saved = self.save(path)
        except AudioError as error:
            self.info_label.setText(str(error))
            return
        self.info_label.setText(f"Saved {saved}.")


class ConvertPage(QWidget):
    """Source on the left, converted result on the right, target and options in a column beside them."""

    conversion_finished = Signal(object)  # the summary of a finished conversion

    def __init__(self, context: AppContext, catalog: ModelCatalog, runner: BackgroundRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._catalog = catalog
        self._runner = runner
        self._job_id: int | None = None
        self._pending_source: Audio | None = None
        self._features: Mapping[str, Any] = {}  # the job's "voice_conversion" sample: log-mels and F0 tracks

        self.source_panel = SourcePanel(context.settings, runner)
        self.target_panel = TargetPanel(context, catalog, runner)
        self.result_panel = ResultPanel(context, runner)
        self.convert_button = QPushButton("Convert")
        self.convert_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.status_label = QLabel("Pick a source and a target voice, then press Convert.")
        self.status_label.setWordWrap(True)

        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(self.target_panel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.convert_button)
        buttons.addWidget(self.cancel_button)
        controls_layout.addLayout(buttons)
        controls_layout.addWidget(self.progress_bar)
        controls_layout.addWidget(self.status_label)
        controls_layout.addStretch(1)
        controls.setMaximumWidth(330)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.source_panel)
        splitter.addWidget(self.result_panel)
        splitter.setChildrenCollapsible(False)
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addWidget(splitter, 1)

        self.convert_button.clicked.connect(self.convert)
        self.cancel_button.clicked.connect(self.cancel)
        worker = context.worker
        worker.job_started.connect(self._on_started)
        worker.job_progress.connect(self._on_progress)
        worker.job_sample.connect(self._on_sample)
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)

    @property
    def busy(self) -> bool:
        return self._job_id is not None

    def convert(self) -> int | None:
        """Submit the conversion of the trimmed source to the selected target; return the job id."""
        problem = self.source_panel.selection_problem()
        speaker = self.target_panel.target_speaker
        model_path = self._catalog.current_path
        if not problem and model_path is None:
            problem = "No voice model is selected; pick one on the Models page."
        if not problem and speaker is None:
            problem = "Select a target speaker (or add a new one with New speaker…)."
        if problem:
            self.status_label.setText(problem)
            return None

        source = self.source_panel.trimmed_audio()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        clip_path = self.source_panel.clip.audio.path
        stem = clip_path.stem if clip_path is not None else "recording"
        output = voice_work_dir("converted") / f"{stem}-to-{speaker}-{stamp}.wav"
        job = ConvertClipJob(source, speaker, output, model_path, self.target_panel.pitch_shift,
                             self.target_panel.vocoder)
        self._pending_source = source
        self._features = {}
        self._job_id = self.context.worker.submit(job, shows_input_errors=True)
        self.convert_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        running = self.context.worker.current_job_name()
        if running is not None and self.context.worker.current_job_id() != self._job_id:
            self.status_label.setText(f"Convert waits for {job_title(running)} to finish.")
        else:
            self.status_label.setText(f"Converting to {speaker}…")
        return self._job_id

    def cancel(self) -> None:
        if self._job_id is not None:
            self.context.worker.cancel(self._job_id)

    def shutdown(self) -> None:
        self.source_panel.shutdown()
        self.target_panel.shutdown()
        self.result_panel.shutdown()

    @Slot(int, str, object)
    def _on_started(self, job_id: int, _name: str, _total: object) -> None:
        if job_id == self._job_id:
            self.status_label.setText(f"Converting to {self.target_panel.target_speaker}…")

    @Slot(int, int, object, object, object)
    def _on_progress(self, job_id: int, step: int, total: int | None, *_rest: object) -> None:
        if job_id != self._job_id:
            return
        if total:
            self.progress_bar.setRange(0, int(total))
            self.progress_bar.setValue(min(step, int(total)))

    @Slot(int, int, str, object)
    def _on_sample(self, job_id: int, _step: int, kind: str, data: Mapping[str, Any]) -> None:
        if job_id == self._job_id and kind == CONVERSION_SAMPLE_KIND:
            self._features = data

    @Slot(int, object, bool)
    def _on_finished(self, job_id: int, summary: Mapping[str, Any], cancelled: bool) -> None:
        if job_id != self._job_id:
            return
        self._end()
        if cancelled:
            self.status_label.setText("Conversion cancelled.")
            return
        if "converted_log_mel" not in self._features:
            self.status_label.setText("The conversion finished without its spectrograms; see the log.")
            logger.error("Conversion job %d sent no %s sample", job_id, CONVERSION_SAMPLE_KIND)
            return
        source = self._pending_source
        summary = {**self._features, **summary}
        output = Path(summary["output"])
        self.status_label.setText(f"Converted; loading {output.name}…")
        self._runner.submit(lambda: load_audio(output),
                            lambda audio: self._show_result(summary, source, audio),
                            self.status_label.setText, f"Loading {output.name}")

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, _detail: str) -> None:
        if job_id != self._job_id:
            return
        self._end()
        self.status_label.setText(message)

    def _show_result(self, summary: Mapping[str, Any], source: Audio, converted: Audio) -> None:
        self.result_panel.show_result(summary, source, converted)
        self.status_label.setText(f"Converted to {summary.get('target', 'the target')}: "
                                  f"{Path(summary['output']).name}")
        self.conversion_finished.emit(summary)

    def _end(self) -> None:
        self._job_id = None
        self.convert_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
