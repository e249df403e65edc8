"""Griffin-Lim: the vocoder that needs no training, and the baseline every GAN vocoder must beat."""

from __future__ import annotations

import functools

import torch
from torchaudio import functional as audio_functional

from engine.audio.features import SPEECH_MEL, MelConfig, mel_filterbank

DEFAULT_ITERATIONS = 64
# A momentum of 0.99 is the "fast Griffin-Lim" setting of Perraudin et al. (2013), which torchaudio
# exposes and which converges in far fewer iterations than plain Griffin-Lim (momentum 0).
DEFAULT_MOMENTUM = 0.99


@functools.lru_cache(maxsize=8)
def _mel_pseudo_inverse(config: MelConfig) -> torch.Tensor:
    """Return the (n_mels, freqs) Moore-Penrose inverse of the mel filterbank, in float64 for accuracy."""
    filterbank = mel_filterbank(config, "cpu", torch.float64)  # (freqs, mels)
    return torch.linalg.pinv(filterbank)  # (mels, freqs)


def mel_to_linear_magnitude(log_mel: torch.Tensor, config: MelConfig = SPEECH_MEL) -> torch.Tensor:
    """Estimate (..., freqs, frames) STFT magnitudes from (..., n_mels, frames) natural-log mels.

    The mel filterbank has fewer rows than FFT bins, so this is a least-squares estimate with the
    negative values the pseudo-inverse produces clamped to zero.
    """
    mel = torch.exp(log_mel.to(torch.float64))
    inverse = _mel_pseudo_inverse(config).to(mel.device)
    linear = torch.matmul(mel.transpose(-1, -2), inverse).transpose(-1, -2)
    return linear.clamp_min(0.0).to(torch.float32)


class GriffinLimVocoder:
    """Phase reconstruction from mel magnitudes by Griffin-Lim iterations."""

    name = "griffin-lim"

    def __init__(self, config: MelConfig = SPEECH_MEL, iterations: int = DEFAULT_ITERATIONS,
                 momentum: float = DEFAULT_MOMENTUM, seed: int = 0) -> None:
        if iterations <= 0:
            raise ValueError(f"GriffinLimVocoder: iterations must be positive, got {iterations}.")
        self.mel_config = config
        self.iterations = iterations
        self.momentum = momentum
        self.seed = seed

    def synthesize(self, log_mel: torch.Tensor) -> torch.Tensor:
        config = self.mel_config
        magnitude = mel_to_linear_magnitude(log_mel, config)
        window = torch.hann_window(config.win_length, periodic=True, device=magnitude.device)
        length = (magnitude.shape[-1] - 1) * config.hop_length if config.center else None
        # torchaudio starts from random phases when rand_init is set; fixing the generator's seed
        # makes the output repeatable.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return audio_functional.griffinlim(
                magnitude, window=window, n_fft=config.n_fft, hop_length=config.hop_length,
                win_length=config.win_length, power=1.0, n_iter=self.iterations, momentum=self.momentum,
                length=length, rand_init=True,
            )
