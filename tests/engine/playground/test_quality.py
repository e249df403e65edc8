"""Playground quality: a WGAN-GP trained through the job covers the 8-Gaussian ring within a step budget."""

from __future__ import annotations

import pytest

from engine.core.jobs import Finished, Sample, run_job
from engine.playground.trainer import PlaygroundConfig, PlaygroundTrainer, PlaygroundTrainJob

# Seeds 0, 1 and 2 of this config reached 8 of 8 modes, >= 0.68 of samples within 3 standard
# deviations of a mode and a sliced Wasserstein distance <= 0.081 after 1500 steps (real-vs-real
# floor: 0.01 to 0.06), so the thresholds leave a margin for floating-point differences between CPUs.
RING_STEPS = 1500
MIN_MODES = 7
MIN_HIGH_QUALITY = 0.5
MAX_SLICED_WASSERSTEIN = 0.12


@pytest.mark.slow
def test_wgan_gp_covers_ring():
    config = PlaygroundConfig(dist="ring", loss="wgan-gp", d_steps=2, lr_d=1e-3, lr_g=1e-3, seed=0)
    trainer = PlaygroundTrainer(config)
    samples = []
    last = run_job(PlaygroundTrainJob(trainer, RING_STEPS, snapshot_interval_s=0.5),
                   lambda event: samples.append(event) if isinstance(event, Sample) else None)

    assert isinstance(last, Finished), last
    assert not last.cancelled
    summary = last.summary
    measured = (f"modes {summary['quality/modes_covered']:.0f}/8, high quality {summary['quality/high_quality']:.3f}, "
                f"sliced Wasserstein {summary['quality/sliced_wasserstein']:.4f} "
                f"(floor {summary['quality/sliced_wasserstein_floor']:.4f})")
    assert summary["step"] == RING_STEPS
    assert summary["quality/modes_covered"] >= MIN_MODES, measured
    assert summary["quality/high_quality"] >= MIN_HIGH_QUALITY, measured
    assert summary["quality/sliced_wasserstein"] <= MAX_SLICED_WASSERSTEIN, measured
    assert len(samples) >= 2, "the job should stream previews while it trains"
