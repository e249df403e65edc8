"""Tests for ``gan-studio-cli text``: train, resume, transfer and evaluate on the project-made corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.text_style.default_model import DEFAULT_PRESETS, apply_overrides


def test_cli_train_transfer_evaluate(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["text", "train", "--method", "direct", "--data", "reviews", "--steps", "2", "--batch-size", "8",
                 "--device", "cpu", "--out", str(out)])
    assert code == 0
    checkpoint = out / "step_000002.safetensors"
    assert checkpoint.is_file()
    sidecar = json.loads(checkpoint.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["extra"]["command"].startswith("gan-studio-cli")
    capsys.readouterr()

    assert main(["text", "train", "--data", "reviews", "--steps", "3", "--resume", str(checkpoint), "--out", str(out)]) == 0
    assert (out / "step_000003.safetensors").is_file()
    capsys.readouterr()

    assert main(["text", "transfer", "--checkpoint", str(checkpoint), "--from-style", "0", "the soup was cold ."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1

    assert main(["text", "evaluate", "--checkpoint", str(checkpoint), "--test-per-style", "20", "--no-perplexity"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"checkpoint", "data", "model", "copy_baseline"}
    assert report["copy_baseline"]["bleu/self"] > 99.0


def test_cli_resume_rejects_changed_method(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["text", "train", "--method", "direct", "--data", "reviews", "--steps", "1", "--batch-size", "8",
                 "--out", str(out)]) == 0
    code = main(["text", "train", "--method", "cross_aligned", "--steps", "2", "--out", str(out),
                 "--resume", str(out / "step_000001.safetensors")])
    assert code == 1
    assert "--resume keeps the checkpoint's method" in capsys.readouterr().err


def test_cli_transfer_missing_checkpoint(tmp_path: Path, capsys) -> None:
    code = main(["text", "transfer", "--checkpoint", str(tmp_path / "none.safetensors"), "--from-style", "1", "good ."])
    assert code == 1
    assert "none.safetensors" in capsys.readouterr().err


def test_cli_transfer_candidates(capsys) -> None:
    arguments = ["text", "transfer", "--from-style", "0", "--candidates", "3", "--temperature", "1.0",
                 "the food was cold .", "the waiter was rude ."]
    assert main(arguments) == 0
    output = capsys.readouterr().out
    assert main(arguments) == 0
    assert capsys.readouterr().out == output, "the same seed printed other candidates"

    header, *blocks = output.strip().split("\n\n")
    assert header.startswith("negative → positive; score = P(positive) from yelp_classifier.safetensors")
    assert [block.splitlines()[0] for block in blocks] == ["the food was cold .", "the waiter was rude ."]
    for block in blocks:
        lines = block.splitlines()[1:]
        assert len(lines) == 3, block
        scores = [float(line.split()[0]) for line in lines]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= score <= 1.0 for score in scores)
        assert sum(line.endswith("(greedy)") for line in lines) == 1


def test_cli_transfer_rejects_zero_candidates(capsys) -> None:
    assert main(["text", "transfer", "--from-style", "1", "--candidates", "0", "great food ."]) == 1
    assert "between 1 and 20" in capsys.readouterr().err


def test_preset_overrides_parse_field_types() -> None:
    preset = DEFAULT_PRESETS["direct"]
    changed = apply_overrides(preset, ["adversarial_weight=2", "steps=3000", "relaxation=soft", "adversarial_clip=1.5"])
    assert changed.adversarial_weight == 2.0
    assert changed.steps == 3000
    assert isinstance(changed.steps, int)
    assert changed.relaxation == "soft"
    assert changed.adversarial_clip == 1.5
    assert apply_overrides(changed, ["adversarial_clip=none"]).adversarial_clip is None

    with pytest.raises(ValueError, match="no_such_field"):
        apply_overrides(preset, ["no_such_field=1"])
    with pytest.raises(ValueError, match="steps needs a number"):
        apply_overrides(preset, ["steps=many"])


def test_cli_train_from_preset(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["text", "train", "--preset", "direct", "--data", "reviews", "--steps", "2", "--batch-size", "8",
                 "--device", "cpu", "--out", str(out)])
    assert code == 0
    stored = json.loads((out / "step_000002.json").read_text(encoding="utf-8"))["config"]
    preset = DEFAULT_PRESETS["direct"]
    assert stored["identity_weight"] == preset.identity_weight
    assert stored["hidden_dim"] == preset.hidden_dim
    assert stored["steps"] == 2
    assert stored["data"] == "reviews"
    capsys.readouterr()


def test_cli_preset_rejects_other_method(tmp_path: Path, capsys) -> None:
    code = main(["text", "train", "--preset", "direct", "--method", "cross_aligned", "--steps", "1",
                 "--out", str(tmp_path / "run")])
    assert code == 1
    assert "--preset direct" in capsys.readouterr().err
