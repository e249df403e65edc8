"""Generation API: tags to images, seeds, truncation, interpolation strips, PNG output and tag errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.core.checkpoints import CheckpointError
from engine.data.image_tags import PROCEDURAL_VOCABULARY, TagError
from engine.image.generate import ImageGenerator, save_png, slerp, tile
from engine.image.models import GanConfig, build_networks, truncated_noise


def _model(conditional: bool = True) -> ImageGenerator:
    torch.manual_seed(0)
    counts = PROCEDURAL_VOCABULARY.class_counts if conditional else ()
    config = GanConfig(resolution=32, z_dim=16, g_channels=8, d_channels=8, embed_dim=8, class_counts=counts)
    generator = build_networks(config)[0].eval()
    return ImageGenerator(generator, config, PROCEDURAL_VOCABULARY if conditional else None,
                          "image.cgan" if conditional else "image.dcgan")


def test_generate_is_deterministic_by_seed():
    model = _model()
    first, texts = model.generate("red hair, green eyes", seed=3, count=4)
    second, _ = model.generate("red hair, green eyes", seed=3, count=4)
    other, _ = model.generate("red hair, green eyes", seed=4, count=4)
    assert first.shape == (4, 32, 32, 3)
    assert first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)
    assert all(text.startswith("red hair, green eyes, ") for text in texts), texts


def test_missing_attributes_are_drawn():
    _, texts = _model().generate("blue eyes", seed=0, count=16)
    assert all("blue eyes" in text for text in texts)
    assert len({text.split(",")[0] for text in texts}) > 1, texts


def test_tag_errors_name_known_tags():
    model = _model()
    with pytest.raises(TagError, match="Known tags: hair: aqua hair"):
        model.generate("silver hair")
    with pytest.raises(TagError, match="unconditional DCGAN"):
        _model(conditional=False).generate("red hair")


def test_truncation_bounds_noise():
    z = truncated_noise(256, 16, 0.5, torch.Generator().manual_seed(0))
    assert float(z.abs().max()) <= 0.5
    assert float(z.std()) < 0.35
    assert float(truncated_noise(256, 16, None, torch.Generator().manual_seed(0)).abs().max()) > 2.0


def test_interpolation_strip_endpoints():
    model = _model()
    strip = model.interpolate(1, 2, "red hair, blue eyes, long hair", "blue hair, red eyes, long hair", steps=6)
    assert strip.shape == (6, 32, 32, 3)
    start, _ = model.generate("red hair, blue eyes, long hair", seed=1, count=1)
    end, _ = model.generate("blue hair, red eyes, long hair", seed=2, count=1)
    assert np.abs(strip[0].astype(int) - start[0]).max() <= 1
    assert np.abs(strip[-1].astype(int) - end[0]).max() <= 1
    with pytest.raises(ValueError, match="at least 2"):
        model.interpolate(1, 2, steps=1)


def test_slerp_keeps_endpoints():
    a, b = torch.randn(8), torch.randn(8)
    path = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(path[0], a, atol=1e-5)
    assert torch.allclose(path[2], b, atol=1e-5)


def test_save_load_and_png(tmp_path):
    model = _model()
    path = model.save(tmp_path / "model", metrics={"accuracy/hair": 0.5})
    loaded = ImageGenerator.load(path)
    assert loaded.vocabulary == PROCEDURAL_VOCABULARY
    original, _ = model.generate("pink hair", seed=5, count=2)
    again, _ = loaded.generate("pink hair", seed=5, count=2)
    assert np.array_equal(original, again)

    grid = tile(again, columns=2)
    assert grid.shape == (2 + 34, 2 + 2 * 34, 3)
    png = save_png(grid, tmp_path / "out" / "grid.png", scale=3)
    with Image.open(png) as picture:
        assert picture.size == (grid.shape[1] * 3, grid.shape[0] * 3)


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        ImageGenerator.load(tmp_path / "nothing.safetensors")
