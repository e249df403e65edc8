"""Fixtures for the desktop tests: a leaked-thread check, isolated settings and a main window."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QThread

LEAK_GRACE_MS = 2000  # a thread asked to stop may need a moment to return from its last step


@pytest.fixture(autouse=True)
def garbage_collected_on_gui_thread() -> Iterator[None]:
    """Turn automatic garbage collection off during the test and collect on the GUI thread after it.

    Automatic collection runs in whichever thread allocates, usually an engine worker. A widget left
    in a reference cycle by an earlier test and collected there has its C++ destructor run off the
    GUI thread, which crashes Qt. The app avoids this with MainThreadGarbageCollector.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    gc.collect()
    if was_enabled:
        gc.enable()


@pytest.fixture(autouse=True)
def fail_on_leaked_qthreads(garbage_collected_on_gui_thread: None, monkeypatch: pytest.MonkeyPatch,
                            request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test when a QThread it started is still running after the test and its widgets closed."""
    started: list[weakref.ReferenceType[QThread]] = []
    original_start = QThread.start

    def tracking_start(self: QThread, *args: object) -> None:
        started.append(weakref.ref(self))
        original_start(self, *args)

    monkeypatch.setattr(QThread, "start", tracking_start)
    yield

    running = [thread for ref in started if (thread := ref()) is not None and thread.isRunning()]
    leaked = [thread for thread in running if not thread.wait(LEAK_GRACE_MS)]
    if leaked:
        names = ", ".join(thread.objectName() or type(thread).__name__ for thread in leaked)
        for thread in leaked:
            thread.requestInterruption()
            thread.quit()
        pytest.fail(f"{request.node.nodeid} left QThreads running: {names}. Shut down every worker the test starts.")


@pytest.fixture()
def qsettings(tmp_path: Path) -> QSettings:
    """Settings in a temporary INI file, so tests never read or write the user's settings."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture()
def make_window(qtbot, qsettings: QSettings):
    """Return a factory for main windows with the given tab classes (default: the playground; None: all).

    Windows are shown, never ask before quitting, and are closed after the test (which shuts their
    workers down). The fixture keeps them referenced until then: a window collected without being
    closed would destroy its worker's running thread.
    """
    from desktop_app.app import create_main_window
    from desktop_app.tabs.playground import PlaygroundTab

    windows = []

    def make(tab_classes=(PlaygroundTab,), settings_source: QSettings | None = None, reporter=None):
        window = create_main_window(qsettings=settings_source or qsettings, reporter=reporter,
                                    tab_classes=None if tab_classes is None else list(tab_classes))
        window.confirm_quit = lambda: True
        windows.append(window)
        window.show()
        return window

    yield make
    for window in windows:
        window.close()
        window.deleteLater()
    # Delete the windows now, on this thread, instead of whenever a garbage collection finds them.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


class JobRecorder:
    """Records how every job of a worker ends, from the moment it is created.

    ``wait(job_id)`` returns ("finished", summary, cancelled) or ("failed", message, detail).
    """

    def __init__(self, qtbot, worker) -> None:
        self._qtbot = qtbot
        self.outcomes: dict[int, tuple] = {}
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)

    def _on_finished(self, job_id: int, summary: dict, cancelled: bool) -> None:
        self.outcomes[job_id] = ("finished", summary, cancelled)

    def _on_failed(self, job_id: int, message: str, detail: str) -> None:
        self.outcomes[job_id] = ("failed", message, detail)

    def wait(self, job_id: int, timeout_ms: int = 30_000) -> tuple:
        self._qtbot.waitUntil(lambda: job_id in self.outcomes, timeout=timeout_ms)
        return self.outcomes[job_id]


@pytest.fixture()
def job_recorder(qtbot):
    """Return a factory: ``job_recorder(worker)`` -> a JobRecorder connected to that worker."""
    return lambda worker: JobRecorder(qtbot, worker)
