"""The job protocol: typed events a job reports, the sink that receives them, and cancellation.

This module is the only contract between the engine and its front ends. A job is any object with a
``name`` and a ``run(sink, cancel)`` method. The desktop worker turns events into Qt signals; the
CLI prints them as a progress bar and JSON lines.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Union

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------- events

@dataclass(frozen=True)
class Started:
    job: str
    total_steps: int | None  # None when the length is unknown
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int | None
    eta_s: float | None  # seconds left, None until a rate is known or when the length is unknown
    steps_per_s: float | None


@dataclass(frozen=True)
class Metrics:
    step: int
    values: Mapping[str, float]  # flat, namespaced keys such as "loss/d", "loss/g", "time/step"


@dataclass(frozen=True)
class Sample:
    """A preview for the front end; ``kind`` names what ``data`` contains (e.g. "points2d", "image")."""

    step: int
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: Path


@dataclass(frozen=True)
class Finished:
    summary: Mapping[str, Any] = field(default_factory=dict)
    cancelled: bool = False


@dataclass(frozen=True)
class Failed:
    message: str  # for the user: what failed and what to do
    detail: str = ""  # the traceback or technical detail, for the log


Event = Union[Started, Progress, Metrics, Sample, CheckpointSaved, Finished, Failed]
EventSink = Callable[[Event], None]


# ------------------------------------------------------------------------------------ cancel/pause

class CancelToken:
    """A thread-safe flag a front end sets and a job checks between steps; also pauses a job."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._running.set()  # a paused job must wake up to see the cancel

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self, poll_s: float = 0.05) -> None:
        """Block while paused; return at once when running or cancelled."""
        while not self._running.wait(poll_s):
            if self.cancelled:
                return


# --------------------------------------------------------------------------------------- errors

class JobError(Exception):
    """An expected failure whose message is written for the user (bad input, missing file, ...)."""


class NonFiniteLossError(JobError):
    """Raised when a training loss becomes NaN or infinite."""


def check_finite(step: int, values: Mapping[str, float], last_checkpoint: Path | None = None) -> None:
    """Raise NonFiniteLossError naming the first NaN or infinite value in ``values``."""
    for key, value in values.items():
        if not math.isfinite(value):
            kept = f" The last good checkpoint is kept at {last_checkpoint}." if last_checkpoint else ""
            raise NonFiniteLossError(
                f"Training stopped at step {step}: {key} became {value}.{kept} "
                "Lower the learning rate or change the loss, then resume or restart."
            )


# ------------------------------------------------------------------------------------------ jobs

class Job(Protocol):
    name: str

    def run(self, sink: EventSink, cancel: CancelToken) -> None: ...


class ProgressClock:
    """Turns step counts into Progress events with a smoothed rate and an ETA."""

    def __init__(self, total_steps: int | None, start_step: int = 0, smoothing: float = 0.2) -> None:
        self.total_steps = total_steps
        self._last_step = start_step
        self._last_time = time.perf_counter()
        self._rate: float | None = None
        self._smoothing = smoothing  # weight of the newest rate in the moving average

    def tick(self, step: int) -> Progress:
        now = time.perf_counter()
        elapsed = now - self._last_time
        if step > self._last_step and elapsed > 0:
            rate = (step - self._last_step) / elapsed
            self._rate = rate if self._rate is None else (1 - self._smoothing) * self._rate + self._smoothing * rate
            self._last_step, self._last_time = step, now
        eta = None
        if self._rate and self.total_steps is not None:
            eta = max(0.0, (self.total_steps - step) / self._rate)
        return Progress(step, self.total_steps, eta, self._rate)


def run_job(job: Job, sink: EventSink, cancel: CancelToken | None = None) -> Event:
    """Run ``job``, turning exceptions into a Failed event, and return the last event it sent.

    Every job ends with exactly one Finished or Failed event. A JobError's message goes to the
    user as is; any other exception becomes a message that points to the log.
    """
    cancel = cancel or CancelToken()
    last: list[Event] = []

    def forward(event: Event) -> None:
        last[:] = [event]
        sink(event)

    try:
        job.run(forward, cancel)
    except JobError as error:
        logger.warning("Job %s failed: %s", job.name, error)
        forward(Failed(str(error), detail=_format_traceback(error)))
    except Exception as error:  # noqa: BLE001 - any crash in a job must reach the user, not kill the worker
        logger.exception("Job %s crashed", job.name)
        forward(Failed(f"{job.name} failed: {type(error).__name__}: {error}. See the log for details.",
                       detail=_format_traceback(error)))
    else:
        if not last or not isinstance(last[0], (Finished, Failed)):
            forward(Finished(cancelled=cancel.cancelled))
    return last[0]


def _format_traceback(error: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
