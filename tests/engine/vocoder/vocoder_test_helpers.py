"""Shared pieces of the vocoder tests: tiny network sizes and a synthetic voiced signal."""

from __future__ import annotations

import math

import torch

from engine.vocoder.gan_vocoder import DiscriminatorConfig, GeneratorConfig

TINY_GENERATOR = GeneratorConfig(channels=16, frame_blocks=1, block_dilations=(1, 3))
TINY_DISCRIMINATOR = DiscriminatorConfig(periods=(2, 3), period_channels=(4, 8), scales=2, scale_channels=(4, 8, 8))


def voiced_tone(f0_hz: float, seconds: float = 1.0, rate_hz: int = 16000) -> torch.Tensor:
    """Return (samples,) harmonics of a gliding fundamental with a little noise, a stand-in for a vowel."""
    time_s = torch.arange(int(seconds * rate_hz)) / rate_hz
    f0 = f0_hz * (1 + 0.1 * torch.sin(2 * math.pi * 2 * time_s))
    phase = 2 * math.pi * torch.cumsum(f0, 0) / rate_hz
    tone = sum(torch.sin(k * phase) / k for k in range(1, 8))
    generator = torch.Generator().manual_seed(int(f0_hz))
    return 0.1 * tone + 0.01 * torch.randn(time_s.shape, generator=generator)
