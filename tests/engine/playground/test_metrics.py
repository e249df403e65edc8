"""Playground quality measures on samples with known coverage and distances."""

from __future__ import annotations

import pytest
import torch

from engine.playground.distributions import mode_centers, sample_distribution
from engine.playground.metrics import mmd_rbf, modes_covered, sliced_wasserstein


def _ring(n: int, seed: int) -> torch.Tensor:
    return sample_distribution("ring", n, torch.Generator().manual_seed(seed))


def test_real_ring_covers_every_mode():
    coverage = modes_covered(_ring(2000, 0), mode_centers("ring"), radius=0.15)
    assert coverage.covered == 8
    assert coverage.total == 8
    assert coverage.high_quality > 0.98
    assert sum(coverage.counts) == pytest.approx(coverage.high_quality * 2000)


def test_collapsed_samples_cover_one_mode():
    centers = mode_centers("ring")
    collapsed = centers[2] + 0.02 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    coverage = modes_covered(collapsed, centers, radius=0.15)
    assert coverage.covered == 1
    assert coverage.counts[2] == 1000


def test_few_stray_samples_do_not_count_as_covered():
    centers = mode_centers("ring")
    points = torch.cat([centers[0].expand(990, 2), centers[1].expand(10, 2)])  # 10 < 0.25 * 1000 / 8
    assert modes_covered(points, centers, radius=0.15).covered == 1


def test_far_samples_are_not_high_quality():
    coverage = modes_covered(torch.zeros(100, 2), mode_centers("ring"), radius=0.15)
    assert coverage.high_quality == 0.0
    assert coverage.covered == 0


def test_modes_covered_rejects_bad_shapes():
    with pytest.raises(ValueError, match="Expected fake"):
        modes_covered(torch.zeros(10, 3), mode_centers("ring"), radius=0.1)


def test_sliced_wasserstein_zero_for_same_set():
    points = _ring(512, 0)
    assert sliced_wasserstein(points, points, 64, torch.Generator().manual_seed(0)) == 0.0


def test_sliced_wasserstein_grows_with_shift():
    real = _ring(1024, 0)
    other = _ring(1024, 1)
    floor = sliced_wasserstein(real, other, 128, torch.Generator().manual_seed(0))
    shifted = sliced_wasserstein(real, other + torch.tensor([0.5, 0.0]), 128, torch.Generator().manual_seed(0))
    assert floor < 0.1, f"two real samples differ by {floor:.3f}"
    assert shifted > floor + 0.2, f"shift by 0.5 gave {shifted:.3f} vs floor {floor:.3f}"


def test_sliced_wasserstein_rejects_unequal_sizes():
    with pytest.raises(ValueError, match="equal shape"):
        sliced_wasserstein(torch.zeros(10, 2), torch.zeros(11, 2))


def test_mmd_small_for_same_distribution_large_for_collapse():
    real = _ring(512, 0)
    same = mmd_rbf(real, _ring(512, 1))
    collapsed = mmd_rbf(real, mode_centers("ring")[0].expand(512, 2).clone())
    assert abs(same) < 0.02, f"MMD between two real samples is {same:.4f}"
    assert collapsed > 0.5, f"MMD against a collapsed set is only {collapsed:.4f}"
