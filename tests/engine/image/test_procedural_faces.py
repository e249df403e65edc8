"""Procedural faces: determinism by seed, independence of batch composition, shapes and tags."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.procedural_faces import ProceduralFaces, render_faces, sample_face_params


def test_same_seed_same_faces():
    first = ProceduralFaces(16, 32, seed=3)
    second = ProceduralFaces(16, 32, seed=3)
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.labels, second.labels)


def test_other_seed_other_faces():
    assert not torch.equal(ProceduralFaces(16, 32, seed=3).images, ProceduralFaces(16, 32, seed=4).images)


def test_face_does_not_depend_on_batch():
    alone = render_faces(sample_face_params(5, np.array([7])), 32)
    in_batch = render_faces(sample_face_params(5, np.arange(10)), 32)
    assert np.array_equal(alone[0], in_batch[7])


def test_shapes_ranges_and_tags():
    faces = ProceduralFaces(8, 64, seed=0)
    image, labels = faces[0]
    assert image.shape == (3, 64, 64)
    assert image.dtype == torch.float32
    assert float(image.min()) >= -1.0
    assert float(image.max()) <= 1.0
    assert labels.shape == (3,)
    text = faces.tags(0)
    assert faces.vocabulary.parse(text, require_all=True) == dict(zip(faces.vocabulary.names, labels.tolist()))


def test_forced_tags_change_hair_pixels():
    indices = np.arange(4)
    red = render_faces(sample_face_params(0, indices, hair=np.array(10), length=np.array(1)), 32).astype(float)
    blue = render_faces(sample_face_params(0, indices, hair=np.array(3), length=np.array(1)), 32).astype(float)
    # Long hair falls beside the neck to the bottom edge, so the hair colour shows there.
    corner_red, corner_blue = red[:, -4:, 8:11].mean(axis=(0, 1, 2)), blue[:, -4:, 8:11].mean(axis=(0, 1, 2))
    assert corner_red[0] > corner_red[2] + 50, corner_red
    assert corner_blue[2] > corner_blue[0] + 50, corner_blue


def test_unsupported_resolution():
    with pytest.raises(ValueError, match="32, 64"):
        ProceduralFaces(4, 48)
