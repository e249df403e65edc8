"""The ``gan-studio-cli image`` commands, run in-process on tiny settings."""

from __future__ import annotations

import json

from PIL import Image

from engine.cli import main


def test_train_export_generate_and_interpolate(tmp_path, capsys):
    model = tmp_path / "model.safetensors"
    code = main(["image", "train", "--steps", "2", "--batch-size", "4", "--channels", "8", "--procedural-faces", "16",
                 "--out", str(tmp_path / "run"), "--export", str(model), "--samples-dir", str(tmp_path / "grids"),
                 "--sample-every", "1", "--device", "cpu", "--precision", "fp32"])
    assert code == 0
    assert model.is_file()
    assert sorted(path.name for path in (tmp_path / "grids").iterdir()) == ["grid_000001.png", "grid_000002.png"]

    grid = tmp_path / "grid.png"
    assert main(["image", "generate", "--model", str(model), "--tags", "red hair, long hair", "--count", "6",
                 "--columns", "3", "--scale", "1", "--output", str(grid)]) == 0
    with Image.open(grid) as picture:
        assert picture.size == (2 + 3 * 34, 2 + 2 * 34)

    strip = tmp_path / "strip.png"
    assert main(["image", "generate", "--model", str(model), "--tags", "red hair", "--interpolate-seed", "9",
                 "--interpolate-tags", "blue hair", "--steps", "5", "--scale", "1", "--output", str(strip)]) == 0
    with Image.open(strip) as picture:
        assert picture.size == (2 + 5 * 34, 2 + 34)


def test_generate_unknown_tag_fails_with_message(tmp_path, capsys):
    code = main(["image", "generate", "--tags", "silver hair", "--output", str(tmp_path / "x.png")])
    assert code == 1
    error = capsys.readouterr().err
    assert "Unknown tag 'silver hair'" in error, error
    assert "Known tags" in error, error
    assert not (tmp_path / "x.png").exists()


def test_evaluate_prints_metrics(tmp_path, capsys):
    code = main(["image", "evaluate", "--dataset", "procedural", "--count", "64"])
    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metrics = records[-1]["summary"]["metrics"]
    assert {"accuracy/hair", "accuracy/eyes", "frechet/classifier", "diversity/ratio"} <= set(metrics)
