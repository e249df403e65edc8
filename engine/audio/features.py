"""Spectral features for speech: linear and mel spectrograms, decibels, silence trimming, loudness."""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import torch
import torchaudio.functional as audio_functional

# Smallest magnitude before taking a logarithm: -100 dB, just below the 96 dB range of 16-bit audio.
AMPLITUDE_FLOOR = 1e-5


@dataclass(frozen=True)
class MelConfig:
    """A mel spectrogram setting. Models that read or produce mels share SPEECH_MEL."""

    sample_rate_hz: int = 16000
    n_fft: int = 1024  # 64 ms at 16 kHz: a 62.5 Hz Hann main lobe, narrower than most voices' harmonic spacing
    hop_length: int = 256  # 16 ms, a quarter window, as in the HiFi-GAN mel setting (1024/256/80 mels at 22.05 kHz)
    win_length: int = 1024
    n_mels: int = 80
    f_min_hz: float = 0.0
    f_max_hz: float | None = None  # None means the Nyquist frequency
    mel_scale: str = "slaney"  # slaney scale and area normalisation are librosa's defaults, which HiFi-GAN uses
    norm: str | None = "slaney"
    center: bool = True  # frame t is centred on sample t * hop_length, as in track_f0

    def __post_init__(self) -> None:
        nyquist_hz = self.sample_rate_hz / 2
        if self.win_length > self.n_fft:
            raise ValueError(f"MelConfig: win_length ({self.win_length}) must not exceed n_fft ({self.n_fft}).")
        if self.hop_length <= 0 or self.n_mels <= 0 or self.sample_rate_hz <= 0:
            raise ValueError(f"MelConfig: hop_length, n_mels and sample_rate_hz must be positive, got {self}.")
        if not 0 <= self.f_min_hz < self.max_frequency_hz <= nyquist_hz:
            raise ValueError(f"MelConfig: expected 0 <= f_min_hz < f_max_hz <= {nyquist_hz:g} Hz (Nyquist), "
                             f"got f_min_hz={self.f_min_hz}, f_max_hz={self.f_max_hz}.")

    @property
    def max_frequency_hz(self) -> float:
        return self.sample_rate_hz / 2 if self.f_max_hz is None else float(self.f_max_hz)

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def num_frames(self, num_samples: int) -> int:
        """Return the frame count for ``num_samples`` input samples."""
        if self.center:
            return 1 + num_samples // self.hop_length
        return 1 + (num_samples - self.n_fft) // self.hop_length


# The mel setting for vocoders and voice conversion: 16 kHz speech, 80 mels up to 8 kHz.
SPEECH_MEL = MelConfig()


def linear_spectrogram(samples: torch.Tensor, n_fft: int, hop_length: int, *, win_length: int | None = None,
                       center: bool = True) -> torch.Tensor:
    """Compute the STFT magnitude with a periodic Hann window.

    Args:
        samples: (..., samples) audio.
        n_fft: FFT size, giving n_fft // 2 + 1 frequency bins.
        hop_length: samples between frames.
        win_length: window length, at most n_fft (zero-padded to n_fft). None means n_fft.
        center: reflect-pad n_fft // 2 samples at each end so frame t is centred on t * hop_length.

    Returns:
        (..., n_fft // 2 + 1, frames) magnitudes, with 1 + samples // hop_length frames when centred.

    Raises:
        ValueError: when the input is too short for the reflection padding or a single window.
    """
    win_length = n_fft if win_length is None else win_length
    num_samples = samples.shape[-1]
    shortest = n_fft // 2 + 1 if center else n_fft
    if num_samples < shortest:
        raise ValueError(f"The audio has {num_samples} samples, fewer than the {shortest} needed for an "
                         f"{n_fft}-point spectrogram. Pad it or use a smaller n_fft.")
    window = torch.hann_window(win_length, periodic=True, dtype=samples.dtype, device=samples.device)
    return audio_functional.spectrogram(
        samples, pad=0, window=window, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
        power=1.0, normalized=False, center=center, pad_mode="reflect", onesided=True,
    )


@functools.lru_cache(maxsize=16)
def _mel_filterbank_cpu(config: MelConfig) -> torch.Tensor:
    with warnings.catch_warnings():
        # torchaudio warns about empty filters; the check below raises with the fix instead.
        warnings.simplefilter("ignore", UserWarning)
        filterbank = audio_functional.melscale_fbanks(
            n_freqs=config.n_freqs, f_min=config.f_min_hz, f_max=config.max_frequency_hz, n_mels=config.n_mels,
            sample_rate=config.sample_rate_hz, norm=config.norm, mel_scale=config.mel_scale,
        )  # (freqs, mels)
    empty = int((filterbank.sum(dim=0) == 0).sum())
    if empty:
        bin_hz = config.sample_rate_hz / config.n_fft
        raise ValueError(f"MelConfig: {empty} of {config.n_mels} mel filters contain no FFT bin, because the bins "
                         f"are {bin_hz:.1f} Hz apart. Use fewer mels or a larger n_fft.")
    return filterbank


