"""Application logging: a rotating log file, the console, Qt's own messages and Python warnings."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from pathlib import Path

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

from engine.core.paths import log_dir

logger = logging.getLogger(__name__)
qt_logger = logging.getLogger("qt")

LOG_FILE_NAME = "gan-studio.log"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
MAX_LOG_BYTES = 2_000_000
LOG_BACKUP_COUNT = 3  # keeps about 8 MB of history in total

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


class RepeatLimiter(logging.Filter):
    """Drop a message template after ``burst`` repeats within ``window_s`` seconds.

    Hot loops (a warning per training step, a Qt warning per paint) would otherwise fill the log.
    The first record let through after a suppressed stretch states how many were dropped.
    """

    def __init__(self, burst: int = 20, window_s: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self._windows: dict[tuple[str, int, str], list[float]] = {}  # key -> [window start, count, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        window = self._windows.get(key)
        if window is None or now - window[0] > self.window_s:
            dropped = int(window[2]) if window is not None else 0
            self._windows[key] = [now, 1, 0]
            if len(self._windows) > 1000:  # bounded memory: forget the oldest templates
                for old_key in list(self._windows)[:500]:
                    del self._windows[old_key]
            if dropped:
                record.msg = f"{record.msg} [{dropped} similar messages were suppressed]"
            return True
        window[1] += 1
        if window[1] <= self.burst:
            return True
        window[2] += 1
        return False


def _handle_qt_message(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    category = context.category if context is not None and context.category not in (None, "default") else ""
    qt_logger.log(_QT_LEVELS.get(mode, logging.WARNING), "%s%s", f"[{category}] " if category else "", message)


def remove_app_handlers() -> None:
    """Remove the handlers configure_logging installed and give Qt back its default message handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_gan_studio", False):
            root.removeHandler(handler)
            handler.close()
    qInstallMessageHandler(None)


def configure_logging(level: int = logging.INFO, console: bool = True) -> Path:
    """Send log records to a rotating file in the user log folder and to stderr; route Qt messages.

    Calling it again replaces the handlers it installed before, so it is safe in tests.

    Returns:
        The path of the log file, for error dialogs that point to it.
    """
    path = log_dir() / LOG_FILE_NAME
    remove_app_handlers()
    root = logging.getLogger()

    formatter = logging.Formatter(LOG_FORMAT)
    limiter = RepeatLimiter()
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUP_COUNT,
                                             encoding="utf-8"),
    ]
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler._gan_studio = True  # type: ignore[attr-defined]  # marks handlers this function owns
        handler.setFormatter(formatter)
        handler.addFilter(limiter)
        root.addHandler(handler)
    root.setLevel(level)

    logging.captureWarnings(True)
    qInstallMessageHandler(_handle_qt_message)
    logger.info("Logging to %s", path)
    return path
