"""The engine worker: one background thread that runs engine jobs in order and reports them as Qt signals."""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import weakref
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, SignalInstance, Slot

from engine.core.jobs import (
    CancelToken,
    CheckpointSaved,
    Event,
    Failed,
    Finished,
    Job,
    JobError,
    Metrics,
    Progress,
    Sample,
    Started,
    run_job,
)

logger = logging.getLogger(__name__)

_live_threads: "weakref.WeakSet[_WorkerThread]" = weakref.WeakSet()


def running_threads() -> list[QThread]:
    """Return the worker threads that are still running (tests use it to catch leaked threads)."""
    return [thread for thread in list(_live_threads) if thread.isRunning()]


class _WorkerThread(QThread):
    """A QThread whose body is the worker's serving loop; it runs no Qt event loop."""

    def __init__(self, serve: Callable[[], None]) -> None:
        super().__init__()
        self._serve: Callable[[], None] | None = serve
        _live_threads.add(self)

    def run(self) -> None:
        try:
            self._serve()
        finally:
            self._serve = None  # breaks the worker <-> thread reference cycle once the loop ends


class _QueuedJob:
    __slots__ = ("job_id", "job", "token", "shows_input_errors")

    def __init__(self, job_id: int, job: Job, shows_input_errors: bool = False) -> None:
        self.job_id = job_id
        self.job = job
        self.token = CancelToken()
        self.shows_input_errors = shows_input_errors


class _JobErrorProbe:
    """Runs a job unchanged and calls ``on_job_error`` when it raises a JobError (a user-facing failure)."""

    def __init__(self, job: Job, on_job_error: Callable[[], None]) -> None:
        self.job = job
        self.name = job.name
        self._on_job_error = on_job_error

    def run(self, sink: Any, cancel: CancelToken) -> None:
        try:
            self.job.run(sink, cancel)
        except JobError:
            self._on_job_error()
            raise


_STOP = object()


