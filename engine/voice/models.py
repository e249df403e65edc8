"""Networks for voice conversion on (batch, mels, frames) normalised log-mels.

CycleGAN-VC uses ``GatedGenerator`` and ``PatchDiscriminator``. The multi-target model uses
``ContentEncoder``, ``SpeakerDecoder`` and ``CodeClassifier`` in stage 1 and ``Refiner`` with
``PatchDiscriminator`` (with a speaker head) in stage 2. All are fully convolutional over time, so
any length works; inputs are padded to a multiple of ``FRAME_MULTIPLE`` frames and cropped back.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# Two stride-2 stages in the generator and encoder need frame counts divisible by 4.
FRAME_MULTIPLE = 4


def pad_frames(x: torch.Tensor, multiple: int = FRAME_MULTIPLE) -> tuple[torch.Tensor, int]:
    """Pad (batch, channels, frames) on the right by replication to a multiple; return it and the pad."""
    extra = (-x.shape[-1]) % multiple
    if extra:
        x = F.pad(x, (0, extra), mode="replicate")
    return x, extra


class GatedConv(nn.Module):
    """A gated linear unit convolution: conv to 2C channels, optional instance norm, then a * sigmoid(b)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 norm: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, 2 * out_channels, kernel_size, stride, padding=kernel_size // 2)
        self.norm = nn.InstanceNorm1d(2 * out_channels, affine=True) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.glu(self.norm(self.conv(x)), dim=1)


class GatedResidual(nn.Module):
    """x + conv(GLU(conv(x))), the residual block of CycleGAN-VC, with optional conditioning channels."""

    def __init__(self, channels: int, kernel_size: int = 5, condition_dim: int = 0, norm: bool = True) -> None:
        super().__init__()
        self.gate = GatedConv(channels + condition_dim, channels, kernel_size, norm=norm)
        self.out = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        inputs = x if condition is None else torch.cat([x, condition.expand(-1, -1, x.shape[-1])], dim=1)
        return x + self.out(self.gate(inputs))


