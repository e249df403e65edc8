"""The contract shared by every vocoder."""

from __future__ import annotations

from typing import Protocol

import torch

from engine.audio.features import MelConfig


class Vocoder(Protocol):
    """Turns natural-log mel magnitudes (``engine.audio.features.log_mel_spectrogram``) into audio."""

    name: str
    mel_config: MelConfig

    def synthesize(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Return (..., samples) float32 audio at ``mel_config.sample_rate_hz`` for (..., n_mels, frames)."""
        ...
