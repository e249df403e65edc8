"""Typed access to the persisted user settings (a thin wrapper over QSettings)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QSettings

from engine.core.paths import config_dir

logger = logging.getLogger(__name__)

SETTINGS_FILE_NAME = "gan-studio.ini"
ORGANIZATION_NAME = "GAN Studio"
APPLICATION_NAME = "GAN Studio"

# Keys used by the shell; tabs use their own "<tab>/<name>" keys.
KEY_WINDOW_GEOMETRY = "window/geometry"
KEY_WINDOW_STATE = "window/state"
KEY_LAST_TAB = "window/last_tab"


class Settings:
    """QSettings with getters that return the expected type or the default.

    QSettings returns strings for numbers and booleans with the INI format and on some platforms,
    so every getter converts, and falls back to the default (with a log line) when a stored value
    cannot be converted.
    """

    def __init__(self, qsettings: QSettings | None = None) -> None:
        if qsettings is None:
            # An INI file in the user config folder, so GAN_STUDIO_HOME moves the settings with the
            # logs and data (portable installs, tests) instead of leaving them in the registry.
            qsettings = QSettings(str(config_dir() / SETTINGS_FILE_NAME), QSettings.Format.IniFormat)
        self._qsettings = qsettings

    @property
    def qsettings(self) -> QSettings:
        return self._qsettings

    def file_name(self) -> str:
        return self._qsettings.fileName()

    def contains(self, key: str) -> bool:
        return self._qsettings.contains(key)

    def set(self, key: str, value: object) -> None:
        self._qsettings.setValue(key, value)

    def remove(self, key: str) -> None:
        self._qsettings.remove(key)

    def sync(self) -> None:
        self._qsettings.sync()

    def get_str(self, key: str, default: str = "") -> str:
        value = self._qsettings.value(key, default)
        return default if value is None else str(value)

    def get_int(self, key: str, default: int = 0) -> int:
        value = self._qsettings.value(key, default)
        try:
            return int(value)
        except (TypeError, ValueError):
            logger.warning("Setting %s=%r is not an integer; using %d", key, value, default)
            return default

    def get_float(self, key: str, default: float = 0.0) -> float:
        value = self._qsettings.value(key, default)
        try:
            return float(value)
        except (TypeError, ValueError):
            logger.warning("Setting %s=%r is not a number; using %g", key, value, default)
            return default

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self._qsettings.value(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no"):
            return False
        if isinstance(value, int):
            return bool(value)
        logger.warning("Setting %s=%r is not a boolean; using %s", key, value, default)
        return default

    def get_bytes(self, key: str) -> QByteArray | None:
        """Return a stored QByteArray (window geometry, splitter state) or None when absent."""
        value = self._qsettings.value(key)
        if isinstance(value, QByteArray) and not value.isEmpty():
            return value
        if isinstance(value, (bytes, bytearray)) and value:
            return QByteArray(bytes(value))
        return None