class EngineWorker(QObject):
    """Runs engine jobs one at a time, first in first out, on a private QThread.

    The worker object itself lives in the GUI thread and its thread only runs jobs, so every public
    method may be called from the GUI thread at any time. Each engine event becomes a signal that
    carries the job id and plain Python or NumPy values. Signals are emitted from the worker thread
    and reach GUI slots through queued connections, except Sample and Progress events: those are
    coalesced, so when the GUI falls behind it receives only the newest one of each kind.

    A job that raises becomes a ``job_failed`` signal (through ``engine.core.jobs.run_job``) and the
    worker goes on with the next job.
    """

    job_queued = Signal(int, str)  # job id, job name
    job_started = Signal(int, str, object)  # job id, job name, total steps (int, or None when unknown)
    job_progress = Signal(int, int, object, object, object)  # job id, step, total steps, eta_s, steps_per_s
    job_metrics = Signal(int, int, object)  # job id, step, dict[str, float] with namespaced keys
    job_sample = Signal(int, int, str, object)  # job id, step, sample kind, sample data (a dict)
    checkpoint_saved = Signal(int, int, str)  # job id, step, path of the checkpoint
    job_finished = Signal(int, object, bool)  # job id, summary dict, cancelled
    job_failed = Signal(int, str, str)  # job id, message for the user, detail for the log
    busy_changed = Signal(bool)  # True when a job starts on an idle worker, False when the queue drains
    pause_changed = Signal(bool)  # True when the running job is paused

    _coalesced_pending = Signal()  # internal: worker thread -> GUI thread, "newest events are waiting"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._condition = threading.Condition()
        self._queue: collections.deque[Any] = collections.deque()
        self._current: _QueuedJob | None = None
        self._stopping = False
        self._busy = False  # what busy_changed last reported
        # Jobs whose JobError the submitting tab shows itself, so the window shows no dialog for it.
        self._failures_shown_by_tab: set[int] = set()

        # Newest Sample/Progress per key, delivered by one queued call at a time.
        self._coalesced: dict[tuple[Any, ...], tuple[SignalInstance, tuple[Any, ...]]] = {}
        self._delivery_scheduled = False
        self._coalesced_pending.connect(self._deliver_coalesced, Qt.ConnectionType.QueuedConnection)

        application = QCoreApplication.instance()
        if application is not None:
            # A last resort for owners that never call shutdown(): a running QThread must not be destroyed.
            application.aboutToQuit.connect(self.shutdown)

        self._thread = _WorkerThread(self._serve)
        self._thread.setObjectName("engine-worker")
        self._thread.start()

    # ------------------------------------------------------------------------------ public API

    def submit(self, job: Job, shows_input_errors: bool = False) -> int:
        """Queue ``job`` behind any running or queued job and return its id.

        With ``shows_input_errors`` the caller promises to show the job's JobError message (bad input,
        e.g. an unknown tag) next to the input, so ``failure_shown_by_tab`` is True for it and the
        window shows no error dialog. Crashes (any other exception) still reach the dialog.

        Raises:
            RuntimeError: after ``shutdown()``.
        """
        job_id = next(self._ids)
        with self._condition:
            if self._stopping:
                raise RuntimeError(f"Cannot submit job {job.name!r}: the engine worker has been shut down.")
            self._queue.append(_QueuedJob(job_id, job, shows_input_errors))
            self._condition.notify()
        logger.info("Queued job %d (%s)", job_id, job.name)
        self.job_queued.emit(job_id, job.name)
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel the running job, or the job with ``job_id`` whether it runs or still waits.

        A waiting job is dropped and reported as finished with ``cancelled=True``; a running job
        stops at its next cancel check and then reports itself.
        """
        dropped: _QueuedJob | None = None
        with self._condition:
            current = self._current
            if job_id is None or (current is not None and current.job_id == job_id):
                if current is not None:
                    current.token.cancel()
                    logger.info("Cancel requested for job %d (%s)", current.job_id, current.job.name)
            else:
                for queued in self._queue:
                    if queued is not _STOP and queued.job_id == job_id:
                        dropped = queued
                        break
                if dropped is not None:
                    self._queue.remove(dropped)
        if dropped is not None:
            logger.info("Dropped queued job %d (%s)", dropped.job_id, dropped.job.name)
            self.job_finished.emit(dropped.job_id, {}, True)

    def cancel_all(self) -> None:
        """Drop every waiting job and cancel the running one."""
        with self._condition:
            dropped = [queued for queued in self._queue if queued is not _STOP]
            self._queue = collections.deque(item for item in self._queue if item is _STOP)
            if self._current is not None:
                self._current.token.cancel()
        for queued in dropped:
            self.job_finished.emit(queued.job_id, {}, True)

    def pause(self) -> None:
        """Pause the running job at its next pause check; a no-op when idle."""
        with self._condition:
            current = self._current
        if current is not None and not current.token.paused:
            current.token.pause()
            self.pause_changed.emit(True)

    def resume(self) -> None:
        with self._condition:
            current = self._current
        if current is not None and current.token.paused:
            current.token.resume()
            self.pause_changed.emit(False)

    def is_paused(self) -> bool:
        with self._condition:
            return self._current is not None and self._current.token.paused

    def is_busy(self) -> bool:
        """Return True while a job runs or waits."""
        with self._condition:
            return self._current is not None or any(item is not _STOP for item in self._queue)

    def failure_shown_by_tab(self, job_id: int) -> bool:
        """True when job ``job_id`` failed with a JobError that its tab shows (see ``submit``)."""
        with self._condition:
            return job_id in self._failures_shown_by_tab

    def queued_count(self) -> int:
        """The number of jobs waiting behind the running one."""
        with self._condition:
            return sum(1 for item in self._queue if item is not _STOP)

    def current_job_name(self) -> str | None:
        """The name of the running job, or None when none runs."""
        with self._condition:
            return None if self._current is None else self._current.job.name

    def current_job_id(self) -> int | None:
        with self._condition:
            return None if self._current is None else self._current.job_id

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel all jobs, stop the thread and wait up to ``timeout_ms`` for it.

        Returns:
            True when the thread stopped in time. False means a job ignored its cancel token; the
            thread is left running and the caller should warn the user.
        """
        with self._condition:
            already_stopping = self._stopping
            self._stopping = True
        if already_stopping and self._thread.isFinished():
            return True
        if not already_stopping:
            self.cancel_all()
            with self._condition:
                self._queue.append(_STOP)
                self._condition.notify()
        stopped = self._thread.wait(timeout_ms)
        if stopped:
            logger.info("Engine worker stopped")
        else:
            logger.error("Engine worker did not stop within %d ms; a job is not checking its cancel token", timeout_ms)
        return stopped

    # ------------------------------------------------------------------------- worker thread

    def _serve(self) -> None:
        threading.current_thread().name = "engine-worker"  # shown in log lines instead of "Dummy-1"
        while True:
            with self._condition:
                while not self._queue:
                    self._condition.wait()
                item = self._queue.popleft()
                if item is _STOP:
                    return
                self._current = item
                became_busy = not self._busy
                self._busy = True
            if became_busy:
                self.busy_changed.emit(True)

            self._run_one(item)

            with self._condition:
                self._current = None
                drained = not any(queued is not _STOP for queued in self._queue)
                if drained:
                    self._busy = False
            if drained:
                self.busy_changed.emit(False)

    def _run_one(self, item: _QueuedJob) -> None:
        state = {"started": False}

        def sink(event: Event) -> None:
            self._forward(item, event, state)

        def remember_job_error() -> None:
            if item.shows_input_errors:
                with self._condition:
                    self._failures_shown_by_tab.add(item.job_id)

        logger.info("Starting job %d (%s)", item.job_id, item.job.name)
        try:
            final = run_job(_JobErrorProbe(item.job, remember_job_error), sink, item.token)
        except Exception as error:  # noqa: BLE001 - a bug in forwarding must not kill the worker thread
            logger.exception("Engine worker failed while reporting job %d (%s)", item.job_id, item.job.name)
            self.job_failed.emit(item.job_id, f"{item.job.name} failed: {error}. See the log for details.", "")
            return
        if isinstance(final, Failed):
            logger.info("Job %d (%s) failed: %s", item.job_id, item.job.name, final.message)
        else:
            cancelled = isinstance(final, Finished) and final.cancelled
            logger.info("Job %d (%s) %s", item.job_id, item.job.name, "was cancelled" if cancelled else "finished")

    def _forward(self, item: _QueuedJob, event: Event, state: dict[str, bool]) -> None:
        job_id = item.job_id
        if not state["started"]:
            state["started"] = True
            total = event.total_steps if isinstance(event, Started) else None
            self.job_started.emit(job_id, item.job.name, total)
            if isinstance(event, Started):
                return
        if isinstance(event, Started):
            return  # a second Started adds nothing for the GUI
        if isinstance(event, Progress):
            self._post_coalesced((job_id, "progress"), self.job_progress,
                                 (job_id, event.step, event.total_steps, event.eta_s, event.steps_per_s))
        elif isinstance(event, Sample):
            self._post_coalesced((job_id, "sample", event.kind), self.job_sample,
                                 (job_id, event.step, event.kind, event.data))
        elif isinstance(event, Metrics):
            self.job_metrics.emit(job_id, event.step, dict(event.values))
        elif isinstance(event, CheckpointSaved):
            self.checkpoint_saved.emit(job_id, event.step, str(event.path))
        elif isinstance(event, Finished):
            self.job_finished.emit(job_id, dict(event.summary), bool(event.cancelled))
        elif isinstance(event, Failed):
            self.job_failed.emit(job_id, event.message, event.detail)
        else:
            logger.warning("Job %d sent an unknown event type %s; ignored", job_id, type(event).__name__)

    def _post_coalesced(self, key: tuple[Any, ...], signal: SignalInstance, args: tuple[Any, ...]) -> None:
        # Only the newest value per key waits, and a delivery is queued only when none is queued yet.
        # So the GUI event queue contains at most one pending delivery however fast the job reports.
        with self._condition:
            self._coalesced[key] = (signal, args)
            if self._delivery_scheduled:
                return
            self._delivery_scheduled = True
        self._coalesced_pending.emit()

    # ------------------------------------------------------------------------------ GUI thread

    @Slot()
    def _deliver_coalesced(self) -> None:
        with self._condition:
            pending = list(self._coalesced.values())
            self._coalesced.clear()
            self._delivery_scheduled = False
        for signal, args in pending:
            signal.emit(*args)
