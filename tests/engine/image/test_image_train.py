"""Image GAN training: one step of each model, the job's events, exact resume, cancel and non-finite stops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.core.checkpoints import load_checkpoint
from engine.core.device import pick_compute
from engine.core.jobs import CancelToken, CheckpointSaved, Failed, Finished, Metrics, Progress, Sample, Started, run_job
from engine.image.datasets import ImageData, load_image_data
from engine.image.train import GanTrainer, ImageGanTrainJob, ImageTrainConfig


@pytest.fixture(scope="module")
def faces() -> ImageData:
    return load_image_data("procedural", 32, procedural_faces=64)


def _config(tmp_path, **changes) -> ImageTrainConfig:
    settings = dict(steps=4, batch_size=8, g_channels=8, d_channels=8, z_dim=16, embed_dim=8, sample_every=2,
                    checkpoint_every=2, log_every=1, precision="fp32", device="cpu", output_dir=str(tmp_path / "run"))
    settings.update(changes)
    return ImageTrainConfig(**settings)


@pytest.mark.parametrize("model", ["dcgan", "cgan"])
def test_one_step_changes_both_networks(tmp_path, faces, model):
    trainer = GanTrainer(_config(tmp_path, model=model, precision="bf16"), faces, pick_compute("cpu", "bf16"))
    before_g = [p.detach().clone() for p in trainer.generator.parameters()]
    before_d = [p.detach().clone() for p in trainer.discriminator.parameters()]
    metrics = trainer.train_step()
    assert all(math.isfinite(value) for value in metrics.values()), metrics
    assert {"loss/d", "loss/g", "loss/d_real", "loss/d_fake"} <= set(metrics)
    assert ("loss/d_mismatch" in metrics) == (model == "cgan")
    assert any(not torch.equal(a, b) for a, b in zip(before_g, trainer.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, trainer.discriminator.parameters()))
    grid = trainer.preview_grid()
    assert grid.dtype == np.uint8
    assert grid.shape[2] == 3


def test_dcgan_with_batch_norm_and_bce(tmp_path, faces):
    config = _config(tmp_path, model="dcgan", d_norm="batch", loss="bce")
    metrics = GanTrainer(config, faces, pick_compute("cpu", "fp32")).train_step()
    assert math.isfinite(metrics["loss/d"]), metrics
    assert math.isfinite(metrics["loss/g"]), metrics


def test_job_events_and_fixed_preview(tmp_path, faces):
    events = []
    last = run_job(ImageGanTrainJob(_config(tmp_path), data=faces), events.append)
    assert isinstance(events[0], Started)
    assert isinstance(last, Finished), last
    assert not last.cancelled
    assert [e.step for e in events if isinstance(e, Metrics)] == [1, 2, 3, 4]
    assert [e.step for e in events if isinstance(e, Progress)] == [1, 2, 3, 4]
    samples = [e for e in events if isinstance(e, Sample)]
    assert [s.kind for s in samples] == ["image_grid", "image_grid"]
    grid = samples[0].data["grid"]
    assert grid.dtype == np.uint8
    assert grid.shape == (12 * 34 + 2, 8 * 34 + 2, 3)
    assert samples[0].data["row_tags"][0] == "aqua hair, aqua eyes, short hair"
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert [e.step for e in saved] == [2, 4]
    assert load_checkpoint(saved[-1].path, expected_kind="image.cgan").step == 4


def test_resume_is_exact(tmp_path, faces):
    straight = ImageGanTrainJob(_config(tmp_path / "a"), data=faces)
    run_job(straight, lambda event: None)

    first = ImageGanTrainJob(_config(tmp_path / "b", steps=2), data=faces)
    run_job(first, lambda event: None)
    resumed = ImageGanTrainJob(_config(tmp_path / "b"), resume_from=tmp_path / "b" / "run" / "step_000002", data=faces)
    last = run_job(resumed, lambda event: None)
    assert isinstance(last, Finished), last

    for name, module in straight.trainer.modules().items():
        other = resumed.trainer.modules()[name].state_dict()
        for key, value in module.state_dict().items():
            assert torch.equal(value, other[key]), f"{name}.{key} differs after resume"


def test_resume_from_wrong_kind_fails_clearly(tmp_path, faces):
    run_job(ImageGanTrainJob(_config(tmp_path, model="dcgan", steps=2), data=faces), lambda event: None)
    job = ImageGanTrainJob(_config(tmp_path / "c"), resume_from=tmp_path / "run" / "step_000002", data=faces)
    last = run_job(job, lambda event: None)
    assert isinstance(last, Failed), last
    assert "image.dcgan" in last.message, last.message


def test_cancel_between_steps_saves(tmp_path, faces):
    cancel = CancelToken()
    events = []

    def sink(event):
        events.append(event)
        if isinstance(event, Progress) and event.step == 1:
            cancel.cancel()

    last = run_job(ImageGanTrainJob(_config(tmp_path, steps=50), data=faces), sink, cancel)
    assert isinstance(last, Finished), last
    assert last.cancelled
    assert max(e.step for e in events if isinstance(e, Progress)) == 1
    assert any(isinstance(e, CheckpointSaved) and e.step == 1 for e in events)


def test_non_finite_loss_stops(tmp_path, faces, monkeypatch):
    original = GanTrainer.train_step

    def poisoned(self):
        metrics = original(self)
        if self.step == 3:
            metrics["loss/d"] = float("nan")
        return metrics

    monkeypatch.setattr(GanTrainer, "train_step", poisoned)
    last = run_job(ImageGanTrainJob(_config(tmp_path, steps=6), data=faces), lambda event: None)
    assert isinstance(last, Failed), last
    assert "step 3" in last.message, last.message
    assert "loss/d" in last.message, last.message
    assert "step_000002" in last.message, last.message


def test_conditional_needs_tags(tmp_path, faces):
    untagged = ImageData(faces.images, torch.full_like(faces.labels, -1), faces.vocabulary, "untagged faces", [])
    last = run_job(ImageGanTrainJob(_config(tmp_path), data=untagged), lambda event: None)
    assert isinstance(last, Failed), last
    assert "tags" in last.message, last.message


def test_one_step_at_64_px(tmp_path):
    faces = load_image_data("procedural", 64, procedural_faces=16)
    trainer = GanTrainer(_config(tmp_path, resolution=64), faces, pick_compute("cpu", "fp32"))
    metrics = trainer.train_step()
    assert math.isfinite(metrics["loss/d"]), metrics
    assert trainer.preview_grid().shape == (12 * 66 + 2, 8 * 66 + 2, 3)


def test_mode_seeking_pairs_share_tags(tmp_path, faces, monkeypatch):
    trainer = GanTrainer(_config(tmp_path, mode_seeking_weight=1.0), faces, pick_compute("cpu", "fp32"))
    seen = []
    original = trainer.generator.forward

    def recording(z, labels=None):
        seen.append(labels)
        return original(z, labels)

    monkeypatch.setattr(trainer.generator, "forward", recording)
    metrics = trainer.train_step()
    assert math.isfinite(metrics["loss/mode_seeking"]), metrics
    assert torch.equal(seen[0][:4], seen[0][4:])
