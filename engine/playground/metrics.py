"""Sample-quality measures for 2-D GANs: mode coverage, sliced Wasserstein distance and MMD."""

from __future__ import annotations

from dataclasses import dataclass

import torch

# A mode counts as covered when it receives at least this share of the samples a perfect generator
# would give it (N / modes). A quarter tolerates uneven mode weights but not a few stray samples.
DEFAULT_MIN_SHARE = 0.25


@dataclass(frozen=True)
class ModeCoverage:
    covered: int  # modes with at least min_share * N / modes samples within the radius
    total: int  # number of modes
    high_quality: float  # fraction of all samples within the radius of some mode, in [0, 1]
    counts: tuple[int, ...]  # samples within the radius of each mode


def modes_covered(fake: torch.Tensor, centers: torch.Tensor, radius: float,
                  min_share: float = DEFAULT_MIN_SHARE) -> ModeCoverage:
    """Count the modes a generator covers and the share of its samples that land near a mode.

    Each sample is assigned to its nearest center. It is "high quality" when that center is within
    ``radius``, usually 3 standard deviations of a component.

    Args:
        fake: generated points, (batch, 2).
        centers: mode centers, (modes, 2).
        radius: distance in data units.
        min_share: see DEFAULT_MIN_SHARE.

    Returns:
        A ModeCoverage.

    Raises:
        ValueError: when ``fake`` is empty or the shapes are not (batch, 2) and (modes, 2).
    """
    if fake.ndim != 2 or centers.ndim != 2 or fake.shape[1] != centers.shape[1] or len(fake) == 0 or len(centers) == 0:
        raise ValueError(f"Expected fake (batch, 2) and centers (modes, 2) with batch, modes > 0; "
                         f"got {tuple(fake.shape)} and {tuple(centers.shape)}.")
    fake, centers = fake.detach().float().cpu(), centers.detach().float().cpu()
    distances = torch.cdist(fake, centers)  # (batch, modes)
    nearest_distance, nearest = distances.min(dim=1)
    near = nearest_distance <= radius
    counts = torch.bincount(nearest[near], minlength=len(centers))
    needed = min_share * len(fake) / len(centers)
    return ModeCoverage(
        covered=int((counts >= needed).sum()),
        total=len(centers),
        high_quality=float(near.float().mean()),
        counts=tuple(int(count) for count in counts),
    )


def sliced_wasserstein(real: torch.Tensor, fake: torch.Tensor, n_projections: int = 128,
                       generator: torch.Generator | None = None) -> float:
    """Estimate the sliced 1-Wasserstein distance between two equally sized point sets.

    Both sets are projected on ``n_projections`` random unit directions; on each line the distance
    is the mean absolute gap between the sorted projections. The result is the mean over lines, in
    data units. Two independent samples of the same distribution give a small positive floor.

    Raises:
        ValueError: when the sets differ in size or dimension.
    """
    if real.shape != fake.shape or real.ndim != 2:
        raise ValueError(f"Expected two (batch, dims) sets of equal shape; got {tuple(real.shape)} and {tuple(fake.shape)}.")
    real, fake = real.detach().float().cpu(), fake.detach().float().cpu()
    directions = torch.randn(real.shape[1], n_projections, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)  # (dims, projections), unit columns
    real_projected = torch.sort(real @ directions, dim=0).values  # (batch, projections)
    fake_projected = torch.sort(fake @ directions, dim=0).values
    return float((real_projected - fake_projected).abs().mean())


def mmd_rbf(real: torch.Tensor, fake: torch.Tensor, bandwidths: tuple[float, ...] = (0.05, 0.2, 1.0)) -> float:
    """Return the unbiased squared maximum mean discrepancy with a sum of RBF kernels.

    ``bandwidths`` are kernel widths in data units, chosen to see both the spread of one mode
    and the layout of the modes. Values near 0 (even slightly negative) mean matching sets.
    """
    real, fake = real.detach().float().cpu(), fake.detach().float().cpu()
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"MMD needs at least 2 points per set; got {len(real)} and {len(fake)}.")

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        squared = torch.cdist(a, b) ** 2  # (len(a), len(b))
        return sum(torch.exp(-squared / (2 * width**2)) for width in bandwidths)

    n, m = len(real), len(fake)
    kernel_real = kernel(real, real)
    kernel_fake = kernel(fake, fake)
    real_real = (kernel_real.sum() - kernel_real.diagonal().sum()) / (n * (n - 1))
    fake_fake = (kernel_fake.sum() - kernel_fake.diagonal().sum()) / (m * (m - 1))
    real_fake = kernel(real, fake).mean()
    return float(real_real + fake_fake - 2 * real_fake)