class GatedGenerator(nn.Module):
    """CycleGAN-VC generator: gated convs, two stride-2 downsamplings, residual blocks, upsampling.

    There is no skip from input to output, as in CycleGAN-VC: with one, short training runs kept
    too much of the source spectrum (on VCC 2016 TM3->SF1 the MCD to the target stayed above the
    unconverted source's).
    """

    def __init__(self, mels: int, channels: int = 128, residual_blocks: int = 4) -> None:
        super().__init__()
        self.inp = GatedConv(mels, channels, 7, norm=False)
        self.down = nn.Sequential(GatedConv(channels, 2 * channels, 5, stride=2),
                                  GatedConv(2 * channels, 2 * channels, 5, stride=2))
        self.blocks = nn.ModuleList(GatedResidual(2 * channels) for _ in range(residual_blocks))
        self.up1 = GatedConv(2 * channels, channels, 5)
        self.up2 = GatedConv(channels, channels, 5)
        self.out = nn.Conv1d(channels, mels, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        padded, _ = pad_frames(x)
        h = self.down(self.inp(padded))  # (batch, 2C, frames / 4)
        for block in self.blocks:
            h = block(h)
        h = self.up1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.up2(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.out(h)[..., :frames]


class PatchDiscriminator(nn.Module):
    """Gated conv discriminator with a real/fake score per time patch and an optional speaker head."""

    def __init__(self, mels: int, channels: int = 128, speakers: int = 0) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            GatedConv(mels, channels, 3, norm=False),
            GatedConv(channels, 2 * channels, 3, stride=2),
            GatedConv(2 * channels, 2 * channels, 3, stride=2),
            GatedConv(2 * channels, 2 * channels, 3),
        )
        self.adversarial = nn.Conv1d(2 * channels, 1, 3, padding=1)
        self.speaker = nn.Linear(2 * channels, speakers) if speakers else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return (patch scores (batch, 1, patches), speaker logits (batch, speakers) or None)."""
        h = self.trunk(x)
        logits = self.speaker(h.mean(dim=-1)) if self.speaker is not None else None
        return self.adversarial(h), logits


class ContentEncoder(nn.Module):
    """Maps a log-mel to a code at half the frame rate; instance norms strip per-utterance speaker statistics."""

    def __init__(self, mels: int, channels: int = 128, code_dim: int = 32, residual_blocks: int = 3) -> None:
        super().__init__()
        self.inp = GatedConv(mels, channels, 5)
        self.down = GatedConv(channels, channels, 5, stride=2)
        self.blocks = nn.ModuleList(GatedResidual(channels) for _ in range(residual_blocks))
        self.out = nn.Conv1d(channels, code_dim, 1)
        self.code_norm = nn.InstanceNorm1d(code_dim, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.down(self.inp(x))  # (batch, C, frames / 2)
        for block in self.blocks:
            h = block(h)
        return self.code_norm(self.out(h))  # (batch, code_dim, frames / 2)


class SpeakerDecoder(nn.Module):
    """Maps a content code and a speaker embedding, given to every block, back to a log-mel."""

    def __init__(self, mels: int, speakers: int, channels: int = 128, code_dim: int = 32, embed_dim: int = 64,
                 residual_blocks: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(speakers, embed_dim)
        self.inp = GatedConv(code_dim + embed_dim, channels, 5, norm=False)
        self.blocks = nn.ModuleList(GatedResidual(channels, condition_dim=embed_dim, norm=False)
                                    for _ in range(residual_blocks))
        self.up = GatedConv(channels + embed_dim, channels, 5, norm=False)
        self.out = nn.Conv1d(channels, mels, 5, padding=2)

    def forward(self, code: torch.Tensor, speaker: torch.Tensor, frames: int) -> torch.Tensor:
        """Return (batch, mels, frames) for (batch, code_dim, frames / 2) codes and (batch,) speaker ids."""
        condition = self.embedding(speaker)[:, :, None]  # (batch, embed_dim, 1)
        h = self.inp(torch.cat([code, condition.expand(-1, -1, code.shape[-1])], dim=1))
        for block in self.blocks:
            h = block(h, condition)
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.up(torch.cat([h, condition.expand(-1, -1, h.shape[-1])], dim=1))
        return self.out(h)[..., :frames]


class CodeClassifier(nn.Module):
    """Predicts the speaker from a content code; the encoder is trained to make it fail."""

    def __init__(self, speakers: int, code_dim: int = 32, channels: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(code_dim, channels, 5, padding=2), nn.LeakyReLU(0.2),
            nn.Conv1d(channels, channels, 5, padding=2), nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(channels, speakers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(code).mean(dim=-1))  # (batch, speakers)


class Refiner(nn.Module):
    """Stage-2 generator: adds a speaker-conditioned residual to the decoder's log-mel."""

    def __init__(self, mels: int, speakers: int, channels: int = 128, embed_dim: int = 64,
                 residual_blocks: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(speakers, embed_dim)
        self.inp = GatedConv(mels + embed_dim, channels, 5, norm=False)
        self.blocks = nn.ModuleList(GatedResidual(channels, condition_dim=embed_dim, norm=False)
                                    for _ in range(residual_blocks))
        self.out = nn.Conv1d(channels, mels, 5, padding=2)
        nn.init.zeros_(self.out.weight)  # start as the identity, so stage 2 begins at the stage-1 output
        nn.init.zeros_(self.out.bias)

    def forward(self, mel: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        condition = self.embedding(speaker)[:, :, None]  # (batch, embed_dim, 1)
        h = self.inp(torch.cat([mel, condition.expand(-1, -1, mel.shape[-1])], dim=1))
        for block in self.blocks:
            h = block(h, condition)
        return mel + self.out(h)
