"""Benchmark the voice engine: training steps per second, offline conversion speed and streaming block cost.

Run from the repository root (needs ../shared/datasets):

    OMP_NUM_THREADS=1 .venv/bin/python bench/voice_engine_speed.py --threads 1

Training speed uses the network sizes of the shipped model and of the tests on VCC 2016 crops.
Offline speed converts one VCC 2016 utterance with the shipped model. The real-time factor is
compute time divided by audio duration, so below 1 is faster than real time. Streaming feeds the
same utterance block by block and reports the mean and maximum compute time per block.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio.io import load_audio  # noqa: E402
from engine.core.jobs import run_job  # noqa: E402
from engine.data.speech_corpora import load_vcc2016  # noqa: E402
from engine.voice import StreamingConverter, convert_samples, load_voice_model, make_vocoder  # noqa: E402
from engine.voice.data import load_speaker_data, training_files  # noqa: E402
from engine.voice.default_model import DEFAULT_CONFIG  # noqa: E402
from engine.voice.train import VoiceTrainJob  # noqa: E402
from engine.voice.voice_model import VoiceConfig, default_voice_model_path  # noqa: E402


def training_speed(config: VoiceConfig, files: dict, steps: int) -> float:
    """Return training steps per second over ``steps`` steps (after loading the audio)."""
    data = load_speaker_data(files)
    with tempfile.TemporaryDirectory() as scratch:
        job = VoiceTrainJob(replace(config, steps=steps, stage2_steps=0, checkpoint_every=10**6), files,
                            Path(scratch), data=data)
        started = time.perf_counter()
        run_job(job, lambda event: None)
        return steps / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--steps", type=int, default=100, help="training steps per measurement (default 100)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    vcc = load_vcc2016()
    files = training_files(vcc, ["SF1", "TM3"], 40)
    results: dict[str, object] = {"hardware": f"{platform.machine()} CPU, {args.threads} threads, fp32"}
    results["train_steps_per_s"] = {
        "cyclegan_vc (tests: 48 channels, 32-frame crops)": training_speed(
            VoiceConfig(method="cyclegan_vc", channels=48, crop_frames=32), files, args.steps),
        "multi_target stage 1 (shipped: 96 channels, batch 16)": training_speed(DEFAULT_CONFIG, files, args.steps),
    }

    model = load_voice_model(default_voice_model_path())
    audio = load_audio(vcc.speakers["SF1"][0].path, mono=True)
    duration_s = audio.duration_s
    offline = {}
    for name in ("griffin-lim", "gan"):
        vocoder = make_vocoder(name)
        started = time.perf_counter()
        convert_samples(model, audio.samples[0], audio.sample_rate_hz, "TM3", vocoder=vocoder)
        offline[f"{name} ({type(vocoder).__name__})"] = (time.perf_counter() - started) / duration_s
    results["offline_real_time_factor"] = offline

    streaming = {}
    for rate_hz in (16000, 48000):
        samples = load_audio(vcc.speakers["SF1"][0].path, mono=True, sample_rate_hz=rate_hz).samples[0].numpy()
        for block_s in (0.1, 0.2):
            streamer = StreamingConverter(model, "TM3", sample_rate_hz=rate_hz, block_s=block_s)
            block = int(block_s * rate_hz)
            for start in range(0, len(samples) - block + 1, block):
                streamer.process(samples[start:start + block])
            times = np.array(streamer.block_compute_s[1:])  # the first block pays one-time set-up
            streaming[f"{rate_hz} Hz, {block_s:.1f} s blocks"] = {
                "latency_s": round(streamer.latency_s, 3), "mean_block_compute_s": round(float(times.mean()), 4),
                "max_block_compute_s": round(float(times.max()), 4)}
    results["streaming_griffin_lim_16_iterations"] = streaming
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
