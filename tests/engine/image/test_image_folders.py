"""Image folder loading: unusual but valid files decode, bad files are skipped with one log line each."""

from __future__ import annotations

import io
import logging
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data.image_folders import ImageFolderDataset, load_rgb
from engine.data.image_tags import ANIME_VOCABULARY


def _png_with_size(width: int, height: int) -> bytes:
    """Return a PNG whose header claims width x height but whose pixel data is tiny."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (10, 20, 30)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr_start = 8 + 8  # signature, then length and type of the IHDR chunk
    data[ihdr_start:ihdr_start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:ihdr_start + 13]))
    data[ihdr_start + 13:ihdr_start + 17] = struct.pack(">I", crc)
    return bytes(data)


def _write_table(folder: Path) -> dict[str, str]:
    """Write every case; return {file name: expected outcome ("ok" or "skip")}."""
    gradient = np.tile(np.linspace(0, 255, 80, dtype=np.uint8)[None, :, None], (60, 1, 3))

    Image.fromarray(gradient).save(folder / "plain.png")
    Image.fromarray(gradient).save(folder / "photo.webp")
    Image.fromarray(gradient).save(folder / "bitmap.bmp")
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(folder / "cmyk.jpg")  # pure red in CMYK

    sixteen = (np.full((32, 32), 65535, dtype=np.uint16) // 2)
    Image.fromarray(sixteen).save(folder / "sixteen_bit.png")  # mid grey, mode I;16

    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    palette.save(folder / "palette_transparent.png", transparency=0)  # index 0 (blue) is fully transparent

    full = io.BytesIO()
    Image.fromarray(gradient).save(full, format="JPEG")
    (folder / "truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    png = io.BytesIO()
    Image.fromarray(gradient).save(png, format="PNG")
    (folder / "truncated.png").write_bytes(png.getvalue()[:60])
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.png").write_text("this is a text file, not an image\n", encoding="utf-8")
    (folder / "huge.png").write_bytes(_png_with_size(20_000, 20_000))
    return {"plain.png": "ok", "photo.webp": "ok", "bitmap.bmp": "ok", "cmyk.jpg": "ok", "sixteen_bit.png": "ok",
            "palette_transparent.png": "ok", "truncated.jpg": "skip", "truncated.png": "skip", "empty.png": "skip",
            "notes.png": "skip", "huge.png": "skip"}


def test_bad_files_are_skipped_once_each(tmp_path, caplog):
    expected = _write_table(tmp_path)
    with caplog.at_level(logging.WARNING, logger="engine.data.image_folders"):
        dataset = ImageFolderDataset(tmp_path, 16)

    skipped = sorted(item.path.name for item in dataset.skipped)
    assert skipped == sorted(name for name, outcome in expected.items() if outcome == "skip"), dataset.skipped
    assert len(dataset.skipped) == 5
    for name in skipped:
        lines = [record for record in caplog.records if name in record.getMessage()]
        assert len(lines) == 1, f"{name}: {len(lines)} log lines"
    kept = sorted(path.name for path in dataset.files)
    assert kept == sorted(name for name, outcome in expected.items() if outcome == "ok")
    assert dataset.images.shape == (6, 3, 16, 16)
    huge = next(item for item in dataset.skipped if item.path.name == "huge.png")
    assert "400000000 pixels" in huge.reason, huge.reason


def test_own_pixel_limit_checked_before_decoding(tmp_path):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    Image.new("RGB", (50, 50)).save(tmp_path / "small.png")
    dataset = ImageFolderDataset(tmp_path, 8, max_pixels=5000)
    assert [path.name for path in dataset.files] == ["small.png"]
    assert "100x100 pixels" in dataset.skipped[0].reason, dataset.skipped


def test_unusual_modes_decode_to_expected_colours(tmp_path):
    _write_table(tmp_path)
    cmyk = load_rgb(tmp_path / "cmyk.jpg", 8).astype(int)
    assert cmyk[..., 0].mean() > 200, cmyk[0, 0]
    assert cmyk[..., 1].mean() < 60, cmyk[0, 0]
    assert cmyk[..., 2].mean() < 60, cmyk[0, 0]
    grey = load_rgb(tmp_path / "sixteen_bit.png", 8).astype(int)
    assert abs(grey.mean() - 127.5) < 3, grey[0, 0]
    transparent = load_rgb(tmp_path / "palette_transparent.png", 8)
    assert (transparent == 255).all(), transparent[0, 0]


def test_resize_and_centre_crop(tmp_path):
    wide = np.zeros((20, 60, 3), dtype=np.uint8)
    wide[:, 20:40] = 255  # a white band in the middle third
    Image.fromarray(wide).save(tmp_path / "wide.png")
    image = load_rgb(tmp_path / "wide.png", 10)
    assert image.shape == (10, 10, 3)
    assert image[:, 2:8].mean() > 240, "the centre crop keeps the middle band"


def test_tags_from_csv_and_txt(tmp_path):
    for name, colour in (("a", (255, 0, 0)), ("b", (0, 0, 255)), ("c", (0, 255, 0))):
        Image.new("RGB", (8, 8), colour).save(tmp_path / f"{name}.png")
    (tmp_path / "tags.csv").write_text("a,red hair blue eyes\nb.png,\"blue hair, red eyes\"\nc,silver hair\n",
                                       encoding="utf-8")
    dataset = ImageFolderDataset(tmp_path, 8, tags_csv=tmp_path / "tags.csv", vocabulary=ANIME_VOCABULARY,
                                 require_tags=True)
    assert [path.name for path in dataset.files] == ["a.png", "b.png"]
    assert dataset.labels.tolist() == [[10, 2], [3, 8]]
    assert "silver hair" in dataset.skipped[0].reason

    (tmp_path / "tags.csv").unlink()
    (tmp_path / "a.txt").write_text("red hair, blue eyes", encoding="utf-8")
    beside = ImageFolderDataset(tmp_path, 8)
    assert beside.vocabulary.names == ("eyes", "hair")
    assert beside.labels.tolist()[0] == [0, 0]
    assert beside.labels.tolist()[1:] == [[-1, -1], [-1, -1]]


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolderDataset(tmp_path / "nowhere")
    (tmp_path / "junk.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="No usable images"):
        ImageFolderDataset(tmp_path)
