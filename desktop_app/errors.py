"""One place that shows errors to the user: uncaught exceptions from any thread and failed jobs."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

logger = logging.getLogger(__name__)

MAX_LISTED_LATER_ERRORS = 5  # later errors listed in the open dialog; the log has all of them


class ErrorReporter(QObject):
    """Logs errors and shows them in a single non-blocking dialog that points to the log file.

    ``report`` may be called from any thread; the dialog is always built on the GUI thread. While
    the dialog is open, later errors update it (with a count) instead of opening more dialogs.
    """

    _report_requested = Signal(str, str, str)  # title, message, detail

    def __init__(self, log_file: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.dialog: QMessageBox | None = None
        self.reported: list[str] = []  # every message reported, oldest first
        self._later_messages: list[str] = []  # errors reported while the dialog was open
        self._previous_hooks: tuple[Any, Any] | None = None
        self._report_requested.connect(self._show, Qt.ConnectionType.QueuedConnection)

    # --------------------------------------------------------------------------- hooks

    def install(self) -> None:
        """Route uncaught exceptions of the main thread and of Python threads to this reporter."""
        if self._previous_hooks is None:
            self._previous_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.handle_exception
        threading.excepthook = self._handle_thread_exception

    def uninstall(self) -> None:
        if self._previous_hooks is not None:
            sys.excepthook, threading.excepthook = self._previous_hooks
            self._previous_hooks = None

    def handle_exception(self, exc_type: type[BaseException], exc: BaseException,
                         tb: TracebackType | None) -> None:
        """``sys.excepthook``: log the traceback and tell the user; Ctrl+C still quits."""
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        logger.critical("Uncaught exception", exc_info=(exc_type, exc, tb))
        detail = "".join(traceback.format_exception(exc_type, exc, tb))
        self.report("Unexpected error", f"{exc_type.__name__}: {exc}", detail)

    def _handle_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "unknown"
        logger.critical("Uncaught exception in thread %s", name,
                        exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        detail = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        self.report("Unexpected error", f"{args.exc_type.__name__} in thread {name}: {args.exc_value}", detail)

    # ------------------------------------------------------------------------- reporting

    def report(self, title: str, message: str, detail: str = "") -> None:
        """Show ``message`` to the user; safe to call from any thread (the dialog opens on the GUI thread)."""
        self._report_requested.emit(title, message, detail)

    @Slot(str, str, str)
    def _show(self, title: str, message: str, detail: str) -> None:
        self.reported.append(message)
        if QApplication.instance() is None:
            return
        if self.dialog is not None and self.dialog.isVisible():
            self._later_messages.append(message)
            self.dialog.setInformativeText(self._informative_text())
            return

        self._later_messages = []
        if self.dialog is not None:
            self.dialog.deleteLater()  # the closed dialog of an earlier error
        self.dialog = self._build_dialog(title, message, detail)
        # open() shows the dialog window-modal without a nested event loop, so nothing else waits on it.
        self.dialog.open()

    def _build_dialog(self, title: str, message: str, detail: str) -> QMessageBox:
        parent = QApplication.activeWindow()
        if parent is None:
            top_levels = [widget for widget in QApplication.topLevelWidgets()
                          if widget.isVisible() and not isinstance(widget, QMessageBox)]
            parent = top_levels[0] if top_levels else None
        dialog = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Close,
                             parent if isinstance(parent, QWidget) else None)
        dialog.setObjectName("errorDialog")
        dialog.setInformativeText(self._informative_text())
        if detail:
            dialog.setDetailedText(detail)
        if self.log_file is not None:
            open_button = dialog.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
            open_button.clicked.connect(self.open_log_folder)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        return dialog

    def _informative_text(self) -> str:
        lines = []
        if self._later_messages:
            shown = self._later_messages[-MAX_LISTED_LATER_ERRORS:]
            hidden = len(self._later_messages) - len(shown)
            listed = "\n".join(f"• {message}" for message in shown)
            count = len(self._later_messages)
            noun = "error" if count == 1 else "errors"
            suffix = f" (the last {len(shown)} are listed)" if hidden else ""
            lines.append(f"{count} more {noun} happened since this one{suffix}:\n{listed}")
        if self.log_file is not None:
            lines.append(f"Details are in the log file:\n{self.log_file}")
        return "\n\n".join(lines)

    @Slot()
    def open_log_folder(self) -> None:
        if self.log_file is None:
            return
        folder = self.log_file.parent
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            logger.warning("Could not open the log folder %s with the desktop's file manager", folder)
