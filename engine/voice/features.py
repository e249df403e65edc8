"""Voice conversion features: log-mels and F0 at 16 kHz, and F0 conversion applied to the spectrum.

Every voice model reads and writes ``SPEECH_MEL`` log-mels, the setting the vocoders share. The
vocoders take mels only, so F0 is converted on the spectrum before the network sees it: the log
magnitude spectrum of each frame is split by cepstral liftering into a smooth envelope (formants)
and a fine structure (harmonics), and only the fine structure is stretched along frequency by the
F0 ratio. Formants stay where they are and the harmonics move to the converted F0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.audio.features import AMPLITUDE_FLOOR, SPEECH_MEL, linear_spectrogram, mel_filterbank
from engine.audio.io import resample
from engine.audio.pitch import track_f0

SAMPLE_RATE_HZ = SPEECH_MEL.sample_rate_hz
# Cepstral coefficients kept for the envelope: 30 samples = 1.9 ms at 16 kHz, below the 2.5 ms
# period of a 400 Hz voice, so the envelope never contains the harmonics of speech F0.
ENVELOPE_LIFTER = 30
F0_MIN_HZ = 60.0
F0_MAX_HZ = 500.0
# Per-utterance F0 standard deviations from short inputs are noisy, so the ratio of the target's
# and the source's log-F0 spreads is kept within this range.
F0_SPREAD_RATIO_LIMITS = (0.5, 2.0)
# Inputs with fewer voiced frames than this use the prior statistics for the source F0.
MIN_VOICED_FRAMES = 10
FRAMES_PER_BLOCK = 2048  # about 33 s of frames per block in shift_harmonics


@dataclass(frozen=True)
class F0Statistics:
    """Mean and standard deviation of natural-log F0 over voiced frames."""

    log_mean: float
    log_std: float

    @property
    def median_hz(self) -> float:
        return math.exp(self.log_mean)

    def to_json(self) -> dict[str, float]:
        return {"log_mean": self.log_mean, "log_std": self.log_std}

    @classmethod
    def from_json(cls, data: dict[str, float]) -> F0Statistics:
        return cls(float(data["log_mean"]), float(data["log_std"]))


@dataclass
class Analysis:
    """One utterance at 16 kHz: linear magnitudes, log-mels and F0 on the same frames."""

    magnitude: torch.Tensor  # (freqs, frames)
    log_mel: torch.Tensor  # (mels, frames)
    f0_hz: torch.Tensor  # (frames,), 0 where unvoiced
    voiced: torch.Tensor  # (frames,) bool


def to_model_rate(samples: torch.Tensor, sample_rate_hz: int) -> torch.Tensor:
    """Return mono (samples,) float32 audio at 16 kHz from (samples,) or (channels, samples) audio."""
    if samples.dim() == 2:
        samples = samples.mean(dim=0)
    samples = samples.to(torch.float32)
    if sample_rate_hz != SAMPLE_RATE_HZ:
        samples = resample(samples, sample_rate_hz, SAMPLE_RATE_HZ)
    return samples


def magnitude_to_log_mel(magnitude: torch.Tensor) -> torch.Tensor:
    """Project (freqs, frames) magnitudes to (mels, frames) natural-log mels as log_mel_spectrogram does."""
    filterbank = mel_filterbank(SPEECH_MEL, magnitude.device, magnitude.dtype)  # (freqs, mels)
    mel = torch.matmul(magnitude.transpose(-1, -2), filterbank).transpose(-1, -2)
    return torch.log(torch.clamp(mel, min=AMPLITUDE_FLOOR))


def analyse(samples: torch.Tensor, *, with_f0: bool = True) -> Analysis:
    """Compute magnitudes, log-mels and F0 of (samples,) 16 kHz audio on SPEECH_MEL frames.

    Audio shorter than one FFT window is zero-padded so every input gives at least one frame.
    """
    shortest = SPEECH_MEL.n_fft // 2 + 1
    if samples.shape[-1] < shortest:
        samples = torch.nn.functional.pad(samples, (0, shortest - samples.shape[-1]))
    magnitude = linear_spectrogram(samples, SPEECH_MEL.n_fft, SPEECH_MEL.hop_length,
                                   win_length=SPEECH_MEL.win_length, center=SPEECH_MEL.center)
    log_mel = magnitude_to_log_mel(magnitude)
    frames = log_mel.shape[-1]
    if with_f0:
        f0_hz, voiced = track_f0(samples, SAMPLE_RATE_HZ, SPEECH_MEL.hop_length, F0_MIN_HZ, F0_MAX_HZ)
        f0_hz, voiced = f0_hz[..., :frames], voiced[..., :frames]
    else:
        f0_hz, voiced = torch.zeros(frames), torch.zeros(frames, dtype=torch.bool)
    return Analysis(magnitude, log_mel, f0_hz, voiced)


def f0_statistics(f0_hz: torch.Tensor, voiced: torch.Tensor) -> F0Statistics | None:
    """Return the log-F0 statistics of the voiced frames, or None with fewer than MIN_VOICED_FRAMES."""
    values = torch.log(f0_hz[voiced].double())
    if values.numel() < MIN_VOICED_FRAMES:
        return None
    return F0Statistics(float(values.mean()), max(float(values.std()), 1e-3))


def pooled_f0_statistics(analyses: list[Analysis]) -> F0Statistics:
    """Return the log-F0 statistics over all voiced frames of several utterances of one speaker.

    Raises:
        ValueError: when the utterances contain fewer than MIN_VOICED_FRAMES voiced frames.
    """
    f0 = torch.cat([item.f0_hz for item in analyses])
    voiced = torch.cat([item.voiced for item in analyses])
    stats = f0_statistics(f0, voiced)
    if stats is None:
        raise ValueError(f"Only {int(voiced.sum())} voiced frames in {len(analyses)} utterances; F0 statistics "
                         f"need at least {MIN_VOICED_FRAMES}. Use recordings of speech, not noise or whispers.")
    return stats


def f0_ratio(f0_hz: torch.Tensor, voiced: torch.Tensor, source: F0Statistics, target: F0Statistics,
             semitones: float = 0.0) -> torch.Tensor:
    """Return the per-frame F0 ratio of log-Gaussian normalised conversion from ``source`` to ``target``.

    A voiced frame's log F0 is mapped to ``(log f0 - mu_s) * sigma_t / sigma_s + mu_t``; unvoiced frames
    use the ratio of the two means. ``semitones`` adds a further shift for every frame.

    Returns:
        (frames,) float32 ratios of converted to source F0.
    """
    spread = min(max(target.log_std / source.log_std, F0_SPREAD_RATIO_LIMITS[0]), F0_SPREAD_RATIO_LIMITS[1])
    log_f0 = torch.log(torch.clamp(f0_hz.double(), min=1.0))
    converted = (log_f0 - source.log_mean) * spread + target.log_mean
    log_ratio = torch.where(voiced, converted - log_f0, torch.full_like(log_f0, target.log_mean - source.log_mean))
    log_ratio = log_ratio + semitones * math.log(2.0) / 12.0
    return torch.exp(log_ratio).to(torch.float32)


def log_spectral_envelope(log_spectrum: torch.Tensor) -> torch.Tensor:
    """Return the (freqs, frames) smooth envelope of a natural-log magnitude spectrum by cepstral liftering."""
    n_fft = 2 * (log_spectrum.shape[0] - 1)
    cepstrum = torch.fft.irfft(log_spectrum, n=n_fft, dim=0)  # (quefrency, frames)
    lifter = torch.zeros(n_fft, 1, dtype=cepstrum.dtype)
    lifter[:ENVELOPE_LIFTER] = 1.0
    lifter[n_fft - ENVELOPE_LIFTER + 1:] = 1.0
    return torch.fft.rfft(cepstrum * lifter, dim=0).real  # (freqs, frames)


def shift_harmonics(magnitude: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """Move the harmonics of each frame by ``ratio`` while keeping its spectral envelope.

    Args:
        magnitude: (freqs, frames) STFT magnitudes.
        ratio: (frames,) frequency ratios; 1 leaves a frame unchanged.

    Returns:
        (freqs, frames) magnitudes with the fine structure of frame t resampled at bin k / ratio[t].
    """
    if magnitude.shape[-1] > FRAMES_PER_BLOCK:
        # Long inputs go in blocks of frames, which bounds the float64 temporaries of the cepstrum.
        return torch.cat([shift_harmonics(magnitude[:, start:start + FRAMES_PER_BLOCK],
                                          ratio[start:start + FRAMES_PER_BLOCK])
                          for start in range(0, magnitude.shape[-1], FRAMES_PER_BLOCK)], dim=-1)
    freqs, frames = magnitude.shape
    log_spectrum = torch.log(torch.clamp(magnitude, min=AMPLITUDE_FLOOR)).double()  # (freqs, frames)
    envelope = log_spectral_envelope(log_spectrum)
    fine = log_spectrum - envelope

    positions = torch.arange(freqs, dtype=torch.float64)[:, None] / ratio.double()[None, :]  # (freqs, frames)
    positions = positions.clamp(0, freqs - 1)
    lower = positions.floor().long()
    upper = (lower + 1).clamp(max=freqs - 1)
    weight = positions - lower
    shifted = torch.gather(fine, 0, lower) * (1 - weight) + torch.gather(fine, 0, upper) * weight
    return torch.exp(envelope + shifted).to(magnitude.dtype)


def converted_log_mel(analysis: Analysis, source: F0Statistics | None, target: F0Statistics | None,
                      semitones: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the log-mel with converted F0 and the converted F0 track (0 where unvoiced).

    Without both statistics only the ``semitones`` shift is applied; with neither, the input log-mel
    is returned unchanged.
    """
    if source is None or target is None:
        if semitones == 0.0:
            return analysis.log_mel, analysis.f0_hz
        ratio = torch.full((analysis.log_mel.shape[-1],), 2.0 ** (semitones / 12.0))
    else:
        ratio = f0_ratio(analysis.f0_hz, analysis.voiced, source, target, semitones)
    shifted = shift_harmonics(analysis.magnitude, ratio)
    return magnitude_to_log_mel(shifted), analysis.f0_hz * ratio * analysis.voiced


def numpy_mono(samples: np.ndarray) -> torch.Tensor:
    """Return a float32 tensor of a mono (samples,) array, raising ValueError for other shapes."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"Expected mono audio shaped (samples,), got an array shaped {array.shape}.")
    return torch.from_numpy(array.copy())
