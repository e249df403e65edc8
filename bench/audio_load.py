"""Benchmark audio loading with resampling, offline features and the streaming spectrogram.

Run: .venv/bin/python bench/audio_load.py [--fsdd-files 300] [--vcc-files 40] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio import SPEECH_MEL, StreamingSpectrogram, load_audio, mel_spectrogram, track_f0  # noqa: E402
from engine.core.paths import shared_datasets_dir  # noqa: E402


def bench_loading(paths: list[Path], target_hz: int, repeats: int) -> tuple[float, float]:
    """Return the best (files per second, audio seconds per second) over ``repeats`` passes."""
    best_s, audio_s = float("inf"), 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        audio_s = sum(load_audio(path, mono=True, sample_rate_hz=target_hz).duration_s for path in paths)
        best_s = min(best_s, time.perf_counter() - start)
    return len(paths) / best_s, audio_s / best_s


def bench_streaming(samples: np.ndarray, rate_hz: int, block: int, n_mels: int | None, repeats: int) -> float:
    """Return the best STFT frames per second when ``samples`` arrive in ``block``-sample pieces."""
    best_s, frames = float("inf"), 0
    for _ in range(repeats):
        streaming = StreamingSpectrogram(rate_hz, 1024, 256, n_mels=n_mels)
        start = time.perf_counter()
        frames = sum(streaming.push(samples[i : i + block]).shape[0] for i in range(0, samples.shape[0], block))
        best_s = min(best_s, time.perf_counter() - start)
    return frames / best_s


def bench_offline(samples: torch.Tensor, rate_hz: int, repeats: int) -> tuple[float, float]:
    """Return audio seconds per second for mel_spectrogram and track_f0 on one long signal."""
    duration_s = samples.shape[-1] / rate_hz
    timings = {}
    for name, function in (("mel", lambda: mel_spectrogram(samples, SPEECH_MEL)),
                           ("f0", lambda: track_f0(samples, rate_hz, SPEECH_MEL.hop_length))):
        best_s = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            best_s = min(best_s, time.perf_counter() - start)
        timings[name] = duration_s / best_s
    return timings["mel"], timings["f0"]


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdd-files", type=int, default=300, help="FSDD files to load (8 kHz to 16 kHz)")
    parser.add_argument("--vcc-files", type=int, default=40, help="VCC 2016 files to load (16 kHz to 22.05 kHz)")
    parser.add_argument("--repeats", type=int, default=3, help="passes per measurement, of which the fastest counts")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice, one per core)")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    datasets = shared_datasets_dir()
    fsdd = sorted((datasets / "fsdd" / "recordings").glob("*.wav"))[: args.fsdd_files]
    vcc = sorted((datasets / "vcc2016_4spk").glob("*/*.wav"))[: args.vcc_files]
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {_cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"torch {torch.__version__}, numpy {np.__version__}")

    files_per_s, audio_per_s = bench_loading(fsdd, 16000, args.repeats)
    print(f"load+resample FSDD 8k->16k    {len(fsdd):4d} files: {files_per_s:8.1f} files/s, "
          f"{audio_per_s:8.1f} audio s/s")
    files_per_s, audio_per_s = bench_loading(vcc, 22050, args.repeats)
    print(f"load+resample VCC 16k->22.05k {len(vcc):4d} files: {files_per_s:8.1f} files/s, "
          f"{audio_per_s:8.1f} audio s/s")

    speech = torch.cat([load_audio(path).samples[0] for path in vcc[:10]])
    mel_speed, f0_speed = bench_offline(speech, 16000, args.repeats)
    print(f"mel_spectrogram (SPEECH_MEL) on {speech.shape[0] / 16000:.0f} s: {mel_speed:10.0f} audio s/s")
    print(f"track_f0 (hop 256, 50-600 Hz) on {speech.shape[0] / 16000:.0f} s: {f0_speed:10.0f} audio s/s")

    for n_mels in (None, 80):
        for block in (256, 1024):
            frames_per_s = bench_streaming(speech.numpy(), 16000, block, n_mels, args.repeats)
            label = "linear" if n_mels is None else f"{n_mels} mels"
            print(f"StreamingSpectrogram 1024/256 {label:8s} block {block:4d}: {frames_per_s:10.0f} frames/s "
                  f"({frames_per_s * 256 / 16000:7.0f}x real time at 16 kHz)")


if __name__ == "__main__":
    main()
