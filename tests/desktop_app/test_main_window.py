"""Main window, error reporting, logging, settings and the gan-studio entry point."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QSettings, qWarning
from PySide6.QtWidgets import QLabel, QVBoxLayout

from engine.core.jobs import CancelToken, EventSink, JobError, Started

import desktop_app.tabs as tabs_module
from desktop_app.compat import signal_emit_leaks_references
from desktop_app.errors import ErrorReporter
from desktop_app.logging_setup import configure_logging, remove_app_handlers
from desktop_app.tabs.base import Tab
from desktop_app.tabs.playground import PlaygroundTab
from desktop_app.worker import running_threads

REPO_ROOT = Path(__file__).resolve().parents[2]


class NotesTab(Tab):
    """A second, trivial tab for the settings test."""

    TITLE = "Notes"

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        QVBoxLayout(self).addWidget(QLabel("notes"))


class RaisingJob:
    name = "raising"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, 1))
        raise self.error


def test_pyside_keeps_references_on_emit() -> None:
    assert not signal_emit_leaks_references(), (
        "This PySide6 release drops a reference to True on every Signal.emit and crashes the app after a few "
        "thousand signals; install PySide6-Essentials 6.11.3 (6.12.0 is affected).")


def test_window_shows_playground_and_compute(make_window) -> None:
    window = make_window()

    assert window.tabs.tabText(0) == "GAN Playground"
    assert isinstance(window.tabs.widget(0), PlaygroundTab)
    compute = window.context.compute
    assert window.compute_label.text() == compute.describe()
    assert compute.device.type in window.compute_label.text()
    assert compute.precision in window.compute_label.text()
    assert compute.reason in window.compute_label.toolTip()
    assert window.compute_label.isVisible()


def test_registered_tabs_all_import() -> None:
    classes, failures = tabs_module.load_tab_classes()

    assert failures == [], f"tabs that failed to import: {failures}"
    assert PlaygroundTab in classes
    assert all(tab_class.TITLE for tab_class in classes), "every tab needs a TITLE"


def test_broken_tab_is_reported_and_skipped(qtbot, make_window, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabs_module, "TAB_CLASS_PATHS",
                        ["desktop_app.tabs.playground:PlaygroundTab", "desktop_app.tabs.no_such_tab:NoSuchTab"])
    window = make_window(tab_classes=None)

    qtbot.waitUntil(lambda: window.reporter.dialog is not None and window.reporter.dialog.isVisible())
    assert "desktop_app.tabs.no_such_tab" in window.reporter.dialog.text()
    assert [window.tabs.tabText(index) for index in range(window.tabs.count())] == ["GAN Playground"]


def test_failed_job_shows_error_and_next_job_runs(qtbot, make_window, job_recorder, tmp_path: Path) -> None:
    log_file = tmp_path / "gan-studio.log"
    window = make_window(reporter=ErrorReporter(log_file))
    worker = window.context.worker
    jobs = job_recorder(worker)

    failing_id = worker.submit(RaisingJob(JobError("The corpus folder is empty; choose another folder.")))
    assert jobs.wait(failing_id)[0] == "failed"
    qtbot.waitUntil(lambda: window.reporter.dialog is not None and window.reporter.dialog.isVisible())
    dialog = window.reporter.dialog
    assert dialog.text() == "The corpus folder is empty; choose another folder."
    assert str(log_file) in dialog.informativeText()
    assert "corpus folder is empty" in window.statusBar().currentMessage()

    crashing_id = worker.submit(RaisingJob(RuntimeError("boom")))
    assert jobs.wait(crashing_id)[0] == "failed"
    qtbot.waitUntil(lambda: "1 more error happened" in dialog.informativeText())
    assert "RuntimeError: boom" in dialog.informativeText()
    assert len([widget for widget in window.findChildren(type(dialog)) if widget.isVisible()]) == 1, (
        "a second error must update the open dialog, not open another")

    tab = window.tabs.widget(0)
    tab.steps_spin.setValue(5)
    kind, summary, cancelled = jobs.wait(tab.run_training())
    assert (kind, summary["step"], cancelled) == ("finished", 5, False)


def test_uncaught_exceptions_reach_one_dialog(qtbot, tmp_path: Path) -> None:
    log_file = tmp_path / "gan-studio.log"
    reporter = ErrorReporter(log_file)
    reporter.install()
    try:
        assert sys.excepthook == reporter.handle_exception
        crasher = threading.Thread(target=lambda: 1 / 0, name="crasher")
        crasher.start()
        crasher.join()
        try:
            raise ValueError("bad value from a slot")
        except ValueError:
            reporter.handle_exception(*sys.exc_info())
    finally:
        reporter.uninstall()

    qtbot.waitUntil(lambda: len(reporter.reported) == 2)
    assert reporter.reported[0].startswith("ZeroDivisionError in thread crasher")
    assert reporter.reported[1] == "ValueError: bad value from a slot"
    assert reporter.dialog is not None and reporter.dialog.isVisible()
    assert str(log_file) in reporter.dialog.informativeText()
    reporter.dialog.close()


def test_logging_writes_file_and_qt_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAN_STUDIO_HOME", str(tmp_path))
    path = configure_logging(console=False)
    try:
        logging.getLogger("desktop_app.test").warning("model file %s not found", "g.safetensors")
        qWarning("a warning from Qt")
        for _ in range(100):
            logging.getLogger("desktop_app.test").warning("repeated warning in a hot loop")
    finally:
        remove_app_handlers()

    text = path.read_text(encoding="utf-8")
    assert path.parent == tmp_path / "logs"
    assert "model file g.safetensors not found" in text
    assert "qt: a warning from Qt" in text
    repeats = text.count("repeated warning in a hot loop")
    assert repeats <= 21, f"the repeat limiter let {repeats} identical lines through"


def test_settings_persist_geometry_tab_and_controls(make_window, qsettings: QSettings) -> None:
    window = make_window(tab_classes=(PlaygroundTab, NotesTab))
    window.resize(700, 500)  # inside the offscreen screen (800 x 600), which restoreGeometry clamps to
    window.tabs.setCurrentIndex(1)
    playground = window.tabs.widget(0)
    playground.loss_combo.setCurrentIndex(playground.loss_combo.findData("hinge"))
    playground.steps_spin.setValue(777)
    size_at_close = (window.width(), window.height())
    window.close()

    reopened = make_window(tab_classes=(PlaygroundTab, NotesTab),
                           settings_source=QSettings(qsettings.fileName(), QSettings.Format.IniFormat))
    assert size_at_close == (700, 500)
    assert (reopened.width(), reopened.height()) == size_at_close
    assert reopened.tabs.tabText(reopened.tabs.currentIndex()) == "Notes"
    assert reopened.tabs.widget(0).loss_combo.currentData() == "hinge"
    assert reopened.tabs.widget(0).steps_spin.value() == 777


def test_quit_during_job_asks_then_cancels_and_waits(qtbot, make_window, job_recorder) -> None:
    window = make_window()
    worker = window.context.worker
    jobs = job_recorder(worker)
    tab = window.tabs.widget(0)
    tab.steps_spin.setValue(1_000_000)
    job_id = tab.run_training()
    qtbot.waitUntil(lambda: tab.last_snapshot is not None and tab.last_snapshot["step"] > 0, timeout=30_000)

    questions: list[bool] = []
    window.confirm_quit = lambda: questions.append(False) or False
    window.close()
    assert questions == [False]
    assert window.isVisible(), "declining must keep the window open"
    assert worker.is_busy(), "declining must keep the job running"

    window.confirm_quit = lambda: True
    window.close()
    assert not window.isVisible()
    assert running_threads() == [], "quitting must wait for the worker thread"
    kind, summary, cancelled = jobs.wait(job_id)
    assert (kind, cancelled) == ("finished", True)
    assert summary["step"] < 1_000_000


def test_entry_point_takes_screenshot(tmp_path: Path) -> None:
    screenshot = tmp_path / "playground.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GAN_STUDIO_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-c", "import sys; from desktop_app.app import main; sys.exit(main(sys.argv[1:]))",
               "--tab", "GAN Playground", "--autorun", "--screenshot", str(screenshot), "--quit-after", "2500",
               "--device", "cpu"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    with Image.open(screenshot) as image:
        assert image.width >= 600, f"screenshot is {image.size}"
        assert image.height >= 400, f"screenshot is {image.size}"
        assert len(image.convert("RGB").getcolors(1 << 20) or ()) > 50, "the screenshot looks blank"
    log_text = (tmp_path / "home" / "logs" / "gan-studio.log").read_text(encoding="utf-8")
    assert "GAN Studio starting on cpu" in log_text
    assert "Saved a screenshot" in log_text


def test_entry_point_rejects_unknown_tab(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GAN_STUDIO_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-c", "import sys; from desktop_app.app import main; sys.exit(main(sys.argv[1:]))",
               "--tab", "Playground", "--device", "cpu"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 2, result.stderr[-3000:]
    assert "'Playground' matches no tab" in result.stderr
    assert "'GAN Playground'" in result.stderr, "the error must list the valid tab titles"
