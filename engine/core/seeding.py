"""Seed every random number generator a run touches, so runs are reproducible."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and all GPUs) and return a torch generator seeded alike.

    Bitwise reproducibility across machines is not promised: GPU kernels and thread counts can
    change the order of floating-point sums.
    """
    if not 0 <= seed < 2**32:
        raise ValueError(f"Seed must be in [0, 2**32), got {seed}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
