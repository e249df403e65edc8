"""Playground trainer and jobs: every loss and distribution, previews, checkpoints, cancel and NaN."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from engine.core.checkpoints import CheckpointError, load_checkpoint
from engine.core.jobs import (CancelToken, CheckpointSaved, Failed, Finished, Metrics, Progress, Sample, Started,
                              run_job)
from engine.playground.distributions import DISTRIBUTIONS
from engine.playground.models import LOSSES
from engine.playground.trainer import (PlaygroundConfig, PlaygroundStepJob, PlaygroundTrainer, PlaygroundTrainJob,
                                       checkpoint_stem)

SMALL = dict(batch_size=64, hidden=32)
CUSTOM = ((-1.0, 1.0), (1.0, -1.0))


def _state(trainer: PlaygroundTrainer) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{key}": value.clone()
            for prefix, module in (("g", trainer.generator), ("d", trainer.discriminator))
            for key, value in module.state_dict().items()}


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], prefix: str) -> bool:
    return any(not torch.equal(before[key], after[key]) for key in before if key.startswith(prefix))


@pytest.mark.parametrize("loss", LOSSES.names())
def test_each_loss_trains_one_step(loss):
    trainer = PlaygroundTrainer(PlaygroundConfig(loss=loss, d_steps=2, **SMALL))
    values = trainer.train_step()
    for key in ("loss/d", "loss/g", "d/real_score", "d/fake_score", "grad_norm/d", "grad_norm/g", "time/step"):
        assert key in values, f"{key} missing from {sorted(values)}"
        assert np.isfinite(values[key]), f"{key} = {values[key]}"
    assert trainer.step == 1
    assert trainer.d_updates == 2
    if loss == "wgan-gp":
        assert values["loss/gp"] >= 0


@pytest.mark.parametrize("dist", DISTRIBUTIONS.names())
def test_each_distribution_trains_one_step(dist):
    trainer = PlaygroundTrainer(PlaygroundConfig(dist=dist, custom_points=CUSTOM, **SMALL))
    values = trainer.train_step()
    assert np.isfinite(values["loss/d"])
    assert np.isfinite(values["loss/g"])
    metrics = trainer.evaluate(256)
    assert "quality/sliced_wasserstein" in metrics
    has_modes = dist in ("ring", "grid", "custom")
    assert ("quality/modes_covered" in metrics) == has_modes


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp"])
def test_snapshot_shapes_and_labels(loss):
    trainer = PlaygroundTrainer(PlaygroundConfig(loss=loss, **SMALL))
    trainer.train_step()
    snapshot = trainer.snapshot(n_points=100, grid_size=20)
    for key, shape in (("real", (100, 2)), ("fake", (100, 2)), ("d_grid", (20, 20)), ("extent", (4,)),
                       ("arrows_from", (64, 2)), ("arrows_to", (64, 2))):
        array = snapshot[key]
        assert isinstance(array, np.ndarray) and array.dtype == np.float32, f"{key}: {type(array)}"
        assert array.shape == shape, f"{key}: {array.shape} != {shape}"
        assert array.flags["C_CONTIGUOUS"]
    assert snapshot["step"] == 1
    assert snapshot["phase"] == "train"
    if loss == "nonsaturating":
        assert snapshot["d_grid_label"].startswith("P(real)")
        assert snapshot["d_grid"].min() >= 0
        assert snapshot["d_grid"].max() <= 1
    else:
        assert snapshot["d_grid_label"] == "critic score D(x)"
    lengths = np.linalg.norm(snapshot["arrows_to"] - snapshot["arrows_from"], axis=1)
    assert lengths.max() == pytest.approx(0.1 * 5.0, rel=1e-4)
    assert np.allclose(snapshot["arrows_from"], snapshot["fake"][:64])


def test_snapshot_arrows_point_downhill():
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    for _ in range(5):
        trainer.train_step()
    snapshot = trainer.snapshot(n_points=64)
    start = torch.from_numpy(snapshot["arrows_from"])
    moved = start + 0.01 * (torch.from_numpy(snapshot["arrows_to"]) - start)
    with torch.no_grad():
        before = trainer.loss_fn.generator_loss(trainer.discriminator(start))
        after = trainer.loss_fn.generator_loss(trainer.discriminator(moved))
    assert after < before, f"moving along the arrows raised G's loss from {before:.5f} to {after:.5f}"


def test_snapshot_changes_no_training_state():
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    twin = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    trainer.snapshot()
    trainer.evaluate(256)
    for module in (trainer.generator, trainer.discriminator):
        assert all(param.grad is None for param in module.parameters())
    assert trainer.train_step()["loss/g"] == twin.train_step()["loss/g"]


def test_single_updates_touch_one_network():
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    before = _state(trainer)
    trainer.step_d()
    after_d = _state(trainer)
    assert _changed(before, after_d, "d.")
    assert not _changed(before, after_d, "g.")
    assert trainer.step == 0
    assert trainer.d_updates == 1

    trainer.step_g()
    after_g = _state(trainer)
    assert _changed(after_d, after_g, "g.")
    assert not _changed(after_d, after_g, "d.")
    assert trainer.step == 1


def test_config_round_trip_and_validation():
    config = PlaygroundConfig(dist="custom", loss="hinge", custom_points=CUSTOM, lr_d=2e-4, d_steps=3)
    assert PlaygroundConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="Unknown playground config keys"):
        PlaygroundConfig.from_dict({"learning_rate": 1.0})
    with pytest.raises(ValueError, match="loss"):
        PlaygroundConfig(loss="lsgan")
    with pytest.raises(ValueError, match="lr_d"):
        PlaygroundConfig(lr_d=0.0)
    with pytest.raises(ValueError, match="d_steps"):
        PlaygroundConfig(d_steps=0)
    with pytest.raises(ValueError, match="at least one point"):
        PlaygroundConfig(dist="custom")


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp"])
def test_resume_matches_uninterrupted_training(tmp_path, loss):
    config = PlaygroundConfig(loss=loss, d_steps=2, **SMALL)
    trainer = PlaygroundTrainer(config)
    for _ in range(5):
        trainer.train_step()
    path = trainer.save(tmp_path / "mid")
    continued = [trainer.train_step() for _ in range(4)]

    resumed = PlaygroundTrainer.load(path)
    assert resumed.step == 5
    assert resumed.d_updates == 10
    resumed_values = [resumed.train_step() for _ in range(4)]
    for expected, got in zip(continued, resumed_values):
        assert got["loss/d"] == expected["loss/d"]
        assert got["loss/g"] == expected["loss/g"]
    for key, value in _state(trainer).items():
        assert torch.equal(value, _state(resumed)[key]), f"{key} differs after resuming"


def test_load_rejects_other_kind(tmp_path):
    from engine.core.checkpoints import save_checkpoint

    save_checkpoint(tmp_path / "other", kind="image.dcgan", config={}, step=0, modules={"net": torch.nn.Linear(1, 1)})
    with pytest.raises(CheckpointError, match="playground.gan"):
        PlaygroundTrainer.load(tmp_path / "other")


def test_train_job_events_and_checkpoints(tmp_path):
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    events = []
    last = run_job(PlaygroundTrainJob(trainer, 20, snapshot_interval_s=0.0, metrics_every=5,
                                      checkpoint_dir=tmp_path, checkpoint_every=8), events.append)
    assert isinstance(events[0], Started) and events[0].total_steps == 20
    assert isinstance(last, Finished), last
    assert not last.cancelled
    assert [event.step for event in events if isinstance(event, Metrics)] == [5, 10, 15, 20]
    assert [event.step for event in events if isinstance(event, CheckpointSaved)] == [8, 16, 20]
    samples = [event for event in events if isinstance(event, Sample)]
    assert samples and all(sample.kind == "playground" for sample in samples)
    assert samples[-1].data["step"] == 20
    assert any(isinstance(event, Progress) and event.step == 20 for event in events)
    assert last.summary["step"] == 20
    assert "quality/sliced_wasserstein" in last.summary
    assert "quality/modes_covered" in last.summary
    assert load_checkpoint(checkpoint_stem(tmp_path, 20)).step == 20


def test_train_job_samples_are_time_limited():
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    events = []
    run_job(PlaygroundTrainJob(trainer, 30, snapshot_interval_s=3600.0), events.append)
    samples = [event for event in events if isinstance(event, Sample)]
    assert len(samples) == 2, "expected the first-step preview and the final one only"


def test_cancel_stops_within_one_step():
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    token = CancelToken()
    cancelled_at = []

    def sink(event):
        if isinstance(event, Metrics) and event.step == 7:
            cancelled_at.append(trainer.step)
            token.cancel()

    last = run_job(PlaygroundTrainJob(trainer, 1000, snapshot_interval_s=None, metrics_every=1), sink, token)
    assert isinstance(last, Finished), last
    assert last.cancelled
    assert trainer.step == cancelled_at[0] == 7
    assert last.summary["steps_run"] == 7


def test_absurd_learning_rate_fails_and_keeps_checkpoint(tmp_path):
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    first = run_job(PlaygroundTrainJob(trainer, 10, snapshot_interval_s=None, checkpoint_dir=tmp_path,
                                       checkpoint_every=5), lambda event: None)
    assert isinstance(first, Finished)

    trainer.set_lr(1e30, 1e30)
    events = []
    last = run_job(PlaygroundTrainJob(trainer, 100, snapshot_interval_s=None, checkpoint_dir=tmp_path,
                                      checkpoint_every=1), events.append)
    assert isinstance(last, Failed), last
    assert "became nan" in last.message or "became inf" in last.message, last.message
    assert str(checkpoint_stem(tmp_path, 10)) in last.message, last.message
    assert not any(isinstance(event, CheckpointSaved) for event in events)
    assert sorted(path.name for path in tmp_path.glob("*.safetensors")) == [
        "step_000005.safetensors", "step_000010.safetensors"]
    kept = PlaygroundTrainer.load(checkpoint_stem(tmp_path, 10))
    assert kept.parameters_finite()


@pytest.mark.parametrize("phase", ["d", "g"])
def test_step_job_runs_one_update(phase):
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    events = []
    last = run_job(PlaygroundStepJob(trainer, phase), events.append)
    assert isinstance(last, Finished)
    assert [type(event) for event in events] == [Started, Metrics, Sample, Finished]
    assert events[2].data["phase"] == phase
    assert (trainer.step, trainer.d_updates) == ((0, 1) if phase == "d" else (1, 0))
    key = "loss/d" if phase == "d" else "loss/g"
    assert key in events[1].values


def test_step_job_rejects_unknown_phase():
    with pytest.raises(ValueError, match="Phase"):
        PlaygroundStepJob(PlaygroundTrainer(PlaygroundConfig(**SMALL)), "x")


def test_pause_holds_training_until_resume():
    trainer = PlaygroundTrainer(PlaygroundConfig(**SMALL))
    token = CancelToken()
    token.pause()
    results = []
    worker = threading.Thread(target=lambda: results.append(
        run_job(PlaygroundTrainJob(trainer, 5, snapshot_interval_s=None), lambda event: None, token)))
    worker.start()
    time.sleep(0.3)
    assert trainer.step == 0, "a paused job must not train"
    token.resume()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert isinstance(results[0], Finished), results
    assert trainer.step == 5
