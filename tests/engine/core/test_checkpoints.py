"""Checkpoint round trips, atomic writes and clear errors for broken files."""

from __future__ import annotations

import json

import pytest
import torch

from engine.core.checkpoints import (CheckpointError, average_checkpoints, checkpoint_paths, load_checkpoint,
                                     newest_checkpoint, restore, save_checkpoint)


def _model_and_optimizer(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = model(torch.randn(5, 3)).pow(2).mean()
    loss.backward()
    optimizer.step()
    return model, optimizer


def test_round_trip_restores_weights_and_optimizer(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    save_checkpoint(tmp_path / "run" / "step_1", kind="test.mlp", config={"width": 4}, step=1,
                    modules={"net": model}, optimizers={"net": optimizer}, metrics={"loss/g": 0.5})

    fresh, fresh_optimizer = _model_and_optimizer(1)
    checkpoint = load_checkpoint(tmp_path / "run" / "step_1", expected_kind="test.mlp")
    restore(checkpoint, {"net": fresh}, {"net": fresh_optimizer})

    assert checkpoint.step == 1
    assert checkpoint.config == {"width": 4}
    assert checkpoint.metrics == {"loss/g": 0.5}
    for original, loaded in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(original, loaded)
    original_state = optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(fresh_optimizer.state_dict()["state"][0]["exp_avg"], original_state)
    assert fresh_optimizer.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]


def test_write_leaves_no_temp_files(tmp_path):
    model, _ = _model_and_optimizer()
    save_checkpoint(tmp_path / "ckpt", kind="test.mlp", config={}, step=0, modules={"net": model})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.json", "ckpt.safetensors"]


def test_truncated_weights_name_the_file(tmp_path):
    model, _ = _model_and_optimizer()
    weights, _ = checkpoint_paths(save_checkpoint(tmp_path / "ckpt", kind="test.mlp", config={}, step=0,
                                                  modules={"net": model}))
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as raised:
        load_checkpoint(tmp_path / "ckpt")
    assert str(weights) in str(raised.value)


def test_corrupt_json_names_the_file(tmp_path):
    model, _ = _model_and_optimizer()
    save_checkpoint(tmp_path / "ckpt", kind="test.mlp", config={}, step=0, modules={"net": model})
    (tmp_path / "ckpt.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="ckpt.json"):
        load_checkpoint(tmp_path / "ckpt")


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "nothing")


def test_wrong_kind_is_rejected(tmp_path):
    model, _ = _model_and_optimizer()
    save_checkpoint(tmp_path / "ckpt", kind="test.mlp", config={}, step=0, modules={"net": model})
    with pytest.raises(CheckpointError, match="'image.dcgan' model is needed"):
        load_checkpoint(tmp_path / "ckpt", expected_kind="image.dcgan")


def test_shape_mismatch_names_parameter(tmp_path):
    model, _ = _model_and_optimizer()
    save_checkpoint(tmp_path / "ckpt", kind="test.mlp", config={}, step=0, modules={"net": model})
    wider = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with pytest.raises(CheckpointError, match=r"0\.weight: checkpoint \(4, 3\) vs model \(8, 3\)"):
        restore(load_checkpoint(tmp_path / "ckpt"), {"net": wider})


def test_sidecar_is_plain_json(tmp_path):
    model, optimizer = _model_and_optimizer()
    save_checkpoint(tmp_path / "ckpt", kind="test.mlp", config={"lr": 1e-3}, step=7,
                    modules={"net": model}, optimizers={"net": optimizer})
    sidecar = json.loads((tmp_path / "ckpt.json").read_text(encoding="utf-8"))
    assert sidecar["kind"] == "test.mlp"
    assert sidecar["step"] == 7
    assert sidecar["optimizers"]["net"]["param_groups"][0]["lr"] == 1e-3


def test_folder_loads_newest_checkpoint(tmp_path):
    model, _ = _model_and_optimizer()
    for step in (5, 20, 10):
        save_checkpoint(tmp_path / f"step_{step:06d}", kind="test.mlp", config={}, step=step, modules={"net": model})
    (tmp_path / "step_000030.json").write_text('{"kind": "test.mlp", "step": 30}', encoding="utf-8")  # no weights

    assert newest_checkpoint(tmp_path) == tmp_path / "step_000020"
    assert load_checkpoint(tmp_path).step == 20


def test_empty_folder_has_no_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint found in folder"):
        load_checkpoint(tmp_path)


def test_average_means_weights_drops_optimizer(tmp_path):
    models = []
    for step, seed in ((1, 0), (2, 1), (3, 2)):
        model, optimizer = _model_and_optimizer(seed)
        save_checkpoint(tmp_path / f"step_{step}", kind="test.mlp", config={"width": 4}, step=step,
                        modules={"net": model}, optimizers={"net": optimizer})
        models.append(model)

    averaged = average_checkpoints([tmp_path / f"step_{step}" for step in (1, 2, 3)], expected_kind="test.mlp")
    fresh, fresh_optimizer = _model_and_optimizer(5)
    restore(averaged, {"net": fresh})

    assert averaged.step == 3
    for name, value in fresh.state_dict().items():
        expected = torch.stack([model.state_dict()[name] for model in models]).mean(dim=0)
        assert torch.allclose(value, expected, atol=1e-6), name
    assert not any(key.startswith("optim.") for key in averaged.tensors)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        restore(averaged, {"net": fresh}, {"net": fresh_optimizer})
    assert averaged.extra["averaged_checkpoints"] == [str(tmp_path / f"step_{step}.safetensors") for step in (1, 2, 3)]


def test_average_rejects_different_networks(tmp_path):
    model, _ = _model_and_optimizer()
    wider = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    save_checkpoint(tmp_path / "narrow", kind="test.mlp", config={}, step=1, modules={"net": model})
    save_checkpoint(tmp_path / "wide", kind="test.mlp", config={}, step=2, modules={"net": wider})
    with pytest.raises(CheckpointError, match="contain different weights") as raised:
        average_checkpoints([tmp_path / "narrow", tmp_path / "wide"])
    assert "narrow.safetensors" in str(raised.value)
    with pytest.raises(CheckpointError, match="at least one checkpoint"):
        average_checkpoints([])
