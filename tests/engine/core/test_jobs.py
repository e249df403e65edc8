"""The job protocol: event order, failures, cancellation, ETA and non-finite losses."""

from __future__ import annotations

import math

import pytest

from engine.core.jobs import (CancelToken, Failed, Finished, JobError, Metrics, NonFiniteLossError, Progress,
                              ProgressClock, Started, check_finite, run_job)


class CountingJob:
    name = "count"

    def __init__(self, steps: int, fail_at: int | None = None, crash: bool = False) -> None:
        self.steps, self.fail_at, self.crash = steps, fail_at, crash
        self.done = 0

    def run(self, sink, cancel):
        sink(Started(self.name, self.steps))
        clock = ProgressClock(self.steps)
        for step in range(1, self.steps + 1):
            if cancel.cancelled:
                sink(Finished(cancelled=True))
                return
            if step == self.fail_at:
                if self.crash:
                    raise RuntimeError("boom")
                raise JobError("The input file is empty; choose another file.")
            self.done = step
            sink(Metrics(step, {"loss/g": 1.0 / step}))
            sink(clock.tick(step))
        sink(Finished({"steps": self.done}))


def test_events_arrive_in_order():
    events = []
    last = run_job(CountingJob(3), events.append)
    assert isinstance(events[0], Started)
    assert [type(e) for e in events[1:-1]] == [Metrics, Progress] * 3
    assert isinstance(last, Finished) and last.summary == {"steps": 3}


def test_job_error_message_reaches_user():
    events = []
    last = run_job(CountingJob(5, fail_at=2), events.append)
    assert isinstance(last, Failed)
    assert last.message == "The input file is empty; choose another file."


def test_crash_becomes_failed_event():
    last = run_job(CountingJob(5, fail_at=2, crash=True), lambda e: None)
    assert isinstance(last, Failed)
    assert "RuntimeError: boom" in last.message
    assert "Traceback" in last.detail


def test_cancel_stops_between_steps():
    token = CancelToken()
    job = CountingJob(100)

    def sink(event):
        if isinstance(event, Metrics) and event.step == 4:
            token.cancel()

    last = run_job(job, sink, token)
    assert isinstance(last, Finished) and last.cancelled
    assert job.done == 4


def test_progress_clock_gives_eta():
    clock = ProgressClock(total_steps=10)
    clock._last_time -= 1.0  # pretend one second passed for the first two steps
    progress = clock.tick(2)
    assert progress.steps_per_s == pytest.approx(2.0, rel=0.05)
    assert progress.eta_s == pytest.approx(4.0, rel=0.05)


def test_non_finite_loss_raises():
    with pytest.raises(NonFiniteLossError, match="loss/d became nan"):
        check_finite(12, {"loss/g": 0.3, "loss/d": math.nan})
    check_finite(12, {"loss/g": 0.3})
