"""The Live page: microphone to converted speech on the output device, block by block, with latency read-outs."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QVBoxLayout, QWidget)

from desktop_app.audio import devices
from desktop_app.audio.capture import CLIP_THRESHOLD
from desktop_app.audio.live import LiveStats, LiveStream
from desktop_app.context import AppContext
from desktop_app.tabs.voice.common import VOCODER_CHOICES, disable_missing_gan_vocoder
from desktop_app.tabs.voice.models_page import ModelCatalog
from desktop_app.widgets.device_picker import DevicePicker
from desktop_app.widgets.level_meter import LevelMeter
from engine.voice import StreamingConverter, load_voice_model, make_vocoder

logger = logging.getLogger(__name__)

KEY_LIVE_INPUT = "voice/live_input_device"
KEY_LIVE_OUTPUT = "voice/live_output_device"
KEY_LIVE_BLOCK_MS = "voice/live_block_ms"
BLOCK_CHOICES_MS = (50, 80, 100, 150, 200)  # the engine's streaming converter takes blocks of at most 200 ms
# 50 ms blocks measured 234 ms end to end, 96 ms of it device buffers, with the GAN vocoder on 2
# cores at load average 1.3 (bench/voice_live_latency.py); 100 ms blocks measured 299 ms.
DEFAULT_BLOCK_MS = 50
# Input history the streaming converter analyses with each block. Its compute per block grows with
# this window, not with the block: on 2 loaded cores (load average 4) 100 ms blocks took 95 ms
# with the engine's 0.8 s default and 51 ms with 0.3 s. Streamed SF1 sentences converted to TM3 and
# to SM1 were classified as the target 6 of 6 times with either window (bench/voice_live_latency.py).
LIVE_CONTEXT_S = 0.3
CLIP_DBFS = 20.0 * math.log10(CLIP_THRESHOLD)  # the recorder's clipping threshold in dBFS


class ConverterProcessor:
    """Adapts a StreamingConverter to the live stream: ``output_delay_s`` is how far its output lags its input."""

    def __init__(self, converter: StreamingConverter) -> None:
        self.converter = converter
        # The converter returns each block at once, delayed by its look-ahead: the block-filling part
        # of its latency_s is spent in the live stream's capture buffer, where it is measured.
        self.output_delay_s = converter.latency_s - converter.block_s

    def process(self, block):
        return self.converter.process(block)

    def set_target(self, name: str) -> None:
        self.converter.set_target(name)

    def set_pitch_shift(self, semitones: float) -> None:
        self.converter.set_pitch_shift(semitones)


def make_converter_factory(model_path: Path, target: str, vocoder: str, block_s: float, pitch_shift: float,
                           context_s: float | None = None):
    """Return a factory that loads the model and builds a StreamingConverter (runs on the live thread).

    ``context_s`` is the converter's input history per block; None keeps the engine's default.
    """

    def build(sample_rate_hz: int) -> ConverterProcessor:
        model = load_voice_model(model_path)
        options = {} if context_s is None else {"context_s": context_s}
        converter = StreamingConverter(model, target, make_vocoder(vocoder), sample_rate_hz, block_s, **options)
        converter.set_pitch_shift(pitch_shift)
        return ConverterProcessor(converter)

    return build


class LivePage(QWidget):
    """Starts and stops a LiveStream and shows its read-outs; target and pitch change while it runs."""

    running_changed = Signal(bool)

    def __init__(self, context: AppContext, catalog: ModelCatalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = context.settings
        self._catalog = catalog
        self.stream = LiveStream(self)
        self.last_stats: LiveStats | None = None
        self._live_speakers: list[str] = []  # the speakers of the model the running stream loaded

        self.input_picker = DevicePicker("input", context.settings, KEY_LIVE_INPUT)
        self.output_picker = DevicePicker("output", context.settings, KEY_LIVE_OUTPUT)
        self.block_combo = QComboBox()
        for block_ms in BLOCK_CHOICES_MS:
            self.block_combo.addItem(f"{block_ms} ms", block_ms)
        saved_block = self.block_combo.findData(context.settings.get_int(KEY_LIVE_BLOCK_MS, DEFAULT_BLOCK_MS))
        self.block_combo.setCurrentIndex(max(0, saved_block))
        self.block_combo.setToolTip("Audio per processed block: shorter blocks lower the latency but cost "
                                    "more compute per second")
        self.target_combo = QComboBox()
        self.pitch_spin = QDoubleSpinBox(decimals=1, minimum=-12.0, maximum=12.0, singleStep=0.5, suffix=" semitones")
        self.vocoder_combo = QComboBox()
        for title, value in VOCODER_CHOICES:
            self.vocoder_combo.addItem(title, value)
        disable_missing_gan_vocoder(self.vocoder_combo)
        self.input_meter = LevelMeter()
        self.input_meter.setToolTip("Microphone level: RMS (top) and peak (bottom) in dBFS")
        self.output_meter = LevelMeter()
        self.output_meter.setToolTip("Converted level: RMS (top) and peak (bottom) in dBFS")
        self.start_button = QPushButton("Start live conversion")
        self.message_label = QLabel("Use headphones: the converted voice plays while you speak.")
        self.message_label.setWordWrap(True)

        self.readouts = {key: QLabel("–") for key in ("rate", "block", "compute", "latency", "latency_max",
                                                      "margin", "devices", "underflows", "running")}
        readout_box = QGroupBox("Read-outs")
        grid = QGridLayout(readout_box)
        titles = {"rate": "Sample rate", "block": "Block length", "compute": "Compute per block (mean / max)",
                  "latency": "End-to-end latency", "latency_max": "Largest latency",
                  "margin": "Jitter margin", "devices": "Device buffers (in / out)",
                  "underflows": "Output underflows", "running": "Running for"}
        for row, (key, title) in enumerate(titles.items()):
            grid.addWidget(QLabel(title), row, 0)
            grid.addWidget(self.readouts[key], row, 1)

        settings_box = QGroupBox("Live conversion")
        form = QFormLayout(settings_box)
        form.addRow("Microphone", self.input_picker)
        form.addRow("Output", self.output_picker)
        form.addRow("Block length", self.block_combo)
        form.addRow("Target", self.target_combo)
        form.addRow("Pitch shift", self.pitch_spin)
        form.addRow("Vocoder", self.vocoder_combo)
        form.addRow("Microphone level", self.input_meter)
        form.addRow("Converted level", self.output_meter)
        form.addRow(self.start_button)
        form.addRow(self.message_label)

        row = QHBoxLayout()
        row.addWidget(settings_box, 1)
        row.addWidget(readout_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addStretch(1)

        self.start_button.clicked.connect(self.toggle)
        self.target_combo.currentTextChanged.connect(self._on_target_changed)
        self.pitch_spin.valueChanged.connect(self._on_pitch_changed)
        self.block_combo.currentIndexChanged.connect(
            lambda _index: self._settings.set(KEY_LIVE_BLOCK_MS, self.block_combo.currentData()))
        self.stream.started.connect(self._on_started)
        self.stream.stats_changed.connect(self.show_stats)
        self.stream.stopped.connect(self._on_stopped)
        catalog.changed.connect(self._fill_targets)
        self._fill_targets()
        self._update_availability()

    @property
    def is_running(self) -> bool:
        return self.stream.is_running

    @property
    def block_s(self) -> float:
        return self.block_combo.currentData() / 1000.0

    def toggle(self) -> None:
        if self.stream.is_running:
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        """Start live conversion with the chosen devices, target and block length; False with a message if not."""
        model_path = self._catalog.current_path
        target = self.target_combo.currentText()
        if model_path is None or not target:
            self._show_message("Pick a voice model with at least one speaker first.", error=True)
            return False
        factory = make_converter_factory(model_path, target, self.vocoder_combo.currentData(), self.block_s,
                                         self.pitch_spin.value(), LIVE_CONTEXT_S)
        try:
            rate_hz = self.stream.start(factory, input_device=self.input_picker.current_device(),
                                        output_device=self.output_picker.current_device(), block_s=self.block_s)
        except (devices.AudioDeviceError, ValueError) as error:
            self._show_message(str(error), error=True)
            return False
        self._live_speakers = list(self._catalog.current_speakers)
        self._set_running_controls(True)
        self.start_button.setText("Starting… (loading the model)")
        self._show_message(f"Loading {model_path.stem} for {target} at {rate_hz} Hz…")
        return True

    def stop(self) -> None:
        self.stream.stop()

    def shutdown(self) -> None:
        self.stream.stop()

    def show_stats(self, stats: LiveStats) -> None:
        self.last_stats = stats

        def ms(value: float | None) -> str:
            return "–" if value is None else f"{value * 1000:.0f} ms"

        self.readouts["rate"].setText(f"{stats.sample_rate_hz} Hz")
        self.readouts["block"].setText(ms(stats.block_s))
        self.readouts["compute"].setText(f"{ms(stats.compute_s_mean)} / {ms(stats.compute_s_max)}")
        self.readouts["latency"].setText(ms(stats.latency_s))
        self.readouts["latency_max"].setText(ms(stats.latency_s_max))
        self.readouts["margin"].setText(ms(stats.margin_s))
        self.readouts["devices"].setText(f"{ms(stats.input_latency_s)} / {ms(stats.output_latency_s)}")
        self.readouts["underflows"].setText(f"{stats.output_underflows + stats.device_underflows}"
                                            + (f" ({stats.dropped_s:.2f} s dropped)" if stats.dropped_s else ""))
        self.readouts["running"].setText(f"{stats.running_s:.1f} s, {stats.blocks} blocks")
        self.input_meter.set_levels(*stats.input_levels_dbfs, stats.input_levels_dbfs[1] >= CLIP_DBFS)
        self.output_meter.set_levels(*stats.output_levels_dbfs, stats.output_levels_dbfs[1] >= CLIP_DBFS)
        overloaded = stats.compute_s_mean is not None and stats.compute_s_mean > stats.block_s
        self.readouts["compute"].setStyleSheet("color: #d33;" if overloaded else "")

    # ----------------------------------------------------------------------------------- internals

    def _fill_targets(self) -> None:
        current = self.target_combo.currentText()
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        self.target_combo.addItems(self._catalog.current_speakers)
        index = self.target_combo.findText(current)
        self.target_combo.setCurrentIndex(max(0, index))
        self.target_combo.blockSignals(False)
        if self.stream.is_running and self.target_combo.currentText() != current:
            self._on_target_changed(self.target_combo.currentText())

    def _on_target_changed(self, name: str) -> None:
        if not self.stream.is_running or not name:
            return
        if name not in self._live_speakers:
            self._show_message(f"{name} is not in the model that is running; stop and start live conversion "
                               "to use the new model.", error=True)
            return
        self.stream.call_in_processing_thread(lambda converter: converter.set_target(name))
        self._show_message(f"Converting to {name}.")

    def _on_pitch_changed(self, semitones: float) -> None:
        if self.stream.is_running:
            self.stream.call_in_processing_thread(lambda converter: converter.set_pitch_shift(semitones))

    def _on_started(self) -> None:
        self.start_button.setText("Stop")
        self._show_message(f"Converting to {self.target_combo.currentText()}; speak into the microphone.")
        self.running_changed.emit(True)

    def _on_stopped(self, message: str) -> None:
        self._set_running_controls(False)
        self.start_button.setText("Start live conversion")
        self._show_message(message or "Stopped.", error=bool(message))
        self.running_changed.emit(False)

    def _set_running_controls(self, running: bool) -> None:
        for widget in (self.input_picker, self.output_picker, self.block_combo, self.vocoder_combo):
            widget.setEnabled(not running)

    def _update_availability(self) -> None:
        problem = devices.devices_message("input") or devices.devices_message("output")
        self.start_button.setEnabled(not problem)
        if problem:
            self._show_message(problem, error=True)

    def _show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #d33;" if error else "")
        if text and error:
            logger.warning("%s", text)
