"""Load a trained image generator and make images from tag text: grids, seeds, truncation, interpolation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from PIL import Image

from engine.core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from engine.data.image_tags import TagError, TagVocabulary
from engine.image.models import GanConfig, Generator, truncated_noise

logger = logging.getLogger(__name__)

GENERATOR_KINDS = ("image.cgan", "image.dcgan")


def images_to_uint8(images: torch.Tensor) -> np.ndarray:
    """Turn images (N, 3, H, W) in [-1, 1] into uint8 (N, H, W, 3)."""
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # (N, 3, H, W) -> (N, H, W, 3)


def tile(images: np.ndarray, columns: int = 8, padding: int = 2, fill: int = 40) -> np.ndarray:
    """Tile uint8 images (N, H, W, 3) into one (rows*(H+p)+p, columns*(W+p)+p, 3) grid."""
    count, height, width, _ = images.shape
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, 3), fill, np.uint8)
    for index in range(count):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = images[index]
    return grid


def save_png(image: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Save a uint8 (H, W, 3) array as PNG, enlarged ``scale`` times with nearest-neighbour pixels."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(image, "RGB")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    picture.save(path, format="PNG")
    return path


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between noise vectors a, b (z_dim,) at fractions t (steps,) -> (steps, z_dim)."""
    a_unit, b_unit = a / a.norm(), b / b.norm()
    omega = torch.arccos((a_unit * b_unit).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    t = t[:, None]  # (steps,) -> (steps, 1)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@dataclass
class ImageGenerator:
    """A generator ready for sampling, with the vocabulary its tags are parsed against."""

    generator: Generator
    gan_config: GanConfig
    vocabulary: TagVocabulary | None
    kind: str
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> ImageGenerator:
        """Load the sampling generator from a training checkpoint (its EMA weights) or an exported model.

        Raises:
            CheckpointError: when the file is missing, corrupt, or not an image GAN.
        """
        checkpoint = load_checkpoint(path)
        if checkpoint.kind not in GENERATOR_KINDS:
            raise CheckpointError(f"{checkpoint.path} contains a {checkpoint.kind!r} model, but image generation needs "
                                  f"one of {', '.join(GENERATOR_KINDS)}. Pick an image GAN checkpoint.")
        gan_config = GanConfig.from_json(checkpoint.config["gan"])
        vocabulary_json = checkpoint.config.get("vocabulary")
        vocabulary = TagVocabulary.from_json(vocabulary_json) if vocabulary_json else None
        generator = Generator(gan_config)
        name = "generator_ema" if any(key.startswith("generator_ema.") for key in checkpoint.tensors) else "generator"
        state = checkpoint.module_state(name)
        try:
            generator.load_state_dict(state)
        except RuntimeError as error:
            raise CheckpointError(f"{checkpoint.path}: the {name!r} weights do not fit the saved configuration "
                                  f"({error}). The file is damaged; retrain or pick another.") from error
        generator.eval()
        metadata = {"config": checkpoint.config, "metrics": checkpoint.metrics, "extra": checkpoint.extra,
                    "step": checkpoint.step}
        return cls(generator, gan_config, vocabulary, checkpoint.kind, checkpoint.path, metadata)

    def save(self, path: str | Path, metrics: Mapping[str, float] | None = None,
             extra: Mapping[str, Any] | None = None, step: int = 0, train_config: Mapping[str, Any] | None = None) -> Path:
        """Write only the sampling generator (no discriminator or optimizer state), for shipping."""
        config = {"gan": self.gan_config.to_json(), "vocabulary": self.vocabulary.to_json() if self.vocabulary else None,
                  "train": dict(train_config or {})}
        return save_checkpoint(path, kind=self.kind, config=config, step=step, modules={"generator": self.generator},
                               metrics=metrics, extra=extra)

    @property
    def conditional(self) -> bool:
        return self.gan_config.conditional

    def labels_for(self, tags: str | None, count: int, rng: torch.Generator) -> torch.Tensor | None:
        """Parse ``tags`` into labels (count, attributes); attributes the text leaves out are drawn at random.

        Raises:
            TagError: for unknown tags (the message lists the known ones), or tags given to a DCGAN.
        """
        if not self.conditional:
            if tags and tags.strip():
                raise TagError(f"This model is an unconditional DCGAN and takes no tags, but got {tags!r}. "
                               "Leave the tags empty or load a conditional model.")
            return None
        parsed = self.vocabulary.parse(tags or "")
        columns = []
        for attribute in self.vocabulary.attributes:
            if attribute.name in parsed:
                columns.append(torch.full((count,), parsed[attribute.name], dtype=torch.int64))
            else:
                columns.append(torch.randint(len(attribute.classes), (count,), generator=rng))
        return torch.stack(columns, dim=1)

    @torch.no_grad()
    def generate(self, tags: str | None = None, seed: int = 0, count: int = 8,
                 truncation: float | None = None) -> tuple[np.ndarray, list[str]]:
        """Generate ``count`` images; return uint8 (count, H, W, 3) and the tag text of each image.

        The same seed, count, tags and truncation give the same images.
        """
        rng = torch.Generator().manual_seed(seed)
        z = truncated_noise(count, self.gan_config.z_dim, truncation, rng)
        labels = self.labels_for(tags, count, rng)
        images = self.generator(z, labels)
        texts = [self.vocabulary.to_text(row.tolist()) for row in labels] if labels is not None else [""] * count
        return images_to_uint8(images), texts

    @torch.no_grad()
    def interpolate(self, seed_a: int, seed_b: int, tags_a: str | None = None, tags_b: str | None = None,
                    steps: int = 8, truncation: float | None = None) -> np.ndarray:
        """Return a strip of ``steps`` images (steps, H, W, 3) from (seed_a, tags_a) to (seed_b, tags_b).

        Noise moves along a great circle (slerp); the tag vector moves in a straight line between
        the two tag sets' embeddings. Attributes missing from ``tags_a`` are drawn from seed_a, and
        ``tags_b`` falls back to ``tags_a``.
        """
        if steps < 2:
            raise ValueError(f"An interpolation strip needs at least 2 steps, got {steps}.")
        rng_a, rng_b = torch.Generator().manual_seed(seed_a), torch.Generator().manual_seed(seed_b)
        z_a = truncated_noise(1, self.gan_config.z_dim, truncation, rng_a)[0]
        z_b = truncated_noise(1, self.gan_config.z_dim, truncation, rng_b)[0]
        fractions = torch.linspace(0.0, 1.0, steps)
        z = slerp(z_a, z_b, fractions)
        if not self.conditional:
            self.labels_for(tags_a, 1, rng_a)  # rejects tags given to a DCGAN
            self.labels_for(tags_b, 1, rng_b)
            cond = z.new_zeros((steps, 0))
        else:
            labels_a = self.labels_for(tags_a, 1, rng_a)
            labels_b = self.labels_for(tags_b if tags_b else tags_a, 1, rng_a if not tags_b else rng_b)
            cond_a, cond_b = self.generator.embed(labels_a), self.generator.embed(labels_b)
            cond = torch.lerp(cond_a, cond_b, fractions[:, None])  # (1, E), (1, E), (steps, 1) -> (steps, E)
        return images_to_uint8(self.generator.forward_embedded(z, cond))
