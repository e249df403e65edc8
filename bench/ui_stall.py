"""Measure GUI event-loop stalls and plot updates per second while the GAN Playground trains.

Run offscreen (no display needed):

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_stall.py --seconds 10

A precise QTimer fires every --interval-ms on the GUI thread; each firing records how late it
came. Lateness is what a user feels as a frozen window: clicks and repaints wait that long.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GAN_STUDIO_HOME", tempfile.mkdtemp(prefix="gan-studio-bench-"))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer  # noqa: E402

from desktop_app.app import create_main_window  # noqa: E402
from desktop_app.gc_guard import MainThreadGarbageCollector  # noqa: E402
from desktop_app.tabs.playground import PlaygroundTab  # noqa: E402


class LatenessProbe:
    """A repeating precise timer that records how late each timeout arrives, in milliseconds."""

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self.lateness_ms: list[float] = []
        self._clock = QElapsedTimer()
        self._last_ns = 0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.lateness_ms.clear()
        self._clock.start()
        self._last_ns = self._clock.nsecsElapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now_ns = self._clock.nsecsElapsed()
        self.lateness_ms.append(max(0.0, (now_ns - self._last_ns) / 1e6 - self.interval_ms))
        self._last_ns = now_ns


def run_event_loop(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def summarize(name: str, lateness_ms: list[float]) -> str:
    values = np.asarray(lateness_ms or [0.0])
    return (f"{name:<9} stall ms: p50 {np.percentile(values, 50):6.2f}  p99 {np.percentile(values, 99):6.2f}  "
            f"max {values.max():7.2f}  ({len(values)} ticks)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to measure while training, in s")
    parser.add_argument("--interval-ms", type=int, default=5, help="probe timer interval in ms")
    parser.add_argument("--loss", default="nonsaturating", help="playground loss to train")
    args = parser.parse_args()

    settings_file = Path(os.environ["GAN_STUDIO_HOME"]) / "bench-settings.ini"
    window = create_main_window(qsettings=QSettings(str(settings_file), QSettings.Format.IniFormat),
                                tab_classes=[PlaygroundTab])
    window.confirm_quit = lambda: True
    collector = MainThreadGarbageCollector(parent=window)  # as in the app: garbage is collected on the GUI thread
    collector.start()
    window.resize(1400, 900)
    window.show()
    tab: PlaygroundTab = window.tabs.widget(0)
    while tab.busy:
        run_event_loop(0.05)

    probe = LatenessProbe(args.interval_ms)
    probe.start()
    run_event_loop(2.0)
    idle = list(probe.lateness_ms)

    tab.loss_combo.setCurrentIndex(tab.loss_combo.findData(args.loss))
    tab.reset()
    tab.steps_spin.setValue(1_000_000)
    tab.run_training()
    while tab.last_snapshot is None or tab.last_snapshot["step"] == 0:
        run_event_loop(0.05)

    updates_before = tab.view.update_count
    step_before = tab.last_snapshot["step"]
    started = time.perf_counter()
    probe.start()
    run_event_loop(args.seconds)
    probe.stop()
    elapsed_s = time.perf_counter() - started
    updates = tab.view.update_count - updates_before
    steps = tab.last_snapshot["step"] - step_before
    training = list(probe.lateness_ms)
    window.close()
    collector.stop()

    print(f"command: QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']} {sys.executable} {' '.join(sys.argv)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"compute {window.context.compute.describe()}, loss {args.loss}, probe every {args.interval_ms} ms")
    print(summarize("idle", idle))
    print(summarize("training", training))
    print(f"plot updates/s: {updates / elapsed_s:.1f}   training steps/s: {steps / elapsed_s:.1f}   "
          f"over {elapsed_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
