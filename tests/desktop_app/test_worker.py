"""EngineWorker: job order, failures, cancel, pause, sample coalescing and shutdown."""

from __future__ import annotations

import threading
import time

import pytest

from engine.core.jobs import CancelToken, EventSink, Finished, JobError, Metrics, ProgressClock, Sample, Started

from desktop_app.worker import EngineWorker


class CountingJob:
    """Runs ``steps`` steps of ``step_s`` seconds, checking cancel and pause before each step."""

    def __init__(self, name: str = "counting", steps: int = 5, step_s: float = 0.0) -> None:
        self.name = name
        self.steps = steps
        self.step_s = step_s
        self.steps_done = 0
        self.thread_name = ""

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        self.thread_name = threading.current_thread().name
        sink(Started(self.name, self.steps))
        clock = ProgressClock(self.steps)
        for step in range(1, self.steps + 1):
            cancel.wait_if_paused()
            if cancel.cancelled:
                sink(Finished({"steps_done": self.steps_done}, cancelled=True))
                return
            time.sleep(self.step_s)
            self.steps_done = step
            sink(Metrics(step, {"loss/test": 1.0 / step}))
            sink(clock.tick(step))
        sink(Finished({"steps_done": self.steps_done}))


class RaisingJob:
    name = "raising"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, 1))
        raise self.error


class SampleFloodJob:
    """Sends ``count`` samples as fast as it can, then waits until the test lets it finish."""

    name = "flood"

    def __init__(self, count: int) -> None:
        self.count = count
        self.sent_all = threading.Event()
        self.release = threading.Event()

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, self.count))
        for step in range(self.count):
            sink(Sample(step, "test", {"step": step}))
        self.sent_all.set()
        self.release.wait(10)
        sink(Finished({}))


@pytest.fixture()
def worker(qtbot):
    engine_worker = EngineWorker()
    yield engine_worker
    assert engine_worker.shutdown(5000), "the engine worker did not stop within 5 s"


def test_jobs_run_in_order_off_gui_thread(qtbot, worker: EngineWorker) -> None:
    first, second = CountingJob("first", 3), CountingJob("second", 2)
    events: list[tuple] = []
    worker.busy_changed.connect(lambda busy: events.append(("busy", busy)))
    worker.job_started.connect(lambda job_id, name, total: events.append(("started", job_id, name, total)))
    worker.job_finished.connect(lambda job_id, summary, cancelled: events.append(("finished", job_id, cancelled)))

    first_id = worker.submit(first)
    second_id = worker.submit(second)
    qtbot.waitUntil(lambda: ("busy", False) in events, timeout=10_000)

    assert events == [
        ("busy", True),
        ("started", first_id, "first", 3), ("finished", first_id, False),
        ("started", second_id, "second", 2), ("finished", second_id, False),
        ("busy", False),
    ]
    assert (first.steps_done, second.steps_done) == (3, 2)
    assert first.thread_name != threading.current_thread().name, "jobs must not run on the GUI thread"
    assert not worker.is_busy()


def test_failed_job_reports_and_worker_continues(qtbot, worker: EngineWorker, job_recorder) -> None:
    jobs = job_recorder(worker)
    failing_id = worker.submit(RaisingJob(JobError("The data folder is missing; choose another.")))
    crashing_id = worker.submit(RaisingJob(ZeroDivisionError("division by zero")))
    after = CountingJob("after", 2)
    after_id = worker.submit(after)

    kind, message, _ = jobs.wait(failing_id)
    assert (kind, message) == ("failed", "The data folder is missing; choose another.")
    kind, message, detail = jobs.wait(crashing_id)
    assert kind == "failed"
    assert "ZeroDivisionError" in message
    assert "log" in message
    assert "Traceback" in detail
    kind, summary, cancelled = jobs.wait(after_id)
    assert (kind, summary["steps_done"], cancelled) == ("finished", 2, False)


def test_cancel_stops_within_one_step(qtbot, worker: EngineWorker, job_recorder) -> None:
    jobs = job_recorder(worker)
    job = CountingJob("long", steps=10_000, step_s=0.005)
    job_id = worker.submit(job)
    qtbot.waitUntil(lambda: job.steps_done >= 3, timeout=10_000)

    worker.cancel()
    steps_at_cancel = job.steps_done
    kind, summary, cancelled = jobs.wait(job_id)

    assert (kind, cancelled) == ("finished", True)
    assert summary["steps_done"] - steps_at_cancel <= 1, (
        f"job ran {summary['steps_done'] - steps_at_cancel} steps after cancel")


def test_cancel_queued_job_never_runs(qtbot, worker: EngineWorker, job_recorder) -> None:
    jobs = job_recorder(worker)
    blocker = CountingJob("blocker", steps=10_000, step_s=0.005)
    blocker_id = worker.submit(blocker)
    queued = CountingJob("queued", 3)
    queued_id = worker.submit(queued)

    with qtbot.waitSignal(worker.job_finished, timeout=5000) as dropped:
        worker.cancel(queued_id)
    assert dropped.args == [queued_id, {}, True]
    worker.cancel(blocker_id)
    jobs.wait(blocker_id)
    assert queued.steps_done == 0


def test_pause_holds_job_until_resume(qtbot, worker: EngineWorker, job_recorder) -> None:
    jobs = job_recorder(worker)
    job = CountingJob("pausable", steps=60, step_s=0.005)
    job_id = worker.submit(job)
    qtbot.waitUntil(lambda: job.steps_done >= 2, timeout=10_000)

    with qtbot.waitSignal(worker.pause_changed, timeout=5000) as paused:
        worker.pause()
    assert paused.args == [True]
    assert worker.is_paused()
    steps_when_paused = job.steps_done
    qtbot.wait(400)
    steps_while_paused = job.steps_done - steps_when_paused
    assert steps_while_paused <= 1, f"a paused job took {steps_while_paused} steps; only the one in flight may end"

    worker.resume()
    kind, summary, cancelled = jobs.wait(job_id)
    assert (kind, summary["steps_done"], cancelled) == ("finished", 60, False)


def test_samples_coalesce_when_gui_is_behind(qtbot, worker: EngineWorker, job_recorder) -> None:
    jobs = job_recorder(worker)
    job = SampleFloodJob(count=500)
    received: list[int] = []
    worker.job_sample.connect(lambda job_id, step, kind, data: received.append(data["step"]))
    job_id = worker.submit(job)

    assert job.sent_all.wait(10), "the flood job did not send its samples"  # the GUI thread is blocked meanwhile
    job.release.set()
    jobs.wait(job_id)

    assert received, "no sample reached the GUI"
    assert received[-1] == 499, f"the newest sample must arrive; got step {received[-1]}"
    assert len(received) < 500, f"samples were not coalesced: {len(received)} of 500 delivered"


def test_shutdown_cancels_and_waits(qtbot) -> None:
    engine_worker = EngineWorker()
    job = CountingJob("endless", steps=1_000_000, step_s=0.005)
    engine_worker.submit(job)
    qtbot.waitUntil(lambda: job.steps_done >= 1, timeout=10_000)

    assert engine_worker.shutdown(5000)
    assert job.steps_done < 1_000_000
    with pytest.raises(RuntimeError, match="shut down"):
        engine_worker.submit(CountingJob())
