"""Small MLP generator and discriminator for 2-D points, and the GAN losses that train them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.registry import Registry


class Generator(nn.Module):
    """Maps noise (batch, noise_dim) to points (batch, 2) through three hidden ReLU layers."""

    def __init__(self, noise_dim: int = 2, hidden: int = 128) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.net = nn.Sequential(
            nn.Linear(noise_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise)


class Discriminator(nn.Module):
    """Maps points (batch, 2) to one raw score per point (batch,); a logit for the sigmoid losses.

    No normalisation layers: the WGAN-GP penalty is defined per sample, which batch norm would break.
    """

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.net(points).squeeze(-1)  # (batch, 1) -> (batch,)


# ------------------------------------------------------------------------------------------ losses

@dataclass(frozen=True)
class DiscriminatorLoss:
    """The discriminator's loss to minimise, and detached extra values for the metrics dict."""

    loss: torch.Tensor
    extras: dict[str, float]


class GanLoss:
    """A GAN objective: what the discriminator and the generator each minimise.

    ``score_is_logit`` is True when the discriminator's raw score is a logit, so sigmoid(score) is
    the probability that a point is real, and False for an unbounded critic value.
    """

    name = ""
    score_is_logit = True

    def discriminator_loss(self, discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                           fake: torch.Tensor, rng: torch.Generator) -> DiscriminatorLoss:
        """Score real (batch, 2) and fake (batch, 2) points in one forward pass and return D's loss.

        One forward pass over the concatenated batch keeps DistributedDataParallel to one forward
        per backward. ``rng`` is a CPU generator for any randomness the loss needs.
        """
        scores = discriminator(torch.cat([real, fake]))
        real_scores, fake_scores = scores[: len(real)], scores[len(real):]
        return DiscriminatorLoss(self.discriminator_objective(real_scores, fake_scores),
                                 _score_extras(real_scores, fake_scores))

    def discriminator_objective(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """Return the generator's loss from the discriminator's scores (batch,) of fake points."""
        raise NotImplementedError


def _score_extras(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> dict[str, float]:
    return {"d/real_score": float(real_scores.detach().mean()), "d/fake_score": float(fake_scores.detach().mean())}


class MinimaxLoss(GanLoss):
    """The original GAN game: G minimises log(1 - D(G(z))), which saturates when D wins early."""

    name = "minimax"

    def discriminator_objective(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        # -log sigmoid(r) - log(1 - sigmoid(f)), written with softplus for numerical stability.
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake_scores).mean()  # log(1 - sigmoid(f)) = -softplus(f)


class NonSaturatingLoss(MinimaxLoss):
    """The usual GAN loss: G maximises log D(G(z)) instead, which gives strong gradients early."""

    name = "nonsaturating"

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_scores).mean()  # -log sigmoid(f)


class HingeLoss(GanLoss):
    """Hinge loss: D pushes real scores above +1 and fake scores below -1; G raises fake scores."""

    name = "hinge"
    score_is_logit = False

    def discriminator_objective(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return -fake_scores.mean()


class WganGpLoss(GanLoss):
    """Wasserstein loss with a gradient penalty pulling the critic's gradient norm towards 1.

    The penalty is evaluated at random points on lines between real and fake samples.
    """

    name = "wgan-gp"
    score_is_logit = False

    def __init__(self, gp_weight: float = 0.1) -> None:
        self.gp_weight = gp_weight

    def discriminator_loss(self, discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                           fake: torch.Tensor, rng: torch.Generator) -> DiscriminatorLoss:
        mix = torch.rand(len(real), 1, generator=rng).to(real.device)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        scores = discriminator(torch.cat([real, fake, between]))
        real_scores, fake_scores, between_scores = scores.split([len(real), len(fake), len(between)])

        (gradient,) = torch.autograd.grad(between_scores.sum(), between, create_graph=True)
        penalty = ((gradient.norm(dim=1) - 1) ** 2).mean()
        wasserstein = real_scores.mean() - fake_scores.mean()

        extras = _score_extras(real_scores, fake_scores)
        extras["loss/gp"] = float(penalty.detach())
        extras["d/wasserstein"] = float(wasserstein.detach())
        return DiscriminatorLoss(-wasserstein + self.gp_weight * penalty, extras)

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return -fake_scores.mean()


LOSSES: Registry[Callable[..., GanLoss]] = Registry("loss")
LOSSES.add("minimax", MinimaxLoss)
LOSSES.add("nonsaturating", NonSaturatingLoss)
LOSSES.add("hinge", HingeLoss)
LOSSES.add("wgan-gp", WganGpLoss)


def build_loss(name: str, gp_weight: float = 0.1) -> GanLoss:
    """Create the named loss; ``gp_weight`` only applies to "wgan-gp"."""
    factory = LOSSES.get(name)
    return factory(gp_weight) if name == "wgan-gp" else factory()
