"""The player panel: output device, Play/Stop and the play position."""

from __future__ import annotations

import logging

import numpy as np
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.audio import devices
from desktop_app.audio.playback import Player
from desktop_app.settings import Settings
from desktop_app.widgets.device_picker import DevicePicker

logger = logging.getLogger(__name__)

KEY_OUTPUT_DEVICE = "audio/output_device"


class PlayerWidget(QWidget):
    """Plays the current clip on the chosen output; ``position_changed`` drives a cursor.

    ``playback_finished`` carries "" after a normal end or stop, else why playback broke off.
    """

    position_changed = Signal(float)
    playback_started = Signal()
    playback_finished = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._player = Player(self)
        self._samples: np.ndarray | None = None  # (channels, samples)
        self._sample_rate_hz = 0

        self._device_picker = DevicePicker("output", settings, KEY_OUTPUT_DEVICE)
        self._play_button = QPushButton("Play")
        self._play_button.setToolTip("Play or stop the clip (Space)")
        self._play_button.clicked.connect(self.toggle_playback)
        self._position_label = QLabel("0.00 / 0.00 s")
        self._message_label = QLabel()
        self._message_label.setWordWrap(True)

        self._player.position_changed.connect(self._on_position)
        self._player.finished.connect(self._on_finished)

        row = QHBoxLayout()
        row.addWidget(QLabel("Output"))
        row.addWidget(self._device_picker, 1)
        row.addWidget(self._play_button)
        row.addWidget(self._position_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self._message_label)
        self._update_availability()

    @property
    def player(self) -> Player:
        return self._player

    @property
    def device_picker(self) -> DevicePicker:
        return self._device_picker

    @property
    def play_button(self) -> QPushButton:
        return self._play_button

    @property
    def message(self) -> str:
        return self._message_label.text()

    @property
    def is_playing(self) -> bool:
        return self._player.is_playing

    @property
    def duration_s(self) -> float:
        return self._samples.shape[1] / self._sample_rate_hz if self._samples is not None else 0.0

    def set_clip(self, samples: np.ndarray | torch.Tensor | None, sample_rate_hz: int = 0) -> None:
        """Set the clip to play, (channels, samples) float32, or None for no clip; stops playback."""
        self._player.stop()
        if isinstance(samples, torch.Tensor):
            samples = samples.detach().cpu().numpy()
        self._samples = None if samples is None else np.asarray(samples, dtype=np.float32)
        self._sample_rate_hz = int(sample_rate_hz)
        self._position_label.setText(f"0.00 / {self.duration_s:.2f} s")
        self._update_availability()

    def toggle_playback(self) -> None:
        if self._player.is_playing:
            self.stop()
        else:
            self.play()

    def play(self) -> bool:
        """Play the clip from the start; returns False (with a message) when it cannot."""
        if self._samples is None or not self._play_button.isEnabled():
            return False
        try:
            self._player.play(self._samples, self._sample_rate_hz, self._device_picker.current_device())
        except devices.AudioDeviceError as error:
            self._show_message(str(error), error=True)
            return False
        self._play_button.setText("Stop")
        self._show_message("")
        self.playback_started.emit()
        return True

    def stop(self) -> None:
        self._player.stop()

    def refresh_devices(self) -> None:
        """Reload the output list after ``devices.refresh_devices()`` re-read it."""
        self._device_picker.reload()
        self._update_availability()

    def shutdown(self) -> None:
        self._player.stop()

    def _update_availability(self) -> None:
        problem = devices.devices_message("output")
        self._device_picker.setEnabled(not problem)
        self._play_button.setEnabled(not problem and self._samples is not None)
        if problem:
            self._show_message(problem, error=True, log=False)  # devices_message logs it once
        elif self._device_picker.missing_saved_device:
            self._show_message(f"The output device {self._device_picker.missing_saved_device!r} used last time "
                               "is not connected; the default output is selected.")

    def _on_position(self, position_s: float) -> None:
        self._position_label.setText(f"{position_s:.2f} / {self.duration_s:.2f} s")
        self.position_changed.emit(position_s)

    def _on_finished(self, message: str) -> None:
        self._play_button.setText("Play")
        if message:
            self._show_message(message, error=True)
        self.playback_finished.emit(message)

    def _show_message(self, text: str, error: bool = False, log: bool = True) -> None:
        self._message_label.setText(text)
        self._message_label.setStyleSheet("color: #d33;" if error else "")
        if text and error and log:
            logger.warning("%s", text)
