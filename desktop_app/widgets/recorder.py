"""The recorder panel: input device, level meter, Record/Stop, elapsed time and a live spectrogram."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.audio import devices
from desktop_app.audio.capture import LIVE_MELS, SPECTROGRAM_TOP_DB, RecordingResult, Recorder
from desktop_app.settings import Settings
from desktop_app.widgets.device_picker import DevicePicker
from desktop_app.widgets.level_meter import LevelMeter
from desktop_app.widgets.spectrogram_view import SpectrogramView
from engine.audio.io import AudioError

logger = logging.getLogger(__name__)

KEY_INPUT_DEVICE = "audio/input_device"


class RecorderWidget(QWidget):
    """Records from the chosen input into the data folder and shows it live.

    Without PortAudio or without input devices the controls are disabled, and the message names
    what to install or connect. Everything else in the app keeps working.
    """

    recording_started = Signal(object)  # Path of the file being written
    recording_finished = Signal(object)  # RecordingResult
    devices_refreshed = Signal()  # PortAudio re-read its device list; other pickers should reload

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._recorder = Recorder(self)
        self._n_mels: int | None = LIVE_MELS
        self._recording_message = ""

        self._device_picker = DevicePicker("input", settings, KEY_INPUT_DEVICE)
        self._refresh_button = QPushButton("Refresh")
        self._refresh_button.setToolTip("List the input devices again (after plugging one in)")
        self._refresh_button.clicked.connect(self.refresh_devices)
        self._record_button = QPushButton("Record")
        self._record_button.setToolTip("Start or stop recording (R)")
        self._record_button.clicked.connect(self.toggle_recording)
        self._elapsed_label = QLabel("0.0 s")
        self._elapsed_label.setMinimumWidth(60)
        self._meter = LevelMeter()
        self._live_view = SpectrogramView(show_controls=False, title="Live input")
        self._message_label = QLabel()
        self._message_label.setWordWrap(True)

        self._recorder.levels_changed.connect(self._meter.set_levels)
        self._recorder.columns_ready.connect(self._live_view.append_columns)
        self._recorder.elapsed_changed.connect(self._show_elapsed)
        self._recorder.stopped.connect(self._on_stopped)
        self._recorder.warning.connect(self._on_warning)

        top = QHBoxLayout()
        top.addWidget(QLabel("Input"))
        top.addWidget(self._device_picker, 1)
        top.addWidget(self._refresh_button)
        top.addWidget(self._record_button)
        top.addWidget(self._elapsed_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self._meter)
        layout.addWidget(self._live_view, 1)
        layout.addWidget(self._message_label)
        self._update_availability()

    # ------------------------------------------------------------------------------- public API

    @property
    def recorder(self) -> Recorder:
        return self._recorder

    @property
    def device_picker(self) -> DevicePicker:
        return self._device_picker

    @property
    def live_view(self) -> SpectrogramView:
        return self._live_view

    @property
    def level_meter(self) -> LevelMeter:
        return self._meter

    @property
    def record_button(self) -> QPushButton:
        return self._record_button

    @property
    def message(self) -> str:
        return self._message_label.text()

    @property
    def is_recording(self) -> bool:
        return self._recorder.is_recording

    @property
    def can_record(self) -> bool:
        return self._record_button.isEnabled()

    def set_mel_scale(self, mel: bool) -> None:
        """Use mel (True) or linear (False) frequencies for the next recording's live view."""
        self._n_mels = LIVE_MELS if mel else None

    def toggle_recording(self) -> None:
        if self._recorder.is_recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self) -> bool:
        """Start recording from the chosen device; returns False (with a message) when it cannot."""
        if self._recorder.is_recording or not self.can_record:
            return False
        try:
            path = self._recorder.start(self._device_picker.current_device(), n_mels=self._n_mels)
        except (devices.AudioDeviceError, AudioError) as error:
            self._show_message(str(error), error=True)
            return False
        self._live_view.set_levels(0.0, SPECTROGRAM_TOP_DB)
        self._live_view.start_live(self._recorder.frequencies_hz, self._recorder.hop_s)
        self._meter.reset()
        self._record_button.setText("Stop")
        self._device_picker.setEnabled(False)
        self._refresh_button.setEnabled(False)
        self._recording_message = (f"Recording from {self._device_picker.currentText()} at "
                                   f"{self._recorder.sample_rate_hz} Hz into {path}")
        self._show_message(self._recording_message)
        self.recording_started.emit(path)
        return True

    def stop_recording(self) -> RecordingResult | None:
        return self._recorder.stop()

    def refresh_devices(self) -> None:
        """Re-read the device list from PortAudio; a message explains when a stream is still open."""
        if self._recorder.is_recording:
            return
        try:
            devices.refresh_devices()
        except devices.AudioDeviceError as error:
            self._show_message(str(error), error=True)
            return
        self._device_picker.reload()
        self._update_availability()
        self.devices_refreshed.emit()

    def shutdown(self) -> None:
        """Stop a running recording so the file is closed before the window goes."""
        self._recorder.stop()

    # ----------------------------------------------------------------------------------- internals

    def _update_availability(self) -> None:
        problem = devices.devices_message("input")
        usable = not problem
        self._device_picker.setEnabled(usable)
        self._refresh_button.setEnabled(devices.backend_status().available)
        self._record_button.setEnabled(usable)
        if problem:
            self._show_message(problem, error=True, log=False)  # devices_message logs it once
        elif self._device_picker.missing_saved_device:
            self._show_message(f"The input device {self._device_picker.missing_saved_device!r} used last time "
                               "is not connected; the default input is selected.")
        else:
            self._show_message("")

    def _show_elapsed(self, elapsed_s: float) -> None:
        self._elapsed_label.setText(f"{elapsed_s:.1f} s")

    def _on_stopped(self, result: RecordingResult) -> None:
        self._live_view.stop_live()
        self._record_button.setText("Record")
        self._device_picker.setEnabled(True)
        self._refresh_button.setEnabled(True)
        if result.message:
            self._show_message(result.message, error=True)
        else:
            overflow = f" ({result.input_overflows} input overflows)" if result.input_overflows else ""
            self._show_message(f"Saved {result.duration_s:.1f} s to {result.path}{overflow}")
        self.recording_finished.emit(result)

    def _on_warning(self, text: str) -> None:
        if text:
            self._show_message(text, error=True)
        else:
            self._show_message(self._recording_message)

    def _show_message(self, text: str, error: bool = False, log: bool = True) -> None:
        self._message_label.setText(text)
        self._message_label.setStyleSheet("color: #d33;" if error else "")
        if text and log:
            (logger.warning if error else logger.info)("%s", text)
