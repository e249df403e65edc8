"""Shared shell pieces: the job bar, the live loss plot and the GUI-thread garbage collector."""

from __future__ import annotations

import gc
import threading
import weakref

from engine.core.jobs import CancelToken, EventSink, Finished, ProgressClock, Started

from desktop_app.gc_guard import MainThreadGarbageCollector
from desktop_app.widgets.job_bar import JobBar, format_duration, job_title
from desktop_app.widgets.loss_plot import LossPlot
from desktop_app.worker import EngineWorker


class TenStepJob:
    name = "ten steps"

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, 10))
        clock = ProgressClock(10)
        for step in range(1, 11):
            sink(clock.tick(step))
        sink(Finished({}))


class GateJob:
    """Reports one step, then waits until ``gate`` is set (or the job is cancelled)."""

    name = "playground.train"

    def __init__(self) -> None:
        self.gate = threading.Event()

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, 2))
        clock = ProgressClock(2)
        sink(clock.tick(1))
        while not self.gate.wait(0.01) and not cancel.cancelled:
            cancel.wait_if_paused()
        sink(Finished({}))


def test_format_duration_minutes_and_hours() -> None:
    assert format_duration(0) == "0:00"
    assert format_duration(65.2) == "1:05"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(-3) == "0:00"


def test_job_bar_follows_a_job(qtbot) -> None:
    worker = EngineWorker()
    bar = JobBar(worker)
    qtbot.addWidget(bar)
    assert not bar.cancel_button.isEnabled()
    try:
        with qtbot.waitSignal(worker.job_finished, timeout=10_000):
            worker.submit(TenStepJob())
    finally:
        assert worker.shutdown(5000)

    assert bar.name_label.text() == "ten steps: done"
    assert bar.progress_bar.maximum() == 10
    assert bar.progress_bar.value() == 10
    assert bar.step_label.text() == "10 / 10 steps of this run"
    assert not bar.cancel_button.isEnabled()
    assert not bar.pause_button.isEnabled()


def test_loss_plot_filters_keys_and_batches_redraws(qtbot) -> None:
    plot = LossPlot(("loss/",))
    qtbot.addWidget(plot)
    for step in range(1, 2001):
        plot.append(step, {"loss/d": 1.0 / step, "loss/g": 2.0, "time/step": 0.01})

    assert plot.redraw_count == 0, "appending must not redraw"
    qtbot.waitUntil(lambda: plot.redraw_count >= 1, timeout=5000)
    assert plot.redraw_count == 1, "2000 appends must be drawn by one timer tick"
    assert sorted(plot.keys()) == ["loss/d", "loss/g"]
    steps, values = plot.series("loss/d")
    assert len(steps) == 2000
    assert values[-1] == 1.0 / 2000

    plot.clear()
    assert plot.keys() == []


def test_garbage_collector_runs_on_gui_timer(qtbot) -> None:
    class Node:
        def __init__(self) -> None:
            self.self_reference = self  # a cycle that only the cyclic collector frees

    collector = MainThreadGarbageCollector(interval_ms=20)
    enabled_before = gc.isenabled()
    collector.start()
    try:
        assert not gc.isenabled(), "automatic collection must be off while the collector runs"
        probe = Node()
        probe_ref = weakref.ref(probe)
        del probe
        for _ in range(2 * gc.get_threshold()[0]):
            Node()  # pushes the generation-0 count past its threshold
        qtbot.waitUntil(lambda: probe_ref() is None, timeout=5000)
    finally:
        collector.stop()
    assert gc.isenabled() == enabled_before


def test_job_bar_shows_title_queue_and_pause(qtbot) -> None:
    worker = EngineWorker()
    bar = JobBar(worker)
    qtbot.addWidget(bar)
    gate_job = GateJob()
    try:
        first = worker.submit(gate_job)
        qtbot.waitUntil(lambda: bar.job_id == first and bar.step_label.text().startswith("1 /"), timeout=10_000)
        assert bar.name_label.text() == job_title("playground.train") == "Playground training"

        worker.submit(TenStepJob())
        qtbot.waitUntil(lambda: bar.queue_label.text() == "queued: 1 waiting", timeout=5000)

        worker.pause()
        qtbot.waitUntil(lambda: bar.eta_label.text() == "paused", timeout=5000)
        worker.resume()
        gate_job.gate.set()
        qtbot.waitUntil(lambda: bar.name_label.text() == "ten steps: done", timeout=10_000)
    finally:
        gate_job.gate.set()
        assert worker.shutdown(5000)

    assert bar.queue_label.text() == ""
    assert job_title("some.unknown.job") == "some.unknown.job"
