"""A combo box of input or output devices that remembers the choice in the settings."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from desktop_app.audio import devices
from desktop_app.settings import Settings

logger = logging.getLogger(__name__)


class DevicePicker(QComboBox):
    """Lists "Default" plus every device of one kind; the chosen name is stored under ``settings_key``.

    ``current_device()`` returns the device name, or None for the system default. Devices are
    stored by name because PortAudio indexes change when devices come and go.
    """

    device_changed = Signal(object)  # device name, or None for the default device

    def __init__(self, kind: str, settings: Settings, settings_key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if kind not in ("input", "output"):
            raise ValueError(f"kind must be 'input' or 'output', got {kind!r}")
        self._kind = kind
        self._settings = settings
        self._settings_key = settings_key
        self.missing_saved_device = ""  # a remembered device that is no longer listed
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.reload()
        self.currentIndexChanged.connect(self._on_index_changed)

    def reload(self) -> None:
        """Fill the list from PortAudio and select the remembered device when it is still there."""
        self.blockSignals(True)
        self.clear()
        found = devices.list_input_devices() if self._kind == "input" else devices.list_output_devices()
        default = devices.default_device(self._kind)
        if found:
            label = f"Default {self._kind}" + (f" ({default.name})" if default else "")
            self.addItem(label, "")
            for device in found:
                self.addItem(f"{device.name} [{device.hostapi}]", device.name)

        saved = self._settings.get_str(self._settings_key, "")
        index = self.findData(saved) if saved else 0
        self.missing_saved_device = saved if saved and index < 0 else ""
        if self.missing_saved_device:
            logger.info("Remembered %s device %r is not connected; using the default", self._kind, saved)
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)

    def current_device(self) -> str | None:
        name = self.currentData()
        return name or None

    def select_device(self, name: str | None) -> None:
        """Select ``name`` (None = default) and remember it.

        Raises:
            ValueError: when no listed device has that name.
        """
        index = self.findData(name or "")
        if index < 0:
            raise ValueError(f"{self._kind.capitalize()} device {name!r} is not in the list.")
        self.setCurrentIndex(index)

    def _on_index_changed(self, index: int) -> None:
        if index < 0:
            return
        name = self.currentData() or ""
        self._settings.set(self._settings_key, name)
        self.device_changed.emit(name or None)
