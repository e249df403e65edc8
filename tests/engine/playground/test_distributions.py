"""Playground distributions: shapes, scale, determinism, mode centers and invalid input."""

from __future__ import annotations

import pytest
import torch

from engine.playground.distributions import DISTRIBUTIONS, mode_centers, plot_extent, sample_distribution

CUSTOM = ((-1.0, 0.5), (1.0, -0.5), (0.0, 1.5))


@pytest.mark.parametrize("name", DISTRIBUTIONS.names())
def test_samples_shape_and_scale(name):
    points = sample_distribution(name, 4000, torch.Generator().manual_seed(0), CUSTOM)
    assert points.shape == (4000, 2)
    assert points.dtype == torch.float32
    assert torch.isfinite(points).all()
    assert points.abs().max() < 2.3, f"{name} reaches {float(points.abs().max()):.2f}, outside about [-2, 2]"
    assert points.std(dim=0).min() > 0.3, f"{name} is too narrow: std {points.std(dim=0).tolist()}"


@pytest.mark.parametrize("name", DISTRIBUTIONS.names())
def test_same_generator_state_same_points(name):
    first = sample_distribution(name, 100, torch.Generator().manual_seed(3), CUSTOM)
    second = sample_distribution(name, 100, torch.Generator().manual_seed(3), CUSTOM)
    assert torch.equal(first, second)


def test_registry_has_required_names():
    assert set(DISTRIBUTIONS.names()) == {"ring", "grid", "moons", "spiral", "custom"}


def test_mode_centers_of_mixtures():
    ring = mode_centers("ring")
    assert ring.shape == (8, 2)
    assert torch.allclose(ring.norm(dim=1), torch.full((8,), float(ring.norm(dim=1)[0])))
    assert mode_centers("grid").shape == (25, 2)
    assert torch.equal(mode_centers("custom", CUSTOM), torch.tensor(CUSTOM))
    assert mode_centers("moons") is None
    assert mode_centers("spiral") is None


def test_ring_samples_sit_near_centers():
    points = sample_distribution("ring", 2000, torch.Generator().manual_seed(1))
    nearest = torch.cdist(points, mode_centers("ring")).min(dim=1).values
    assert float((nearest < 0.15).float().mean()) > 0.98


def test_custom_without_points_is_rejected():
    with pytest.raises(ValueError, match="at least one point"):
        sample_distribution("custom", 10, torch.Generator())


def test_custom_with_bad_points_is_rejected():
    with pytest.raises(ValueError, match="pairs"):
        sample_distribution("custom", 10, torch.Generator(), [(1.0, 2.0, 3.0)])
    with pytest.raises(ValueError, match="finite"):
        sample_distribution("custom", 10, torch.Generator(), [(float("nan"), 0.0)])


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="ring"):
        sample_distribution("donut", 10, torch.Generator())


def test_plot_extent_grows_for_far_custom_points():
    assert plot_extent("ring") == (-2.5, 2.5, -2.5, 2.5)
    xmin, xmax, ymin, ymax = plot_extent("custom", [(3.0, 0.0)])
    assert xmax >= 3.5
    assert xmin == -xmax
    assert (ymin, ymax) == (xmin, xmax)
