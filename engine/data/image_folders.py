"""Image folder data sets: any common image file to RGB at one resolution, with optional tags.

Files that cannot be decoded (truncated, empty, not an image, or larger than ``max_pixels``) are
skipped with one log line each and listed in ``ImageFolderDataset.skipped``. A single bad file
never makes loading raise. Tags come from a CSV of ``file name,tags`` rows or from a ``.txt`` file
beside each image, and are parsed against a TagVocabulary.
"""

from __future__ import annotations

import csv
import logging
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from engine.core.paths import shared_datasets_dir
from engine.data.image_tags import ANIME_VOCABULARY, TagAttribute, TagError, TagVocabulary

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
# 64 megapixels is far above any face photo and far below what would exhaust memory when decoded
# (64 M x 4 bytes = 256 MB); larger files are skipped before their pixels are read.
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024
ANIME_FACES_FOLDER = "anime_faces_64_tags"
# Errors Pillow raises for undecodable files: OSError covers unidentified and truncated files,
# SyntaxError and struct.error come from broken chunks in some plugins, EOFError from cut-off frames.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError,
                  Image.DecompressionBombWarning)


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


def load_rgb(path: Path, resolution: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode ``path`` to uint8 RGB of shape (resolution, resolution, 3), resized and centre-cropped.

    Palette and alpha images are composited onto white, 16-bit images are scaled to 8 bits, CMYK
    and other modes go through Pillow's conversion, and the EXIF orientation is applied.

    Raises:
        OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError:
            when the file cannot be decoded or has more than ``max_pixels`` pixels.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            width, height = image.size  # read from the header; no pixels are decoded yet
            if width * height > max_pixels:
                raise Image.DecompressionBombError(
                    f"{width}x{height} pixels is more than the limit of {max_pixels} pixels")
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = _to_rgb(image)

    scale = resolution / min(rgb.size)
    new_size = (max(resolution, round(rgb.width * scale)), max(resolution, round(rgb.height * scale)))
    rgb = rgb.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    left, top = (rgb.width - resolution) // 2, (rgb.height - resolution) // 2
    rgb = rgb.crop((left, top, left + resolution, top + resolution))
    return np.asarray(rgb, dtype=np.uint8)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: Pillow's convert("RGB") clips at 255 instead of scaling, so scale by hand.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=2), "RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class ImageFolderDataset(Dataset):
    """Every image under ``root`` (recursively), decoded once into memory at ``resolution``.

    Args:
        root: the folder of images.
        resolution: output side length in pixels.
        tags_csv: a CSV whose rows are ``file name,tags``; a name may omit its suffix ("17" for
            "17.jpg"). Without it, a ``NAME.txt`` beside ``NAME.png`` supplies the tags when present.
        vocabulary: the attributes to parse tags against. None builds one from the tags found
            (one attribute per noun, classes sorted by name).
        require_tags: skip images without a complete tag set (needed by conditional training).

    Attributes:
        images: uint8 (images, 3, resolution, resolution).
        labels: int64 (images, attributes); -1 where an image has no tag for an attribute.
        files: the source path of every kept image.
        skipped: every file left out, with the reason.
    """

    def __init__(self, root: str | Path, resolution: int = 64, *, tags_csv: str | Path | None = None,
                 vocabulary: TagVocabulary | None = None, require_tags: bool = False,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"Image folder {self.root} does not exist; choose a folder of images.")
        self.resolution = resolution
        self.skipped: list[SkippedFile] = []

        paths = sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        tag_texts = self._read_tags(paths, Path(tags_csv) if tags_csv else None)
        if vocabulary is None and tag_texts:
            vocabulary = vocabulary_from_tags(tag_texts.values())
        self.vocabulary = vocabulary

        pixels: list[np.ndarray] = []
        labels: list[list[int]] = []
        self.files: list[Path] = []
        for path in paths:
            label_row = self._labels_for(path, tag_texts.get(path), require_tags)
            if label_row is None:
                continue
            try:
                pixels.append(load_rgb(path, resolution, max_pixels))
            except _DECODE_ERRORS as error:
                self._skip(path, f"cannot decode: {type(error).__name__}: {error}")
                continue
            labels.append(label_row)
            self.files.append(path)

        if not pixels:
            raise FileNotFoundError(f"No usable images in {self.root} ({len(paths)} image files found, "
                                    f"{len(self.skipped)} skipped); add PNG, JPEG, WebP or BMP files.")
        stacked = np.stack(pixels)
        self.images = torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()  # (N, H, W, 3) -> (N, 3, H, W)
        width = len(self.vocabulary.attributes) if self.vocabulary else 0
        self.labels = torch.tensor(labels, dtype=torch.int64).reshape(len(labels), width)
        logger.info("Loaded %d images from %s at %d px; skipped %d", len(self.images), self.root, resolution,
                    len(self.skipped))

    def _skip(self, path: Path, reason: str) -> None:
        self.skipped.append(SkippedFile(path, reason))
        logger.warning("Skipping %s: %s", path, reason)

    def _read_tags(self, paths: list[Path], tags_csv: Path | None) -> dict[Path, str]:
        if tags_csv is None:
            found = {}
            for path in paths:
                text_path = path.with_suffix(".txt")
                if text_path.is_file():
                    found[path] = text_path.read_text(encoding="utf-8", errors="replace").strip()
            return found

        if not tags_csv.is_file():
            raise FileNotFoundError(f"Tag file {tags_csv} does not exist; pass a CSV of 'file name,tags' rows.")
        by_name: dict[str, str] = {}
        with tags_csv.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) >= 2 and row[0].strip():
                    by_name[row[0].strip()] = ",".join(row[1:]).strip()
        return {path: by_name[key] for path in paths
                for key in (path.name, path.stem, str(path.relative_to(self.root))) if key in by_name}

    def _labels_for(self, path: Path, text: str | None, require_tags: bool) -> list[int] | None:
        if self.vocabulary is None:
            if require_tags:
                self._skip(path, "no tags")
                return None
            return []
        if text is None:
            if require_tags:
                self._skip(path, "no tags")
                return None
            return [-1] * len(self.vocabulary.attributes)
        try:
            parsed = self.vocabulary.parse(text, require_all=require_tags)
        except TagError as error:
            if require_tags:
                self._skip(path, f"bad tags: {error}")
                return None
            logger.warning("Keeping %s without tags: %s", path, error)
            return [-1] * len(self.vocabulary.attributes)
        return [parsed.get(name, -1) for name in self.vocabulary.names]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (image float32 (3, H, W) in [-1, 1], labels int64 (attributes,))."""
        return self.images[index].float() / 127.5 - 1.0, self.labels[index]


def vocabulary_from_tags(texts) -> TagVocabulary:
    """Build a vocabulary from tag texts: one attribute per noun ("hair", "eyes"), classes sorted.

    NOTE: two attributes that share a noun (hair colour and "long hair") end up in one attribute
    here; pass an explicit vocabulary for such data.
    """
    classes: dict[str, set[str]] = {}
    for text in texts:
        pending: list[str] = []
        for word in text.replace(",", " ").lower().split():
            if word in ("hair", "eyes", "eye"):
                noun = "eyes" if word == "eye" else word
                if pending:
                    classes.setdefault(noun, set()).add(" ".join(pending))
                pending = []
            else:
                pending.append(word)
    return TagVocabulary(tuple(TagAttribute(noun, noun, tuple(sorted(values))) for noun, values in sorted(classes.items())))


def anime_faces_root() -> Path:
    return shared_datasets_dir() / ANIME_FACES_FOLDER


def load_anime_faces(resolution: int = 64, root: str | Path | None = None) -> ImageFolderDataset:
    """Load the 4,082 tagged anime faces (12 hair x 10 eye colours) from the shared data sets.

    Raises:
        FileNotFoundError: when the folder or its tags.csv is missing.
    """
    root = Path(root) if root else anime_faces_root()
    if not (root / "tags.csv").is_file():
        raise FileNotFoundError(f"Anime faces not found: {root / 'tags.csv'} is missing. Place the "
                                f"{ANIME_FACES_FOLDER} data set there or set GAN_STUDIO_DATASETS.")
    return ImageFolderDataset(root / "images", resolution, tags_csv=root / "tags.csv",
                              vocabulary=ANIME_VOCABULARY, require_tags=True)


def split_indices(count: int, holdout_fraction: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``range(count)`` into (train, held-out) index tensors with a fixed shuffle."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(count, generator=generator)
    holdout = int(round(count * holdout_fraction))
    return order[holdout:].sort().values, order[:holdout].sort().values
