"""Benchmark: playground training steps per second for each loss.

    .venv/bin/python bench/playground_steps.py [--device cpu] [--steps 300] [--threads N]

One step is ``d_steps`` discriminator updates plus one generator update at the default config
(batch 256, hidden 128, noise 2). Timings exclude a short warm-up. The trainer itself always
computes in fp32; the bf16 rows wrap each step in bf16 autocast to show what that would change.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.device import pick_compute  # noqa: E402
from engine.playground.models import LOSSES  # noqa: E402
from engine.playground.trainer import PlaygroundConfig, PlaygroundTrainer  # noqa: E402

WARMUP_STEPS = 20


def measure(loss: str, device: str, steps: int, d_steps: int, precision: str) -> float:
    """Return training steps per second for one loss; "bf16" wraps each step in bf16 autocast."""
    compute = pick_compute(device, precision)
    trainer = PlaygroundTrainer(PlaygroundConfig(loss=loss, d_steps=d_steps), compute)
    for _ in range(WARMUP_STEPS):
        with compute.autocast():
            trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        with compute.autocast():
            trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per loss (default 300)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    print(f"{'loss':15s} {'d_steps':>7s} {'precision':>9s} {'steps/s':>9s} {'ms/step':>9s}")
    for loss in LOSSES.names():
        for d_steps, precision in ((1, "fp32"), (5, "fp32"), (1, "bf16")):
            rate = measure(loss, args.device, args.steps, d_steps, precision)
            print(f"{loss:15s} {d_steps:7d} {precision:>9s} {rate:9.1f} {1000 / rate:9.2f}", flush=True)


if __name__ == "__main__":
    main()
