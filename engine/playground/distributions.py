"""Two-dimensional target distributions for the playground, all scaled to lie roughly in [-2, 2]."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from engine.core.registry import Registry

Points = Sequence[Sequence[float]]

# The plot window every distribution fits in; a margin of 0.5 around the [-2, 2] square.
PLOT_EXTENT = (-2.5, 2.5, -2.5, 2.5)

RING_MODES = 8
RING_RADIUS = 1.8
GRID_SIDE = 5
GRID_SPACING = 0.8
# Small enough that neighbouring modes are far apart (ring: 1.38 between centers, grid: 0.8), so
# the mode-coverage measure can tell them apart with a 3-sigma radius.
MIXTURE_STD = 0.05
CUSTOM_STD = 0.08
MOONS_NOISE_STD = 0.05
SPIRAL_NOISE_STD = 0.04
SPIRAL_TURNS = 1.75


@dataclass(frozen=True)
class Distribution:
    """A named 2-D target: a sampler and, for Gaussian mixtures, the mode centers and their spread."""

    name: str
    description: str
    sample: Callable[[int, torch.Generator, Points], torch.Tensor]  # (n, generator, custom_points) -> (n, 2)
    centers: Callable[[Points], torch.Tensor] | None = None  # custom_points -> (modes, 2); None: not a mixture
    mode_std: float | None = None  # standard deviation of each mixture component


DISTRIBUTIONS: Registry[Distribution] = Registry("distribution")


def _mixture(centers: torch.Tensor, std: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """Sample ``n`` points from an equal-weight Gaussian mixture with isotropic ``std``."""
    component = torch.randint(len(centers), (n,), generator=generator)
    noise = torch.randn(n, 2, generator=generator) * std
    return centers[component] + noise


def _ring_centers(custom_points: Points = ()) -> torch.Tensor:
    angles = torch.arange(RING_MODES, dtype=torch.float32) * (2 * math.pi / RING_MODES)
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1) * RING_RADIUS  # (modes, 2)


def _grid_centers(custom_points: Points = ()) -> torch.Tensor:
    offsets = (torch.arange(GRID_SIDE, dtype=torch.float32) - (GRID_SIDE - 1) / 2) * GRID_SPACING
    xs, ys = torch.meshgrid(offsets, offsets, indexing="xy")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (side * side, 2)


def _custom_centers(custom_points: Points) -> torch.Tensor:
    centers = torch.as_tensor([tuple(map(float, point)) for point in custom_points], dtype=torch.float32)
    if centers.numel() == 0:
        raise ValueError("The 'custom' distribution needs at least one point; place points on the canvas, "
                         "or pass --custom-point X,Y to the command line.")
    if centers.ndim != 2 or centers.shape[1] != 2:
        raise ValueError(f"Custom points must be (x, y) pairs; got an array of shape {tuple(centers.shape)}.")
    if not torch.isfinite(centers).all():
        raise ValueError("Custom points must be finite numbers; remove the NaN or infinite point.")
    return centers


def _sample_ring(n: int, generator: torch.Generator, custom_points: Points = ()) -> torch.Tensor:
    return _mixture(_ring_centers(), MIXTURE_STD, n, generator)


def _sample_grid(n: int, generator: torch.Generator, custom_points: Points = ()) -> torch.Tensor:
    return _mixture(_grid_centers(), MIXTURE_STD, n, generator)


def _sample_custom(n: int, generator: torch.Generator, custom_points: Points) -> torch.Tensor:
    return _mixture(_custom_centers(custom_points), CUSTOM_STD, n, generator)


def _sample_moons(n: int, generator: torch.Generator, custom_points: Points = ()) -> torch.Tensor:
    """Sample two interleaved half circles, centered on the origin and stretched to span about [-1.8, 1.8]."""
    upper = torch.rand(n, generator=generator) < 0.5
    angle = torch.rand(n, generator=generator) * math.pi
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.2  # (n, 2)
    return points + torch.randn(n, 2, generator=generator) * MOONS_NOISE_STD


def _sample_spiral(n: int, generator: torch.Generator, custom_points: Points = ()) -> torch.Tensor:
    """Sample one arm of an Archimedean spiral; the square root spreads points evenly along its length."""
    t = torch.sqrt(torch.rand(n, generator=generator)) * 0.9 + 0.1
    angle = t * SPIRAL_TURNS * 2 * math.pi
    points = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1) * (t * 1.8).unsqueeze(1)  # (n, 2)
    return points + torch.randn(n, 2, generator=generator) * SPIRAL_NOISE_STD


DISTRIBUTIONS.add("ring", Distribution("ring", f"{RING_MODES} Gaussians on a circle", _sample_ring,
                                       _ring_centers, MIXTURE_STD))
DISTRIBUTIONS.add("grid", Distribution("grid", f"{GRID_SIDE}x{GRID_SIDE} grid of Gaussians", _sample_grid,
                                       _grid_centers, MIXTURE_STD))
DISTRIBUTIONS.add("moons", Distribution("moons", "two interleaved half circles", _sample_moons))
DISTRIBUTIONS.add("spiral", Distribution("spiral", "one spiral arm", _sample_spiral))
DISTRIBUTIONS.add("custom", Distribution("custom", "Gaussian blobs around the points you place", _sample_custom,
                                         _custom_centers, CUSTOM_STD))


def sample_distribution(name: str, n: int, generator: torch.Generator, custom_points: Points = ()) -> torch.Tensor:
    """Draw ``n`` points from the named distribution.

    Args:
        name: a name in DISTRIBUTIONS ("ring", "grid", "moons", "spiral", "custom").
        n: number of points.
        generator: a CPU torch.Generator; the same state gives the same points.
        custom_points: (x, y) centers for "custom"; ignored by the others.

    Returns:
        A float32 CPU tensor of shape (n, 2).

    Raises:
        ValueError: for an unknown name, or "custom" without valid points.
    """
    if n < 0:
        raise ValueError(f"Number of points must be >= 0, got {n}.")
    return DISTRIBUTIONS.get(name).sample(n, generator, custom_points)


def mode_centers(name: str, custom_points: Points = ()) -> torch.Tensor | None:
    """Return the (modes, 2) centers of a Gaussian-mixture distribution, or None when it has no modes."""
    distribution = DISTRIBUTIONS.get(name)
    if distribution.centers is None:
        return None
    return distribution.centers(custom_points)


def mode_std(name: str) -> float | None:
    """Return the standard deviation of each mixture component, or None when it has no modes."""
    return DISTRIBUTIONS.get(name).mode_std


def plot_extent(name: str, custom_points: Points = ()) -> tuple[float, float, float, float]:
    """Return (xmin, xmax, ymin, ymax) of a square window that contains the distribution with a margin."""
    half = PLOT_EXTENT[1]
    if name == "custom" and custom_points:
        half = max(half, float(_custom_centers(custom_points).abs().max()) + 0.5)
    return (-half, half, -half, half)
