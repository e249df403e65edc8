"""Benchmark live recording: spectrogram rate, GUI-thread stalls and input overflows under training load.

Run: .venv/bin/python bench/recorder.py [--seconds 60] [--device virtual_mic] [--no-training]

Without PULSE_SERVER set, the script starts the test machines' private PulseAudio server (the
virtual-audio tool beside the checkout) and feeds VCC 2016 speech into its virtual microphone. The recorder
panel is shown offscreen, so the live spectrogram and the level meter repaint as in the app.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
VIRTUAL_AUDIO_TOOL = REPO_ROOT.parent / "shared" / "tools" / "virtual-audio"
PROBE_INTERVAL_MS = 10  # the probe timer's period; its lateness measures how long the GUI thread was busy


def start_virtual_audio() -> None:
    """Start the virtual PulseAudio server and export its variables (before sounddevice is imported)."""
    output = subprocess.run(["bash", str(VIRTUAL_AUDIO_TOOL), "start"], check=True, capture_output=True,
                            text=True, timeout=60).stdout
    for line in output.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            os.environ[name] = shlex.split(value)[0]


def speech_files(seconds: float) -> list[Path]:
    """Return VCC 2016 files that together last at least ``seconds`` (repeating them when needed)."""
    import soundfile

    from engine.core.paths import shared_datasets_dir

    files = sorted((shared_datasets_dir() / "vcc2016_4spk").glob("*/*.wav"))
    if not files:
        raise SystemExit(f"No VCC 2016 files under {shared_datasets_dir() / 'vcc2016_4spk'}.")
    chosen, total_s = [], 0.0
    while total_s < seconds:
        for path in files:
            chosen.append(path)
            total_s += soundfile.info(path).duration
            if total_s >= seconds:
                break
    return chosen


def percentiles_ms(values_s: list[float]) -> str:
    values_ms = np.asarray(values_s) * 1000.0
    if values_ms.size == 0:
        return "n/a"
    p50, p99 = np.percentile(values_ms, [50, 99])
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {values_ms.max():.2f} ms"


def emit_leaks_true() -> bool:
    """Return True when ``Signal.emit()`` drops a reference to ``True`` on every call.

    PySide6 6.12.0 does this on Python 3.11, where ``True`` is not immortal: once its reference
    count reaches zero the interpreter aborts with "bool_dealloc", after a few seconds of recording.
    PySide6 6.11.2 does not.
    """
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        fired = Signal(float)

    probe = Probe()
    before = sys.getrefcount(True)
    for _ in range(10):
        probe.fired.emit(1.0)
    return sys.getrefcount(True) < before


def start_training(worker) -> tuple[int, dict[str, int]]:
    """Submit a long playground GAN training job; returns its id and a live step counter."""
    from engine.core.device import pick_compute
    from engine.playground.trainer import PlaygroundConfig, PlaygroundTrainer, PlaygroundTrainJob

    trainer = PlaygroundTrainer(PlaygroundConfig(), pick_compute("cpu", "fp32"))
    counter = {"step": 0, "samples": 0}
    worker.job_metrics.connect(lambda _job, step, _values: counter.update(step=step))
    worker.job_sample.connect(lambda *_args: counter.update(samples=counter["samples"] + 1))
    return worker.submit(PlaygroundTrainJob(trainer, steps=10**9, snapshot_interval_s=0.04)), counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="recording length in seconds")
    parser.add_argument("--device", default="virtual_mic", help="input device name (default: virtual_mic)")
    parser.add_argument("--no-training", action="store_true", help="record without a training job running")
    args = parser.parse_args()

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if "PULSE_SERVER" not in os.environ and VIRTUAL_AUDIO_TOOL.exists():
        start_virtual_audio()

    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    if emit_leaks_true():
        print("WARNING: this PySide6 drops a reference to True on every Signal.emit(); the run may abort "
              "with 'bool_dealloc'. Use PySide6 6.11.2 (PYTHONPATH overlay) to measure.", flush=True)

    import PySide6
    import torch

    from desktop_app.settings import Settings
    from desktop_app.widgets.recorder import RecorderWidget
    from desktop_app.worker import EngineWorker

    settings = Settings(QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-recorder.ini"),
                                  QSettings.Format.IniFormat))
    widget = RecorderWidget(settings)
    widget.resize(900, 420)
    widget.show()
    recorder = widget.recorder

    # Time every drain of the ring buffer (levels, spectrogram columns, WAV writing).
    drain_s: list[float] = []
    recorder._timer.timeout.disconnect(recorder._drain)

    def timed_drain() -> None:
        start = time.perf_counter()
        recorder._drain()
        drain_s.append(time.perf_counter() - start)

    recorder._timer.timeout.connect(timed_drain)
    updates = {"emissions": 0, "columns": 0}

    def count_columns(columns: np.ndarray) -> None:
        updates["emissions"] += 1
        updates["columns"] += len(columns)

    recorder.columns_ready.connect(count_columns)

    ticks: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_INTERVAL_MS)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))

    worker = EngineWorker()
    job_id, counter = (None, {"step": 0, "samples": 0}) if args.no_training else start_training(worker)
    results = []
    recorder.stopped.connect(results.append)

    feed = subprocess.Popen(["bash", str(VIRTUAL_AUDIO_TOOL), "feed", *map(str, speech_files(args.seconds))])
    recorder.start(args.device)

    # Time the WAV writes alone; they run on the recorder's writer thread, off the GUI thread.
    write_s: list[float] = []
    wav_writer = recorder._writer._writer
    write_block = wav_writer.write

    def timed_write(block: np.ndarray) -> None:
        start = time.perf_counter()
        write_block(block)
        write_s.append(time.perf_counter() - start)

    wav_writer.write = timed_write
    widget.live_view.start_live(recorder.frequencies_hz, recorder.hop_s)
    probe.start()
    started = time.perf_counter()
    while time.perf_counter() - started < args.seconds and recorder.is_recording:
        app.processEvents()
        time.sleep(0.001)
    recorder.stop()
    probe.stop()
    wall_s = time.perf_counter() - started
    steps = counter["step"]
    if job_id is not None:
        worker.cancel(job_id)
    worker.shutdown()
    feed.terminate()
    feed.wait()

    result = results[-1]
    lateness_s = [max(0.0, b - a - PROBE_INTERVAL_MS / 1000.0) for a, b in zip(ticks, ticks[1:])]
    print(f"command: {' '.join(shlex.quote(part) for part in [sys.executable, *sys.argv])}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), PySide6 {PySide6.__version__}, Python {platform.python_version()}")
    print(f"device: {args.device} at {result.sample_rate_hz} Hz; recorded {result.duration_s:.1f} s "
          f"in {wall_s:.1f} s wall time; training job: {'none' if job_id is None else f'{steps} playground steps'}")
    print(f"spectrogram: {updates['columns'] / wall_s:.1f} columns/s, "
          f"{updates['emissions'] / wall_s:.1f} view updates/s")
    print(f"drain (levels, spectrogram and the view and meter updates it triggers, per tick): "
          f"{percentiles_ms(drain_s)}")
    print(f"WAV write on the writer thread (per block, header rewritten every second): {percentiles_ms(write_s)}")
    print(f"GUI timer lateness ({PROBE_INTERVAL_MS} ms probe): {percentiles_ms(lateness_s)}")
    print(f"input overflows: {result.input_overflows}; frames lost in the ring buffer: {result.lost_frames}; "
          f"input gaps over 1 s: {result.input_gaps} (longest {result.longest_gap_s:.1f} s)")
    print(f"load average at the end: {', '.join(f'{load:.1f}' for load in os.getloadavg())}")
    print(f"message: {result.message or 'none'}; file: {result.path}")


if __name__ == "__main__":
    main()