def mel_filterbank(config: MelConfig, device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Return the (n_fft // 2 + 1, n_mels) triangular filter matrix for ``config``.

    Raises:
        ValueError: when some filters fall between FFT bins and would always output zero.
    """
    return _mel_filterbank_cpu(config).to(device=device, dtype=dtype)


def mel_frequencies_hz(config: MelConfig) -> torch.Tensor:
    """Return the centre frequency of each mel filter in Hz, shaped (n_mels,)."""
    edges_mel = torch.linspace(_hz_to_mel(config.f_min_hz, config.mel_scale),
                               _hz_to_mel(config.max_frequency_hz, config.mel_scale),
                               config.n_mels + 2, dtype=torch.float64)
    return _mel_to_hz(edges_mel[1:-1], config.mel_scale)


def _hz_to_mel(frequency_hz: float, mel_scale: str) -> float:
    if mel_scale == "htk":
        return 2595.0 * math.log10(1.0 + frequency_hz / 700.0)
    # Slaney (Auditory Toolbox): linear below 1 kHz at 3 mels per 200 Hz, logarithmic above.
    if frequency_hz < 1000.0:
        return 3.0 * frequency_hz / 200.0
    return 15.0 + 27.0 * math.log(frequency_hz / 1000.0) / math.log(6.4)


def _mel_to_hz(mels: torch.Tensor, mel_scale: str) -> torch.Tensor:
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    linear_hz = 200.0 * mels / 3.0
    log_hz = 1000.0 * torch.exp(math.log(6.4) * (mels - 15.0) / 27.0)
    return torch.where(mels < 15.0, linear_hz, log_hz)


def mel_spectrogram(samples: torch.Tensor, config: MelConfig = SPEECH_MEL) -> torch.Tensor:
    """Compute the mel-scaled STFT magnitude.

    Args:
        samples: (..., samples) audio at ``config.sample_rate_hz``.
        config: the mel setting, SPEECH_MEL by default.

    Returns:
        (..., n_mels, frames) magnitudes.
    """
    magnitude = linear_spectrogram(samples, config.n_fft, config.hop_length, win_length=config.win_length,
                                   center=config.center)  # (..., freqs, frames)
    filterbank = mel_filterbank(config, samples.device, magnitude.dtype)  # (freqs, mels)
    return torch.matmul(magnitude.transpose(-1, -2), filterbank).transpose(-1, -2)  # (..., mels, frames)


def log_mel_spectrogram(samples: torch.Tensor, config: MelConfig = SPEECH_MEL) -> torch.Tensor:
    """Compute ln(max(mel magnitude, 1e-5)), the input and target scale of mel-based vocoders.

    Returns:
        (..., n_mels, frames) natural-log magnitudes, at least ln(1e-5) = -11.51.
    """
    return torch.log(torch.clamp(mel_spectrogram(samples, config), min=AMPLITUDE_FLOOR))


def amplitude_to_db(spec: torch.Tensor, top_db: float | None = 80.0, *, reference: float = 1.0,
                    amin: float = AMPLITUDE_FLOOR) -> torch.Tensor:
    """Convert magnitudes (not powers) to decibels: 20 * log10(max(spec, amin) / reference).

    Args:
        spec: (..., freqs, frames) magnitudes.
        top_db: clip each (freqs, frames) item to at most this far below its own maximum, so every
            item of a batch is treated as if alone; None disables clipping.
        reference: the magnitude that maps to 0 dB.
        amin: the floor applied before the logarithm.

    Returns:
        Decibels with the shape of ``spec``.
    """
    spec_db = 20.0 * torch.log10(torch.clamp(spec, min=amin) / reference)
    if top_db is None:
        return spec_db
    if spec_db.dim() < 2:
        raise ValueError(f"amplitude_to_db expects (..., freqs, frames), got shape {tuple(spec.shape)}.")
    peak_db = spec_db.amax(dim=(-2, -1), keepdim=True)
    return torch.maximum(spec_db, peak_db - top_db)


def trim_silence(samples: torch.Tensor, sample_rate_hz: int, threshold_db: float = -40.0, *,
                 frame_s: float = 0.025, pad_s: float = 0.05) -> tuple[torch.Tensor, tuple[int, int]]:
    """Cut leading and trailing silence.

    A frame counts as sound when its RMS level is within ``-threshold_db`` dB of the loudest frame,
    so the result does not depend on the recording gain. All leading dimensions (channels, batch)
    share one cut, taken from the loudest row per frame, so channels stay aligned.

    Args:
        samples: (..., samples) audio.
        sample_rate_hz: the sample rate, to convert ``frame_s`` and ``pad_s``.
        threshold_db: level relative to the loudest frame below which a frame is silence (negative).
        frame_s: RMS frame length; frames advance by a quarter of it.
        pad_s: audio kept before the first and after the last sound frame.

    Returns:
        (trimmed (..., kept samples), (start, end)) with ``trimmed = samples[..., start:end]``. For
        all-zero input the span is (0, 0) and ``trimmed`` is empty.
    """
    if threshold_db > 0 or frame_s <= 0 or pad_s < 0:
        raise ValueError(f"trim_silence: expected threshold_db <= 0, frame_s > 0 and pad_s >= 0, got "
                         f"{threshold_db}, {frame_s} and {pad_s}.")
    num_samples = samples.shape[-1]
    frame_length = max(1, min(num_samples, round(frame_s * sample_rate_hz)))
    hop = max(1, frame_length // 4)
    pad = round(pad_s * sample_rate_hz)
    if num_samples == 0:
        return samples, (0, 0)

    rows = samples.reshape(-1, num_samples)  # (rows, samples), rows = product of leading dims
    frames = rows.unfold(-1, frame_length, hop)  # (rows, frames, frame_length)
    frame_power = frames.double().pow(2).mean(dim=-1).amax(dim=0)  # (frames,), loudest row per frame
    peak_power = float(frame_power.max())
    if peak_power == 0.0:
        return samples[..., :0], (0, 0)

    loud = (frame_power >= peak_power * 10.0 ** (threshold_db / 10.0)).nonzero().flatten()
    start = max(0, int(loud[0]) * hop - pad)
    end = min(num_samples, int(loud[-1]) * hop + frame_length + pad)
    return samples[..., start:end], (start, end)


def loudness_dbfs(samples: torch.Tensor) -> torch.Tensor:
    """Measure the RMS level in dBFS (a full-scale square wave is 0 dBFS, a full-scale sine -3.01 dBFS).

    Args:
        samples: (samples,), (channels, samples) or (batch, channels, samples). Channels are
            measured together, each batch item separately.

    Returns:
        The level per item: a scalar for 1-D and 2-D input, (batch,) for 3-D input; -inf for silence.
    """
    dims = (-1,) if samples.dim() == 1 else (-2, -1)
    mean_square = samples.double().pow(2).mean(dim=dims)
    return (10.0 * torch.log10(mean_square)).to(samples.dtype)


def normalize_loudness(samples: torch.Tensor, target_dbfs: float = -23.0, *,
                       peak_limit_dbfs: float | None = -1.0) -> torch.Tensor:
    """Scale audio so its RMS level is ``target_dbfs``.

    The level is measured over the whole signal, so long silences lower it: trim silence first
    for speech. Silent items are returned unchanged.

    Args:
        samples: (samples,), (channels, samples) or (batch, channels, samples); each item gets
            one gain for all its channels, so the stereo balance is kept.
        target_dbfs: the RMS level to reach. -23 dBFS leaves 23 dB between the RMS level and full scale
            for speech peaks.
        peak_limit_dbfs: when the gain would push an item's peak above this level, the gain is lowered
            to meet it instead, and that item ends up quieter than the target. None disables the limit.

    Returns:
        Scaled samples with the input's shape.
    """
    dims = (-1,) if samples.dim() == 1 else (-2, -1)
    level_db = loudness_dbfs(samples).double()
    gain_db = torch.where(torch.isfinite(level_db), target_dbfs - level_db, torch.zeros_like(level_db))
    if peak_limit_dbfs is not None:
        peak = samples.detach().abs().amax(dim=dims).double()
        peak_db = 20.0 * torch.log10(peak)
        headroom_db = torch.where(peak > 0, peak_limit_dbfs - peak_db, torch.full_like(peak_db, math.inf))
        gain_db = torch.minimum(gain_db, headroom_db)
    gain = (10.0 ** (gain_db / 20.0)).to(samples.dtype)
    for _ in dims:
        gain = gain.unsqueeze(-1)  # (..., 1) or (..., 1, 1), broadcast over channels and samples
    return samples * gain
