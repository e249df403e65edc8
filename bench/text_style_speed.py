"""Training step time of both text style methods in fp32 and under bf16 autocast.

    python bench/text_style_speed.py --steps 20
    python bench/text_style_speed.py --steps 20 --keep-subnormals  # without the engine's flush to zero
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from engine.core.device import cpu_supports_bf16, pick_compute  # noqa: E402
from engine.core.paths import shared_datasets_dir  # noqa: E402
from engine.data.text_corpora import load_yelp  # noqa: E402
from engine.text_style.default_model import DEFAULT_PRESETS  # noqa: E402
from engine.text_style.train import (BatchSampler, CrossAlignment, DirectTransformation, TextStyleTrainJob,  # noqa: E402
                                     prepare_data)
from engine.text_style.transfer import build_networks  # noqa: E402


def time_steps(method: str, precision: str, device: str, steps: int, keep_subnormals: bool = False) -> float:
    """Return the mean seconds per training step after two warm-up steps."""
    config = DEFAULT_PRESETS[method]
    compute = pick_compute(device, precision)
    if keep_subnormals:
        torch.set_flush_denormal(False)  # undo what pick_compute sets on the CPU
    corpus = load_yelp(shared_datasets_dir(), max_tokens=config.max_tokens, test_per_style=10)
    data = prepare_data(corpus, config)
    generators, critics = build_networks(config, len(data.vocabulary))
    for module in list(generators.values()) + list(critics.values()):
        module.to(compute.device)
    objective = (DirectTransformation if method == "direct" else CrossAlignment)(generators, critics, config)
    rng = random.Random(0)
    samplers = [BatchSampler(data.train_ids[style], config.batch_size, rng) for style in (0, 1)]
    optimizers = {"generator": torch.optim.Adam([p for m in generators.values() for p in m.parameters()]),
                  "critic": torch.optim.Adam([p for m in critics.values() for p in m.parameters()])}
    job = TextStyleTrainJob(config)
    for _ in range(2):
        job._train_step(objective, samplers, optimizers, compute, config.warmup_steps + config.ramp_steps)
    started = time.perf_counter()
    for _ in range(steps):
        job._train_step(objective, samplers, optimizers, compute, config.warmup_steps + config.ramp_steps)
    if compute.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep-subnormals", action="store_true",
                        help="compute with subnormal floats, as before the engine flushed them to zero on the CPU")
    args = parser.parse_args()
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, native CPU bf16: {cpu_supports_bf16()}")
    for method in sorted(DEFAULT_PRESETS):
        for precision in ("fp32", "bf16"):
            seconds = time_steps(method, precision, args.device, args.steps, args.keep_subnormals)
            print(f"{method:14s} {precision}: {seconds * 1000:8.1f} ms/step (batch {DEFAULT_PRESETS[method].batch_size} per style)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
