"""A GAN vocoder of the HiFi-GAN family: an iSTFTNet-style generator, multi-period and multi-scale discriminators, losses.

Design, chosen for training on one CPU thread in about an hour and running far faster than real time:

- The generator (``Generator``) mixes the log-mel frames at frame rate with residual blocks of
  dilated convolutions. It can upsample them with transposed convolutions, each followed by a
  residual block, as HiFi-GAN does. Then it predicts the log-magnitude and phase of a short-time spectrum,
  which ``torch.istft`` turns into samples. This is the iSTFTNet idea (Kaneko et al., ICASSP 2022):
  the last upsampling stages of HiFi-GAN are its most expensive part, and an inverse STFT replaces
  them at a fraction of the cost.
- How much to upsample before the inverse STFT was decided by measuring. Fitting two 0.5 s crops
  of VCC 2016 speech with the mel and STFT losses for 400 steps (Adam, rate 2e-3, one CPU thread),
  upsampling by 2 into a 512-point STFT with hop 128 (the default) reached a log-mel L1 of 0.09,
  upsampling by 4 into a 256-point STFT with hop 64 reached 0.17, and upsampling by 16 into a
  64-point STFT with hop 16 (iSTFTNet's setting) was slowest (0.30 after 200 steps). PESQ of the
  fitted crops was about equal (1.89 and 1.91), and the default steps fastest (0.14 s for a batch
  of 8 x 8192 samples), so it learns the most per CPU second.
- The bundled model has a later choice, ``FRAME_RATE_GENERATOR``: no upsampling at all, and an
  inverse STFT with the mel analysis's own n_fft 1024 and hop 256, as in Vocos (Siuzdak, 2023).
  In warm-up runs on the full training data (one CPU thread, wide-band PESQ on six VCC validation
  sentences, bench/vocoder_validation.py) it scored 2.05, 2.28 and 2.35 at steps 1000, 2000 and
  3000. ``GeneratorConfig()`` scored 2.00 and 2.12 at steps 1000 and 2000, and upsampling by 2 into
  the same 1024-point inverse STFT with hop 128 scored 1.89 and 1.95 at steps 1000 and 1500. A
  frame-rate step took twice as long as a ``GeneratorConfig()`` step (0.27 s against 0.14 s), so
  early on the two learned about equally per CPU second; only the frame-rate shape was trained on.
- Two additions made the short CPU training work, both measured on held-out VCC speech. First, the
  predicted log-magnitude is a correction added to the mel filterbank's pseudo-inverse, the
  magnitude Griffin-Lim starts from. Second, the phase comes out as a 2-D vector per bin, as in
  APNet (Ai and Ling, 2023), and an anti-wrapping phase loss compares it with the real phase. In a
  run without them, PESQ was 1.43 after 2000 steps. With the prior and a plain angle output it
  reached 1.8 and stopped there. Resynthesis with the model's magnitude and the true phase then
  scored 2.7 to 2.9, so the phase was the bottleneck. On the crop-fitting test above, the vector
  output reached PESQ 2.94 in 300 steps, against 2.25 for the plain angle.
- The multi-period discriminator (periods 2, 3, 5, 7, 11) and the multi-scale discriminator (raw,
  2x and 4x average-pooled audio) follow HiFi-GAN with narrower layers, because their cost
  dominates a CPU training step (0.9 s for an adversarial step of the bundled model, 0.3 s without).
- The generator loss adds least-squares adversarial terms, feature matching, the L1 distance of
  log-mels (SPEECH_MEL), a multi-resolution STFT loss (spectral convergence plus log-magnitude
  L1, as in Parallel WaveGAN) and the phase loss. Training starts without the adversarial terms,
  because those steps are about 3 times cheaper. For the bundled model the adversarial terms came
  last and light (``LossWeights``); with HiFi-GAN's weights the first 500 adversarial steps cost 0.4
  PESQ.

Audio tensors are (batch, channels, samples); log-mels are (batch, mels, frames).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from engine.audio.features import (AMPLITUDE_FLOOR, SPEECH_MEL, MelConfig, linear_spectrogram, log_mel_spectrogram,
                                   mel_filterbank)

LEAKY_SLOPE = 0.1  # HiFi-GAN's LeakyReLU slope
# exp() of the predicted log-magnitude is capped here (about 40 dB above full scale) so that an early,
# untrained generator cannot overflow the inverse STFT.
MAX_LOG_MAGNITUDE = 4.6


@dataclass(frozen=True)
class GeneratorConfig:
    """Sizes of the generator. ``hop_length`` must equal prod(upsample_rates) * istft_hop."""

    n_mels: int = 80
    hop_length: int = 256
    channels: int = 192  # width after the input convolution, halved by each upsampling stage
    frame_blocks: int = 2  # residual blocks at frame rate, which add context across frames cheaply
    # The default upsampling and inverse STFT were chosen by measurement (see the module docstring).
    upsample_rates: tuple[int, ...] = (2,)
    block_kernel: int = 3
    block_dilations: tuple[int, ...] = (1, 3, 9)
    istft_n_fft: int = 512
    istft_hop: int = 128
    # Add the mel filterbank's pseudo-inverse (the magnitude Griffin-Lim starts from) to the predicted
    # log-magnitude, so the network learns a correction and the phase instead of the whole spectrum.
    magnitude_prior: bool = True
    # "angle": one output channel per bin is the phase in radians. "vector": two channels per bin form
    # a 2-D vector whose direction is the phase (APNet's parallel phase estimation), which avoids
    # asking a convolution for values that jump at every wrap of the angle.
    phase_output: str = "vector"

    def __post_init__(self) -> None:
        upsampled = math.prod(self.upsample_rates) * self.istft_hop
        if upsampled != self.hop_length:
            raise ValueError(f"GeneratorConfig: prod(upsample_rates) * istft_hop = {upsampled} must equal hop_length "
                             f"{self.hop_length}; change upsample_rates {self.upsample_rates} or istft_hop {self.istft_hop}.")
        if self.channels // 2 ** len(self.upsample_rates) < 1:
            raise ValueError(f"GeneratorConfig: channels {self.channels} are too few for "
                             f"{len(self.upsample_rates)} upsampling stages that each halve them.")
        if self.magnitude_prior and SPEECH_MEL.n_fft % self.istft_n_fft:
            raise ValueError(f"GeneratorConfig: the magnitude prior needs istft_n_fft {self.istft_n_fft} to divide "
                             f"the mel n_fft {SPEECH_MEL.n_fft}; change istft_n_fft or set magnitude_prior False.")
        if self.phase_output not in ("angle", "vector"):
            raise ValueError(f"GeneratorConfig: phase_output must be 'angle' or 'vector', got {self.phase_output!r}.")
        if self.istft_n_fft < self.istft_hop:
            raise ValueError(f"GeneratorConfig: istft_n_fft {self.istft_n_fft} must be at least istft_hop {self.istft_hop}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GeneratorConfig:
        known = {key: value for key, value in values.items() if key in cls.__dataclass_fields__}
        for key in ("upsample_rates", "block_dilations"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


# The bundled model's generator (see the module docstring): no transposed convolution, and an inverse
# STFT with the mel analysis's own n_fft and hop, so the network predicts one spectrum frame per mel
# frame. The width and depth give it about 70 frames of context on each side at 3.5 M parameters.
FRAME_RATE_GENERATOR = GeneratorConfig(channels=256, frame_blocks=4, upsample_rates=(), istft_n_fft=1024,
                                       istft_hop=256)


@dataclass(frozen=True)
class DiscriminatorConfig:
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    period_channels: tuple[int, ...] = (16, 32, 64, 128)
    scales: int = 3  # the raw signal plus (scales - 1) signals, each average-pooled by 2 from the last
    scale_channels: tuple[int, ...] = (16, 32, 64, 128, 128)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DiscriminatorConfig:
        known = {key: tuple(value) if isinstance(value, list) else value
                 for key, value in values.items() if key in cls.__dataclass_fields__}
        return cls(**known)


# ------------------------------------------------------------------------------------------ generator

class ResidualBlock(nn.Module):
    """Dilated convolutions with a residual connection around each (HiFi-GAN's ResBlock1 pattern)."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.dilated = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2))
            for d in dilations)
        self.pointwise = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2))
            for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, pointwise in zip(self.dilated, self.pointwise):
            residual = pointwise(F.leaky_relu(dilated(F.leaky_relu(x, LEAKY_SLOPE)), LEAKY_SLOPE))
            x = x + residual
        return x


