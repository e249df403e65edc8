"""Evaluation pieces: Fréchet distance and diversity values, classifier save/load, and the metric set."""

from __future__ import annotations

import math

import pytest
import torch

from engine.core.checkpoints import CheckpointError
from engine.data.image_tags import PROCEDURAL_VOCABULARY
from engine.image.datasets import load_image_data
from engine.image.evaluate import (ClassifierConfig, classify, evaluate_generator, frechet_distance, load_classifier,
                                   mean_pairwise_distance, save_classifier, train_tag_classifier)
from engine.image.generate import ImageGenerator
from engine.image.models import GanConfig, build_networks


def test_frechet_distance_known_values():
    features = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    shifted = features + torch.tensor([3.0] + [0.0] * 7)
    assert frechet_distance(features, shifted) == pytest.approx(9.0, rel=1e-6)
    collapsed = torch.zeros(100, 8)
    assert math.isfinite(frechet_distance(features, collapsed))


def test_mean_pairwise_distance():
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert mean_pairwise_distance(points) == pytest.approx(5.0)
    assert mean_pairwise_distance(torch.zeros(5, 3)) == 0.0
    assert math.isnan(mean_pairwise_distance(torch.zeros(1, 3)))


def test_classifier_round_trip_and_metrics(tmp_path):
    train = load_image_data("procedural", 32, procedural_faces=64)
    heldout = load_image_data("procedural", 32, split="heldout", procedural_faces=32)
    config = ClassifierConfig(steps=3, batch_size=8, channels=8)
    classifier = train_tag_classifier(train, heldout, config)
    assert set(classifier.metrics) >= {"heldout_accuracy/hair", "heldout_accuracy/eyes", "heldout_accuracy/length"}

    path = save_classifier(classifier, tmp_path / "judge", config)
    loaded = load_classifier(path)
    assert torch.equal(classify(loaded.model, heldout.images)[0], classify(classifier.model, heldout.images)[0])

    torch.manual_seed(0)
    gan = GanConfig(resolution=32, z_dim=16, g_channels=8, d_channels=8, embed_dim=8,
                    class_counts=PROCEDURAL_VOCABULARY.class_counts)
    model = ImageGenerator(build_networks(gan)[0].eval(), gan, PROCEDURAL_VOCABULARY, "image.cgan")
    metrics = evaluate_generator(model, loaded, heldout, count=32, seed=0, same_tag_sets=2, same_tag_count=4)
    for key in ("accuracy/hair", "accuracy/eyes", "accuracy/length", "ceiling/hair", "frechet/classifier",
                "diversity/generated", "diversity/real", "diversity/ratio"):
        assert key in metrics, metrics
        assert math.isfinite(metrics[key]), (key, metrics)
    assert 0.0 <= metrics["accuracy/hair"] <= 1.0


def test_load_classifier_rejects_generator(tmp_path):
    gan = GanConfig(resolution=32, z_dim=16, g_channels=8, d_channels=8)
    path = ImageGenerator(build_networks(gan)[0], gan, None, "image.dcgan").save(tmp_path / "g")
    with pytest.raises(CheckpointError, match="tag_classifier"):
        load_classifier(path)
