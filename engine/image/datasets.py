"""The image data sets a training or evaluation run can name: procedural faces, anime faces, a folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.data.image_folders import ImageFolderDataset, SkippedFile, load_anime_faces, split_indices
from engine.data.image_tags import TagVocabulary
from engine.data.procedural_faces import ProceduralFaces

logger = logging.getLogger(__name__)

DATASET_NAMES = ("procedural", "anime")
# The anime faces are split once with this seed and fraction. The tag classifier trains on the
# train part, and every evaluation compares against the held-out part.
ANIME_SPLIT_SEED = 0
ANIME_HOLDOUT_FRACTION = 0.2
# Procedural faces for evaluation start at this index, so they never overlap a training set of
# fewer faces drawn with the same seed.
PROCEDURAL_HELDOUT_FIRST_INDEX = 1_000_000


@dataclass
class ImageData:
    """Images uint8 (N, 3, H, W), labels int64 (N, attributes) and their vocabulary (None when untagged)."""

    images: torch.Tensor
    labels: torch.Tensor
    vocabulary: TagVocabulary | None
    description: str
    skipped: list[SkippedFile]


def load_image_data(dataset: str, resolution: int, *, split: str = "train", procedural_faces: int = 20_000,
                    seed: int = 0, tags_csv: str | None = None, require_tags: bool = False) -> ImageData:
    """Load ``dataset`` ("procedural", "anime" or a folder path) at ``resolution``.

    Args:
        split: "train", "heldout" or "all". The anime faces use a fixed 80/20 split; procedural
            held-out faces are drawn from indices no training set reaches; a folder has no split.
        procedural_faces: how many procedural faces to draw.
        seed: the procedural drawing seed.

    Raises:
        FileNotFoundError: when a folder or the anime data set is missing or contains no usable image.
        ValueError: for an unknown split.
    """
    if split not in ("train", "heldout", "all"):
        raise ValueError(f"split must be 'train', 'heldout' or 'all', got {split!r}.")
    if dataset == "procedural":
        first = PROCEDURAL_HELDOUT_FIRST_INDEX if split == "heldout" else 0
        faces = ProceduralFaces(procedural_faces, resolution, seed=seed, first_index=first)
        return ImageData(faces.images, faces.labels, faces.vocabulary,
                         f"procedural faces: {procedural_faces} at {resolution} px, seed {seed}, first index {first}", [])

    if dataset == "anime":
        folder = load_anime_faces(resolution)
        train, heldout = split_indices(len(folder), ANIME_HOLDOUT_FRACTION, ANIME_SPLIT_SEED)
        pick = {"train": train, "heldout": heldout, "all": torch.arange(len(folder))}[split]
        return ImageData(folder.images[pick], folder.labels[pick], folder.vocabulary,
                         f"anime_faces_64_tags ({split} split, {len(pick)} of {len(folder)} images) at {resolution} px",
                         folder.skipped)

    root = Path(dataset)
    folder = ImageFolderDataset(root, resolution, tags_csv=tags_csv, require_tags=require_tags)
    return ImageData(folder.images, folder.labels, folder.vocabulary,
                     f"image folder {root} ({len(folder)} images, {len(folder.skipped)} skipped) at {resolution} px",
                     folder.skipped)
