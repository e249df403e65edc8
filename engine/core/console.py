"""Run a job in a terminal: a text progress bar on stderr and one JSON object per event on stdout."""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
from typing import Any, TextIO

from engine.core.jobs import (CancelToken, CheckpointSaved, Event, Failed, Finished, Job, Metrics, Progress, Started,
                              run_job)

logger = logging.getLogger(__name__)

BAR_WIDTH = 30
# Without a terminal (CI logs, files) the bar is printed as separate lines, at most this often.
PLAIN_PROGRESS_INTERVAL_S = 5.0
TTY_PROGRESS_INTERVAL_S = 0.1
EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130  # 130 = 128 + SIGINT, the shell convention


def positive_int(text: str) -> int:
    """Parse a command-line count that must be at least 1 (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def format_duration(seconds: float | None) -> str:
    """Format seconds as H:MM:SS, or "--:--" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def format_progress(progress: Progress) -> str:
    """Render a Progress event as ``[#####-----] 50/100  50%  12.3 steps/s  ETA 0:00:04``."""
    rate = f"{progress.steps_per_s:.1f} steps/s" if progress.steps_per_s else "- steps/s"
    if not progress.total_steps:
        return f"step {progress.step}  {rate}"
    fraction = min(1.0, progress.step / progress.total_steps)
    filled = int(round(fraction * BAR_WIDTH))
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return (f"[{bar}] {progress.step}/{progress.total_steps} {fraction:4.0%}  {rate}  "
            f"ETA {format_duration(progress.eta_s)}")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, tensors
        return value.tolist()
    return str(value)


class ConsoleReporter:
    """An event sink that draws the progress bar and writes JSON lines; Sample events are skipped."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None, progress_bar: bool = True) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.progress_bar = progress_bar
        self._interactive = bool(getattr(self.stderr, "isatty", lambda: False)())
        self._last_bar_time = -math.inf
        self._last_drawn_step: int | None = None
        self._bar_open = False  # a carriage-return bar is on screen and needs a newline before other text

    def write_json(self, record: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(record, default=_json_default, sort_keys=False) + "\n")
        self.stdout.flush()

    def message(self, text: str) -> None:
        """Print a line for the user on stderr without breaking the progress bar."""
        self._close_bar()
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def _close_bar(self) -> None:
        if self._bar_open:
            self.stderr.write("\n")
            self._bar_open = False

    def _draw(self, progress: Progress, force: bool = False) -> None:
        if not self.progress_bar:
            return
        now = time.perf_counter()
        interval = TTY_PROGRESS_INTERVAL_S if self._interactive else PLAIN_PROGRESS_INTERVAL_S
        if not force and now - self._last_bar_time < interval:
            return
        if force and progress.step == self._last_drawn_step:
            return
        self._last_bar_time = now
        self._last_drawn_step = progress.step
        if self._interactive:
            self.stderr.write("\r" + format_progress(progress))
            self._bar_open = True
        else:
            self.stderr.write(format_progress(progress) + "\n")
        self.stderr.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            self.write_json({"event": "started", "job": event.job, "total_steps": event.total_steps,
                             "config": dict(event.config)})
        elif isinstance(event, Progress):
            finished = event.total_steps is not None and event.step >= event.total_steps
            self._draw(event, force=finished)
        elif isinstance(event, Metrics):
            self.write_json({"event": "metrics", "step": event.step, **event.values})
        elif isinstance(event, CheckpointSaved):
            self.write_json({"event": "checkpoint", "step": event.step, "path": str(event.path)})
        elif isinstance(event, Finished):
            self._close_bar()
            self.write_json({"event": "finished", "cancelled": event.cancelled, "summary": dict(event.summary)})
        elif isinstance(event, Failed):
            self.write_json({"event": "failed", "message": event.message})
            self.message(f"error: {event.message}")


def run_in_console(job: Job, reporter: ConsoleReporter | None, cancel: CancelToken | None = None) -> int:
    """Run ``job`` to its end and return the process exit code (0 done, 1 failed, 130 cancelled).

    The first Ctrl-C cancels the job after its current step; a second one raises KeyboardInterrupt.
    ``reporter`` None discards every event (non-zero ranks of a distributed run).
    """
    cancel = cancel or CancelToken()
    sink = reporter if reporter is not None else (lambda event: None)
    previous_handler = None
    if threading.current_thread() is threading.main_thread():

        def on_interrupt(signum: int, frame: Any) -> None:
            if cancel.cancelled:
                raise KeyboardInterrupt
            cancel.cancel()
            if reporter is not None:
                reporter.message("Cancelling after the current step; press Ctrl-C again to abort at once.")

        previous_handler = signal.signal(signal.SIGINT, on_interrupt)
    try:
        last = run_job(job, sink, cancel)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)

    if isinstance(last, Failed):
        return EXIT_FAILED
    if isinstance(last, Finished) and last.cancelled:
        return EXIT_CANCELLED
    return EXIT_OK
