"""Procedural cartoon faces with hair colour, eye colour and hair length tags, deterministic by seed.

Every face is drawn with NumPy from soft-edged shapes: a face oval, a hair cap with a wavy fringe,
long hair falling behind the shoulders, eyes with a coloured iris, a pupil and a highlight, and a
mouth. Faces are rendered at twice the resolution and averaged down for anti-aliasing. Position, size,
skin tone, background, eye spacing and colour shades vary per face, so a model has to learn the
tags rather than copy one template. Face ``i`` of seed ``s`` is the same on every machine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from engine.data.image_tags import PROCEDURAL_VOCABULARY, TagVocabulary

logger = logging.getLogger(__name__)

SUPPORTED_RESOLUTIONS = (32, 64)

# RGB in 0..1, in the order of ANIME_HAIR_COLOURS / ANIME_EYE_COLOURS.
HAIR_RGB = np.array([
    (0.25, 0.80, 0.78),  # aqua
    (0.10, 0.09, 0.11),  # black
    (0.96, 0.86, 0.45),  # blonde
    (0.18, 0.32, 0.85),  # blue
    (0.45, 0.27, 0.12),  # brown
    (0.55, 0.55, 0.57),  # gray
    (0.20, 0.62, 0.22),  # green
    (0.98, 0.52, 0.12),  # orange
    (0.98, 0.58, 0.78),  # pink
    (0.52, 0.25, 0.72),  # purple
    (0.82, 0.10, 0.12),  # red
    (0.96, 0.96, 0.97),  # white
], dtype=np.float32)
EYE_RGB = np.array([
    (0.15, 0.85, 0.85),  # aqua
    (0.06, 0.05, 0.06),  # black
    (0.15, 0.30, 0.95),  # blue
    (0.45, 0.25, 0.08),  # brown
    (0.10, 0.70, 0.15),  # green
    (1.00, 0.50, 0.05),  # orange
    (1.00, 0.45, 0.75),  # pink
    (0.55, 0.15, 0.80),  # purple
    (0.90, 0.05, 0.08),  # red
    (0.98, 0.88, 0.10),  # yellow
], dtype=np.float32)
SKIN_RGB = np.array([
    (1.00, 0.90, 0.82),
    (0.98, 0.84, 0.72),
    (0.93, 0.76, 0.62),
    (0.80, 0.62, 0.48),
    (0.62, 0.45, 0.33),
], dtype=np.float32)

_SUPERSAMPLE = 2  # render at 2x and average 2x2 blocks, so edges are anti-aliased
_CHUNK = 256  # faces rendered per NumPy pass; bounds memory to about 100 MB at 64 px


@dataclass(frozen=True)
class FaceParams:
    """Per-face drawing parameters, one entry per face (arrays of shape (faces,) or (faces, 3))."""

    hair: np.ndarray
    eyes: np.ndarray
    length: np.ndarray
    centre_x: np.ndarray
    centre_y: np.ndarray
    scale: np.ndarray
    aspect: np.ndarray
    eye_spacing: np.ndarray
    eye_size: np.ndarray
    fringe_phase: np.ndarray
    fringe_waves: np.ndarray
    hair_rgb: np.ndarray
    eye_rgb: np.ndarray
    skin_rgb: np.ndarray
    background_rgb: np.ndarray
    mouth_width: np.ndarray
    noise_seed: np.ndarray


def sample_face_params(seed: int, indices: np.ndarray, *, hair: np.ndarray | None = None,
                       eyes: np.ndarray | None = None, length: np.ndarray | None = None) -> FaceParams:
    """Draw the parameters of faces ``indices`` of ``seed``; given tags override the random ones.

    Each face takes its numbers from its own generator seeded by (seed, index), so face ``i`` does
    not depend on which other faces are drawn with it.
    """
    indices = np.asarray(indices, dtype=np.int64)
    rows = []
    for index in indices:
        rng = np.random.default_rng([seed, int(index)])
        rows.append(np.concatenate([
            rng.integers(0, [len(HAIR_RGB), len(EYE_RGB), 2, len(SKIN_RGB), 1 << 30]).astype(np.float64),
            rng.random(20),
        ]))
    table = np.stack(rows) if rows else np.zeros((0, 25))
    uniform = table[:, 5:]

    def between(column: int, low: float, high: float) -> np.ndarray:
        return (low + (high - low) * uniform[:, column]).astype(np.float32)

    hair_index = table[:, 0].astype(np.int64) if hair is None else np.broadcast_to(hair, indices.shape).astype(np.int64)
    eye_index = table[:, 1].astype(np.int64) if eyes is None else np.broadcast_to(eyes, indices.shape).astype(np.int64)
    length_index = (table[:, 2].astype(np.int64) if length is None
                    else np.broadcast_to(length, indices.shape).astype(np.int64))

    hair_shade = between(0, 0.82, 1.08)[:, None]
    eye_shade = between(1, 0.88, 1.08)[:, None]
    skin_shade = between(2, 0.95, 1.04)[:, None]
    pastel = np.stack([between(3, 0.55, 1.0), between(4, 0.55, 1.0), between(5, 0.55, 1.0)], axis=1)
    return FaceParams(
        hair=hair_index, eyes=eye_index, length=length_index,
        centre_x=between(6, -0.10, 0.10), centre_y=between(7, -0.08, 0.06),
        scale=between(8, 0.72, 0.92), aspect=between(9, 0.88, 1.06),
        eye_spacing=between(10, 0.22, 0.27), eye_size=between(11, 0.9, 1.12),
        fringe_phase=between(12, 0.0, 2 * np.pi), fringe_waves=between(13, 3.0, 6.0),
        hair_rgb=np.clip(HAIR_RGB[hair_index] * hair_shade, 0, 1),
        eye_rgb=np.clip(EYE_RGB[eye_index] * eye_shade, 0, 1),
        skin_rgb=np.clip(SKIN_RGB[table[:, 3].astype(np.int64)] * skin_shade, 0, 1),
        background_rgb=pastel.astype(np.float32),
        mouth_width=between(14, 0.07, 0.12),
        noise_seed=table[:, 4].astype(np.int64),
    )


def _ellipse(x: np.ndarray, y: np.ndarray, cx, cy, rx, ry, softness: float) -> np.ndarray:
    """Return a soft mask, 1 inside the ellipse and 0 outside, with an edge ``softness`` wide."""
    distance = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return np.clip((1.0 - distance) / softness + 0.5, 0.0, 1.0)


def _paint(canvas: np.ndarray, mask: np.ndarray, rgb: np.ndarray) -> None:
    """Blend ``rgb`` (faces, 3) over ``canvas`` (faces, height, width, 3) where ``mask`` (faces, height, width) is set."""
    canvas += mask[..., None] * (rgb[:, None, None, :] - canvas)


def _render_chunk(params: FaceParams, start: int, stop: int, resolution: int) -> np.ndarray:
    size = resolution * _SUPERSAMPLE
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    x = axis[None, None, :]
    y = axis[None, :, None]
    pick = slice(start, stop)

    def column(values: np.ndarray) -> np.ndarray:
        return values[pick][:, None, None]  # (faces,) -> (faces, 1, 1) to broadcast over the image

    s = column(params.scale)
    cx, cy = column(params.centre_x), column(params.centre_y)
    face_rx, face_ry = 0.55 * s * column(params.aspect), 0.62 * s
    soft = 6.0 / size / (0.5 * s)  # about three supersampled pixels of edge in ellipse units
    count = stop - start
    canvas = np.empty((count, size, size, 3), dtype=np.float32)
    canvas[:] = params.background_rgb[pick][:, None, None, :]
    hair_rgb = params.hair_rgb[pick]
    long_hair = column(params.length).astype(np.float32)

    # Long hair falls behind the face down to the bottom edge; drawn first so the face covers it.
    back = np.maximum(_ellipse(x, y, cx, cy + 0.05 * s, face_rx * 1.42, face_ry * 1.25, soft),
                      ((np.abs(x - cx) < face_rx * 1.42) & (y > cy)).astype(np.float32))
    _paint(canvas, back * long_hair, hair_rgb * 0.82)

    neck = ((np.abs(x - cx) < 0.2 * s) & (y > cy + 0.3 * s)).astype(np.float32)
    _paint(canvas, neck, params.skin_rgb[pick] * 0.88)
    _paint(canvas, _ellipse(x, y, cx, cy, face_rx, face_ry, soft), params.skin_rgb[pick])

    # The hair cap: an ellipse over the upper head, cut by a wavy fringe line except at the sides.
    cap = _ellipse(x, y, cx, cy - 0.12 * s, face_rx * 1.16, face_ry * 1.0, soft)
    wave = 0.06 * s * np.abs(np.sin(column(params.fringe_waves) * (x - cx) / s + column(params.fringe_phase)))
    fringe = cy - 0.22 * s + wave
    sides = np.abs(x - cx) > face_rx * 0.80
    side_bottom = cy + np.where(long_hair > 0, 0.55, 0.05) * s
    cap *= ((y < fringe) | (sides & (y < side_bottom))).astype(np.float32)
    _paint(canvas, cap, hair_rgb)

    eye_y = cy + 0.08 * s
    eye_scale = s * column(params.eye_size)
    for side in (-1.0, 1.0):
        eye_x = cx + side * column(params.eye_spacing) * s
        _paint(canvas, _ellipse(x, y, eye_x, eye_y, 0.17 * eye_scale, 0.16 * eye_scale, soft), np.ones((count, 3), np.float32))
        _paint(canvas, _ellipse(x, y, eye_x, eye_y + 0.01 * s, 0.14 * eye_scale, 0.145 * eye_scale, soft), params.eye_rgb[pick])
        _paint(canvas, _ellipse(x, y, eye_x, eye_y + 0.02 * s, 0.05 * eye_scale, 0.06 * eye_scale, soft),
               np.full((count, 3), 0.05, np.float32))
        _paint(canvas, _ellipse(x, y, eye_x - 0.05 * eye_scale, eye_y - 0.06 * eye_scale, 0.035 * eye_scale,
                                0.035 * eye_scale, soft), np.ones((count, 3), np.float32))

    mouth = _ellipse(x, y, cx, cy + 0.38 * s, column(params.mouth_width) * s, 0.035 * s, soft)
    _paint(canvas, mouth, np.tile(np.array([[0.65, 0.18, 0.2]], np.float32), (count, 1)))

    # Average 2x2 blocks: (faces, H*2, W*2, 3) -> (faces, H, 2, W, 2, 3) -> mean over the 2s.
    canvas = canvas.reshape(count, resolution, _SUPERSAMPLE, resolution, _SUPERSAMPLE, 3).mean(axis=(2, 4))
    for row, noise_seed in enumerate(params.noise_seed[pick]):
        canvas[row] += np.random.default_rng(int(noise_seed)).normal(0.0, 0.015, canvas[row].shape).astype(np.float32)
    return np.clip(canvas * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_faces(params: FaceParams, resolution: int = 32) -> np.ndarray:
    """Render faces to uint8 images of shape (faces, resolution, resolution, 3).

    Raises:
        ValueError: when ``resolution`` is not one of SUPPORTED_RESOLUTIONS.
    """
    if resolution not in SUPPORTED_RESOLUTIONS:
        raise ValueError(f"Procedural faces are drawn at {SUPPORTED_RESOLUTIONS} pixels, got {resolution}.")
    count = len(params.hair)
    images = np.empty((count, resolution, resolution, 3), dtype=np.uint8)
    for start in range(0, count, _CHUNK):
        stop = min(count, start + _CHUNK)
        images[start:stop] = _render_chunk(params, start, stop, resolution)
    return images


class ProceduralFaces(Dataset):
    """A torch Dataset of ``size`` procedural faces drawn once at construction.

    Items are (image, labels): image float32 (3, resolution, resolution) in [-1, 1], labels int64
    (attributes,) in the order of ``vocabulary`` (hair, eyes, length). ``images`` (faces, 3, H, W)
    uint8 and ``labels`` (faces, attributes) hold the whole set for fast in-memory training.
    """

    def __init__(self, size: int = 10_000, resolution: int = 32, seed: int = 0, first_index: int = 0) -> None:
        if size < 1:
            raise ValueError(f"A procedural face set needs at least one face, got size={size}.")
        self.vocabulary: TagVocabulary = PROCEDURAL_VOCABULARY
        self.resolution = resolution
        self.seed = seed
        params = sample_face_params(seed, np.arange(first_index, first_index + size))
        pixels = render_faces(params, resolution)
        self.images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()  # (faces, H, W, 3) -> (faces, 3, H, W)
        self.labels = torch.from_numpy(np.stack([params.hair, params.eyes, params.length], axis=1))
        self.skipped: list[tuple[str, str]] = []  # nothing is ever skipped; kept for the image-folder interface
        logger.info("Drew %d procedural faces at %d px (seed %d)", size, resolution, seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index].float() / 127.5 - 1.0, self.labels[index]

    def tags(self, index: int) -> str:
        """Return the tag text of face ``index``, e.g. "red hair, green eyes, long hair"."""
        return self.vocabulary.to_text(self.labels[index].tolist())