class Generator(nn.Module):
    """Log-mel frames to audio: frame-rate context, transposed-convolution upsampling, inverse STFT."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()) -> None:
        super().__init__()
        self.config = config
        channels = config.channels
        self.input_conv = weight_norm(nn.Conv1d(config.n_mels, channels, 7, padding=3))
        self.frame_blocks = nn.ModuleList(
            ResidualBlock(channels, config.block_kernel, config.block_dilations) for _ in range(config.frame_blocks))

        self.upsamplers = nn.ModuleList()
        self.upsample_blocks = nn.ModuleList()
        for rate in config.upsample_rates:
            # Kernel 2 * rate with padding rate // 2 gives exactly ``rate`` outputs per input step
            # (for even rates) and lets neighbouring steps overlap, which avoids checkerboard artefacts.
            self.upsamplers.append(weight_norm(nn.ConvTranspose1d(
                channels, channels // 2, 2 * rate, stride=rate, padding=rate // 2 + rate % 2, output_padding=rate % 2)))
            channels //= 2
            self.upsample_blocks.append(ResidualBlock(channels, config.block_kernel, config.block_dilations))

        self.bins = config.istft_n_fft // 2 + 1
        phase_channels = 2 * self.bins if config.phase_output == "vector" else self.bins
        self.output_conv = weight_norm(nn.Conv1d(channels, self.bins + phase_channels, 7, padding=3))
        self.register_buffer("istft_window", torch.hann_window(config.istft_n_fft, periodic=True), persistent=False)
        if config.magnitude_prior:
            self.register_buffer("prior_matrix", _magnitude_prior_matrix(config), persistent=False)
            # Start with small corrections, so the first outputs carry the prior's magnitudes.
            with torch.no_grad():
                self.output_conv.parametrizations.weight.original0.mul_(0.1)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Synthesize audio.

        Args:
            log_mel: (batch, n_mels, frames) natural-log mels, as ``log_mel_spectrogram`` computes them.

        Returns:
            (batch, 1, (frames - 1) * hop_length) audio, the length a centred STFT of that many
            frames came from.
        """
        if log_mel.dim() != 3 or log_mel.shape[1] != self.config.n_mels:
            raise ValueError(f"Generator: expected log-mels shaped (batch, {self.config.n_mels}, frames), "
                             f"got {tuple(log_mel.shape)}.")
        if log_mel.shape[-1] < 2:
            raise ValueError(f"Generator: needs at least 2 mel frames, got {log_mel.shape[-1]}.")
        return self.inverse_stft(self.spectrum(log_mel), (log_mel.shape[-1] - 1) * self.config.hop_length).unsqueeze(1)

    def spectrum(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Return the predicted (batch, bins, frames * upsampling) complex STFT, in complex64."""
        x = self.input_conv(log_mel)
        for block in self.frame_blocks:
            x = block(x)
        for upsample, block in zip(self.upsamplers, self.upsample_blocks):
            x = block(upsample(F.leaky_relu(x, LEAKY_SLOPE)))
        x = self.output_conv(F.leaky_relu(x, LEAKY_SLOPE)).float()  # (batch, 2 * bins, frames * upsampling)
        log_magnitude, phase = x[:, :self.bins], x[:, self.bins:]
        if self.config.phase_output == "vector":
            phase = torch.atan2(phase[:, self.bins:], phase[:, :self.bins])
        if self.config.magnitude_prior:
            log_magnitude = log_magnitude + self._log_magnitude_prior(log_mel.float(), x.shape[-1])
        return torch.polar(torch.exp(log_magnitude.clamp(max=MAX_LOG_MAGNITUDE)), phase)

    def _log_magnitude_prior(self, log_mel: torch.Tensor, steps: int) -> torch.Tensor:
        """Return the (batch, bins, steps) log pseudo-inverse magnitudes, interpolated to the STFT steps."""
        linear = torch.matmul(self.prior_matrix, torch.exp(log_mel))  # (batch, bins, frames)
        log_prior = torch.log(linear.clamp_min(AMPLITUDE_FLOOR))
        frames = log_mel.shape[-1]
        rate = steps // frames
        # Step j sits at frame j / rate, so frame t lands exactly on step t * rate.
        interpolated = F.interpolate(log_prior, size=(frames - 1) * rate + 1, mode="linear", align_corners=True)
        return F.pad(interpolated, (0, rate - 1), mode="replicate")

    def inverse_stft(self, spectrum: torch.Tensor, length: int) -> torch.Tensor:
        """Turn a (batch, bins, steps) complex spectrum into (batch, length) audio."""
        return torch.istft(spectrum, n_fft=self.config.istft_n_fft, hop_length=self.config.istft_hop,
                           win_length=self.config.istft_n_fft, window=self.istft_window, center=True,
                           length=length)


def _magnitude_prior_matrix(config: GeneratorConfig) -> torch.Tensor:
    """Return the (istft bins, n_mels) map from mel magnitudes to the generator's STFT magnitudes.

    It is the pseudo-inverse of SPEECH_MEL's filterbank (the caller clamps negative results), read at
    the inverse STFT's bin frequencies and scaled by the window length ratio, because a sinusoid's
    peak STFT magnitude grows with the Hann window's length.
    """
    pseudo_inverse = torch.linalg.pinv(mel_filterbank(SPEECH_MEL, "cpu", torch.float64))  # (mels, freqs)
    stride = SPEECH_MEL.n_fft // config.istft_n_fft
    matrix = pseudo_inverse.T[::stride] * (config.istft_n_fft / SPEECH_MEL.n_fft)  # (bins, mels)
    return matrix.float()


# ------------------------------------------------------------------------------------ discriminators

class PeriodDiscriminator(nn.Module):
    """Folds audio into (samples / period, period) columns and scores them with 2-D convolutions."""

    def __init__(self, period: int, channels: Sequence[int]) -> None:
        super().__init__()
        self.period = period
        layers = []
        in_channels = 1
        for index, out_channels in enumerate(channels):
            stride = 3 if index < len(channels) - 1 else 1
            layers.append(weight_norm(nn.Conv2d(in_channels, out_channels, (5, 1), (stride, 1), padding=(2, 0))))
            in_channels = out_channels
        self.layers = nn.ModuleList(layers)
        self.output = weight_norm(nn.Conv2d(in_channels, 1, (3, 1), padding=(1, 0)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, samples = audio.shape
        if samples % self.period:
            audio = F.pad(audio, (0, self.period - samples % self.period), mode="reflect")
        x = audio.view(batch, channels, -1, self.period)  # (batch, 1, samples / period, period)
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), LEAKY_SLOPE)
            features.append(x)
        x = self.output(x)
        features.append(x)
        return x.flatten(1), features


class ScaleDiscriminator(nn.Module):
    """Strided and grouped 1-D convolutions over audio at one sample rate."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        layers = [weight_norm(nn.Conv1d(1, channels[0], 15, padding=7))]
        for in_channels, out_channels in zip(channels[:-1], channels[1:]):
            groups = math.gcd(in_channels, out_channels) // 4 or 1
            layers.append(weight_norm(nn.Conv1d(in_channels, out_channels, 41, stride=4, padding=20, groups=groups)))
        layers.append(weight_norm(nn.Conv1d(channels[-1], channels[-1], 5, padding=2)))
        self.layers = nn.ModuleList(layers)
        self.output = weight_norm(nn.Conv1d(channels[-1], 1, 3, padding=1))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        x = audio
        for layer in self.layers:
            x = F.leaky_relu(layer(x), LEAKY_SLOPE)
            features.append(x)
        x = self.output(x)
        features.append(x)
        return x.flatten(1), features


class Discriminators(nn.Module):
    """All period and scale discriminators; ``forward`` returns every score map and feature list."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()) -> None:
        super().__init__()
        self.config = config
        self.period = nn.ModuleList(PeriodDiscriminator(period, config.period_channels) for period in config.periods)
        self.scale = nn.ModuleList(ScaleDiscriminator(config.scale_channels) for _ in range(config.scales))

    def forward(self, audio: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        scores, features = [], []
        for discriminator in self.period:
            score, feature = discriminator(audio)
            scores.append(score)
            features.append(feature)
        pooled = audio
        for index, discriminator in enumerate(self.scale):
            if index:
                pooled = F.avg_pool1d(pooled, 4, stride=2, padding=2)
            score, feature = discriminator(pooled)
            scores.append(score)
            features.append(feature)
        return scores, features


# ------------------------------------------------------------------------------------------- losses

@dataclass(frozen=True)
class StftResolution:
    n_fft: int
    hop_length: int


# Three resolutions from 16 ms to 64 ms windows at 16 kHz, each hop a quarter window.
DEFAULT_STFT_RESOLUTIONS = (StftResolution(256, 64), StftResolution(512, 128), StftResolution(1024, 256))


def multi_resolution_stft_loss(fake: torch.Tensor, real: torch.Tensor,
                               resolutions: Sequence[StftResolution] = DEFAULT_STFT_RESOLUTIONS) -> torch.Tensor:
    """Return the mean over resolutions of spectral convergence plus log-magnitude L1.

    Args:
        fake, real: (batch, 1, samples) audio of equal length.
    """
    total = fake.new_zeros(())
    for resolution in resolutions:
        fake_magnitude = linear_spectrogram(fake.float().squeeze(1), resolution.n_fft, resolution.hop_length).clamp_min(1e-5)
        real_magnitude = linear_spectrogram(real.float().squeeze(1), resolution.n_fft, resolution.hop_length).clamp_min(1e-5)
        convergence = torch.linalg.norm(real_magnitude - fake_magnitude) / torch.linalg.norm(real_magnitude).clamp_min(1e-5)
        log_l1 = F.l1_loss(torch.log(fake_magnitude), torch.log(real_magnitude))
        total = total + convergence + log_l1
    return total / len(resolutions)


def _anti_wrap(angle: torch.Tensor) -> torch.Tensor:
    """Return the distance of each angle difference to the nearest multiple of 2 pi, in [0, pi]."""
    return torch.abs(angle - 2 * math.pi * torch.round(angle / (2 * math.pi)))


def phase_loss(predicted: torch.Tensor, real: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """Return anti-wrapping phase losses: instantaneous phase, group delay and time difference.

    The three terms follow APNet (Ai and Ling, 2023). They compare the generator's predicted phase
    with the phase of the real audio's STFT at the same resolution, each difference wrapped to
    [0, pi]. Unlike APNet, bins are weighted by the real magnitude, so that silent bins, whose
    phase is noise, count little.

    Args:
        predicted: (batch, bins, steps) complex spectrum from ``Generator.spectrum``.
        real: (batch, 1, samples) audio.
    """
    window = torch.hann_window(n_fft, periodic=True, device=real.device)
    target = torch.stft(real.float().squeeze(1), n_fft, hop_length, window=window, center=True,
                        return_complex=True)  # (batch, bins, frames)
    steps = min(target.shape[-1], predicted.shape[-1])
    target, predicted = target[..., :steps], predicted[..., :steps]
    weight = target.abs()
    weight = weight / weight.sum(dim=(1, 2), keepdim=True).clamp_min(1e-8)
    difference = predicted.angle() - target.angle()
    instantaneous = (_anti_wrap(difference) * weight).sum(dim=(1, 2))
    group_delay = (_anti_wrap(torch.diff(difference, dim=1)) * weight[:, 1:]).sum(dim=(1, 2))
    time_difference = (_anti_wrap(torch.diff(difference, dim=2)) * weight[..., 1:]).sum(dim=(1, 2))
    return (instantaneous + group_delay + time_difference).mean()


def mel_l1_loss(fake: torch.Tensor, real_log_mel: torch.Tensor, config: MelConfig = SPEECH_MEL) -> torch.Tensor:
    """Return the L1 distance between the log-mels of ``fake`` (batch, 1, samples) and ``real_log_mel``."""
    fake_log_mel = log_mel_spectrogram(fake.float().squeeze(1), config)
    frames = min(fake_log_mel.shape[-1], real_log_mel.shape[-1])
    return F.l1_loss(fake_log_mel[..., :frames], real_log_mel[..., :frames].float())


def discriminator_loss(real_scores: Sequence[torch.Tensor], fake_scores: Sequence[torch.Tensor]) -> torch.Tensor:
    """Least-squares GAN loss for the discriminators: real scores toward 1, fake toward 0."""
    total = real_scores[0].new_zeros((), dtype=torch.float32)
    for real, fake in zip(real_scores, fake_scores):
        total = total + torch.mean((1 - real.float()) ** 2) + torch.mean(fake.float() ** 2)
    return total


def adversarial_loss(fake_scores: Sequence[torch.Tensor]) -> torch.Tensor:
    """Least-squares GAN loss for the generator: fake scores toward 1."""
    total = fake_scores[0].new_zeros((), dtype=torch.float32)
    for fake in fake_scores:
        total = total + torch.mean((1 - fake.float()) ** 2)
    return total


def feature_matching_loss(real_features: Sequence[Sequence[torch.Tensor]],
                          fake_features: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """Return the summed mean L1 distance between discriminator activations on real and generated audio."""
    total = torch.zeros((), dtype=torch.float32, device=fake_features[0][0].device)
    for real_list, fake_list in zip(real_features, fake_features):
        for real, fake in zip(real_list, fake_list):
            total = total + F.l1_loss(fake.float(), real.detach().float())
    return total


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator's loss terms, keyed like the metrics they produce.

    The STFT and adversarial weights were set by validation PESQ (docs/benchmarks.md). With 4 times
    the first bundled model's STFT weight of 2.5, PESQ kept rising where it had levelled off.
    HiFi-GAN's adversarial weight 1 and feature matching weight 2 cost 0.4 PESQ in the first 500
    adversarial steps. A fifth of each cost at most 0.06.
    """

    mel: float = 45.0  # HiFi-GAN's weight
    stft: float = 10.0
    phase: float = 10.0
    adversarial: float = 0.2
    feature_matching: float = 0.4

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def parameter_count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


@dataclass
class VocoderNetworks:
    """The generator and discriminators of one run, built from their configs."""

    generator: Generator
    discriminators: Discriminators
    generator_config: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator_config: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)


def build_networks(generator_config: GeneratorConfig = GeneratorConfig(),
                   discriminator_config: DiscriminatorConfig = DiscriminatorConfig()) -> VocoderNetworks:
    return VocoderNetworks(Generator(generator_config), Discriminators(discriminator_config),
                           generator_config, discriminator_config)
