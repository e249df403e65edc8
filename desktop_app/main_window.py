"""The main window: the registered tabs, the job bar, the status bar, menus and a safe quit."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from PySide6.QtCore import QUrl, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from engine.core.paths import log_dir

from desktop_app.context import AppContext
from desktop_app.errors import ErrorReporter
from desktop_app.settings import KEY_LAST_TAB, KEY_WINDOW_GEOMETRY, KEY_WINDOW_STATE
from desktop_app.tabs import load_tab_classes
from desktop_app.tabs.base import Tab
from desktop_app.widgets.job_bar import JobBar

logger = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 820)
SHUTDOWN_TIMEOUT_MS = 10_000  # how long quitting waits for a cancelled job to reach its next step


class MainWindow(QMainWindow):
    """GAN Studio's window. It owns no engine state: tabs submit jobs to ``context.worker``.

    Args:
        context: the worker, settings and compute shared with every tab.
        reporter: shows errors (failed jobs, tabs that cannot load) in one dialog.
        tab_classes: the tabs to show; None loads the registry in ``desktop_app.tabs``.
    """

    def __init__(self, context: AppContext, reporter: ErrorReporter,
                 tab_classes: Sequence[type[Tab]] | None = None) -> None:
        super().__init__()
        self.context = context
        self.reporter = reporter
        # Asked when the user quits while a job runs; tests replace it to avoid a modal dialog.
        self.confirm_quit: Callable[[], bool] = self._ask_quit_while_busy
        self.shutdown_timeout_ms = SHUTDOWN_TIMEOUT_MS
        self._shut_down = False

        self.setWindowTitle("GAN Studio")
        self.setObjectName("mainWindow")
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self._add_tabs(tab_classes)
        self.job_bar = JobBar(context.worker)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.job_bar)
        self.setCentralWidget(central)

        self.compute_label = QLabel(context.compute.describe())
        self.compute_label.setObjectName("computeLabel")
        self.compute_label.setToolTip(f"Jobs run on {context.compute.device} with {context.compute.precision} "
                                      f"precision because {context.compute.reason}.\n"
                                      "Override with gan-studio --device/--precision.")
        self.statusBar().addPermanentWidget(self.compute_label)

        self._build_menus()
        context.worker.job_failed.connect(self._on_job_failed)
        self._restore_state()

    # ---------------------------------------------------------------------------- building

    def _add_tabs(self, tab_classes: Sequence[type[Tab]] | None) -> None:
        if tab_classes is None:
            tab_classes, failures = load_tab_classes()
            for path, error in failures:
                self.reporter.report("A tab could not be loaded",
                                     f"The tab {path} failed to import: {error}. The other tabs still work.")
        for tab_class in tab_classes:
            try:
                tab = tab_class(self.context)
            except Exception as error:  # noqa: BLE001 - one broken tab must not stop the window
                logger.exception("Could not create tab %s", tab_class.__name__)
                self.reporter.report("A tab could not be opened",
                                     f"The tab {tab_class.TITLE!r} failed to open: {error}. The other tabs still work.")
                continue
            self.tabs.addTab(tab, tab_class.TITLE)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        help_menu = self.menuBar().addMenu("&Help")
        about_action = QAction("&About GAN Studio", self)
        about_action.triggered.connect(self._show_about)
        help_menu.addAction(about_action)
        log_action = QAction("Open &log folder", self)
        log_action.triggered.connect(self._open_log_folder)
        help_menu.addAction(log_action)

    def tab_widgets(self) -> list[Tab]:
        return [self.tabs.widget(index) for index in range(self.tabs.count())]

    def tab_by_title(self, title: str) -> Tab | None:
        for index in range(self.tabs.count()):
            if self.tabs.tabText(index) == title:
                return self.tabs.widget(index)
        return None

    # ------------------------------------------------------------------------------ state

    def _restore_state(self) -> None:
        settings = self.context.settings
        geometry = settings.get_bytes(KEY_WINDOW_GEOMETRY)
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        state = settings.get_bytes(KEY_WINDOW_STATE)
        if state is not None:
            self.restoreState(state)
        last_tab = settings.get_str(KEY_LAST_TAB)
        for index in range(self.tabs.count()):
            if self.tabs.tabText(index) == last_tab:
                self.tabs.setCurrentIndex(index)
                break

    def save_state(self) -> None:
        settings = self.context.settings
        settings.set(KEY_WINDOW_GEOMETRY, self.saveGeometry())
        settings.set(KEY_WINDOW_STATE, self.saveState())
        if self.tabs.count():
            settings.set(KEY_LAST_TAB, self.tabs.tabText(self.tabs.currentIndex()))
        settings.sync()

    # ----------------------------------------------------------------------------- events

    @Slot(int, str, str)
    def _on_job_failed(self, job_id: int, message: str, detail: str) -> None:
        if self.context.worker.failure_shown_by_tab(job_id):
            return  # bad input that the tab shows next to the control; a dialog would repeat it
        self.statusBar().showMessage(message, 15_000)
        self.reporter.report("Job failed", message, detail)

    def _ask_quit_while_busy(self) -> bool:
        answer = QMessageBox.question(
            self, "Quit GAN Studio",
            "A job is still running. Quit anyway? The job is cancelled after its current step.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self._shut_down:
            event.accept()
            return
        if self.context.worker.is_busy() and not self.confirm_quit():
            event.ignore()
            return

        self.save_state()
        for tab in self.tab_widgets():
            try:
                tab.shutdown()
            except Exception:  # noqa: BLE001 - one tab's failure must not block quitting
                logger.exception("Tab %s failed to shut down", type(tab).__name__)

        self.statusBar().showMessage("Stopping the engine worker…")
        if not self.context.worker.shutdown(self.shutdown_timeout_ms):
            logger.error("Quitting with the engine worker still running after %d ms", self.shutdown_timeout_ms)
        self._shut_down = True
        event.accept()

    @Slot()
    def _show_about(self) -> None:
        QMessageBox.about(
            self, "About GAN Studio",
            "<b>GAN Studio</b><br>Learn, teach and research generative adversarial networks "
            "for speech and language.<br><br>"
            f"Compute: {self.context.compute.describe()} ({self.context.compute.reason})<br>"
            f"Settings: {self.context.settings.file_name()}<br>Logs: {log_dir()}")

    @Slot()
    def _open_log_folder(self) -> None:
        folder = log_dir()
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.statusBar().showMessage(f"Could not open a file manager; the logs are in {folder}", 15_000)
