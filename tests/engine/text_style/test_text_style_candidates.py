"""Tests for scored rewrite candidates: the bundled classifier, sampling, deduplication, sorting, seeding and the job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.core.checkpoints import CheckpointError
from engine.core.jobs import Failed, Finished, Sample, run_job
from engine.data.review_sentences import ReviewCorpusConfig, review_corpus
from engine.data.text_corpora import StyleCorpus, tokenize
from engine.text_style.candidates import (default_classifier_path, draw_rewrites, load_scoring_classifier,
                                          rewrite_candidates)
from engine.text_style.config import TextStyleConfig
from engine.text_style.default_model import DEFAULT_PRESETS, bundled_model_path, default_model_path
from engine.text_style.evaluate import (StyleClassifier, classifier_accuracy, load_classifier, save_classifier,
                                        train_classifier)
from engine.text_style.train import train_model
from engine.text_style.transfer import CANDIDATES_SAMPLE_KIND, TextStyleModel, TransferJob, model_from_checkpoint

NEGATIVE = ["the food was cold and the waiter was rude .", "we will never come back .", "the service was slow ."]


@pytest.fixture(scope="module")
def bundled_model() -> TextStyleModel:
    path = bundled_model_path()
    assert path is not None, "no bundled text style model in resources/models/text_style/"
    return model_from_checkpoint(path)


@pytest.fixture(scope="module")
def bundled_classifier() -> StyleClassifier:
    classifier, _ = load_scoring_classifier()
    return classifier


def test_bundled_classifier_sidecar_documents_training() -> None:
    sidecar = json.loads(default_classifier_path().with_suffix(".json").read_text(encoding="utf-8"))
    extra = sidecar["extra"]
    assert {"data", "command", "hardware", "report"} <= set(extra)
    assert extra["command"].startswith("python -m engine.text_style.default_classifier")
    assert sidecar["metrics"]["accuracy/test"] >= 90.0
    size = sum(default_classifier_path().with_suffix(suffix).stat().st_size for suffix in (".json", ".safetensors"))
    assert size < 3_000_000, f"the bundled classifier takes {size} bytes"


def test_bundled_models_match_their_presets() -> None:
    """A bundled model must come from its preset, so that the documented command reproduces it."""
    shipped = [method for method in DEFAULT_PRESETS if default_model_path(method).with_suffix(".json").is_file()]
    assert shipped, "no bundled text style model in resources/models/text_style/"
    for method in shipped:
        sidecar = json.loads(default_model_path(method).with_suffix(".json").read_text(encoding="utf-8"))
        # Checkpoint spacing changes only how often weights are written, not the weights.
        stored = {key: value for key, value in sidecar["config"].items() if key != "checkpoint_every"}
        preset = {key: value for key, value in DEFAULT_PRESETS[method].to_json().items() if key != "checkpoint_every"}
        differing = {key: (stored.get(key), value) for key, value in preset.items() if stored.get(key) != value}
        assert not differing, f"bundled {method} model differs from DEFAULT_PRESETS (stored, preset): {differing}"
        assert sidecar["extra"]["command"].startswith("python -m engine.text_style.default_model --method " + method)
        assert sidecar["step"] == DEFAULT_PRESETS[method].steps


def test_bundled_classifier_on_yelp_test(bundled_classifier: StyleClassifier, yelp_short: StyleCorpus) -> None:
    accuracy = classifier_accuracy(bundled_classifier, yelp_short.test)
    assert accuracy >= 0.9, f"bundled classifier accuracy {100 * accuracy:.1f}% on held-out Yelp test sentences"


def test_classifier_save_load_round_trip(tmp_path: Path) -> None:
    train = ([tokenize("the food was awful"), tokenize("rude staff")] * 3,
             [tokenize("the food was great"), tokenize("friendly staff")] * 3)
    classifier = train_classifier(train)
    sentences = [tokenize("awful staff"), tokenize("great food"), tokenize("unseen words")]

    loaded = load_classifier(save_classifier(classifier, tmp_path / "judge"))

    assert loaded.probabilities(sentences) == pytest.approx(classifier.probabilities(sentences))
    assert loaded.probabilities(sentences, style=0) == pytest.approx([1 - p for p in classifier.probabilities(sentences)])


def test_load_classifier_rejects_transfer_model() -> None:
    with pytest.raises(CheckpointError, match="text_style.classifier"):
        load_classifier(bundled_model_path())


def test_candidates_count_scores_and_order(bundled_model: TextStyleModel, bundled_classifier: StyleClassifier) -> None:
    sentences = [tokenize(s) for s in NEGATIVE]
    scored = rewrite_candidates(bundled_model, bundled_classifier, sentences, 0, 4, temperature=1.0, seed=0)
    greedy = bundled_model.transfer_tokens(sentences, 0)

    assert len(scored) == len(sentences)
    for row, greedy_tokens in zip(scored, greedy):
        assert len(row) == 4, [c.text for c in row]
        assert len({c.tokens for c in row}) == 4, [c.text for c in row]
        assert all(0.0 <= c.score <= 1.0 for c in row)
        assert [c.score for c in row] == sorted((c.score for c in row), reverse=True)
        assert [c.tokens for c in row if c.greedy] == [tuple(greedy_tokens)]


def test_candidates_scores_match_classifier(bundled_model: TextStyleModel, bundled_classifier: StyleClassifier) -> None:
    scored = rewrite_candidates(bundled_model, bundled_classifier, [tokenize(NEGATIVE[0])], 0, 3, seed=1)
    texts = [list(c.tokens) for c in scored[0]]
    assert [c.score for c in scored[0]] == pytest.approx(bundled_classifier.probabilities(texts, style=1))


def test_candidates_repeat_with_seed(bundled_model: TextStyleModel, bundled_classifier: StyleClassifier) -> None:
    sentences = [tokenize(s) for s in NEGATIVE]
    first = rewrite_candidates(bundled_model, bundled_classifier, sentences, 0, 5, temperature=1.0, seed=7)
    again = rewrite_candidates(bundled_model, bundled_classifier, sentences, 0, 5, temperature=1.0, seed=7)
    other = rewrite_candidates(bundled_model, bundled_classifier, sentences, 0, 5, temperature=1.0, seed=8)
    assert first == again
    assert first != other


def test_near_zero_temperature_gives_greedy_only(bundled_model: TextStyleModel) -> None:
    pools = draw_rewrites(bundled_model, [tokenize(NEGATIVE[1])], 0, 4, temperature=1e-4, seed=0)
    assert pools == [bundled_model.transfer_tokens([tokenize(NEGATIVE[1])], 0)]


@pytest.mark.parametrize(("count", "temperature", "message"), [(0, 0.7, "between 1 and"), (21, 0.7, "between 1 and"),
                                                                 (3, 0.0, "temperature must be positive")])
def test_candidates_reject_bad_settings(bundled_model: TextStyleModel, count: int, temperature: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        draw_rewrites(bundled_model, [tokenize(NEGATIVE[0])], 0, count, temperature=temperature)


def test_cross_aligned_candidates(tmp_path: Path, bundled_classifier: StyleClassifier) -> None:
    config = TextStyleConfig(method="cross_aligned", data="reviews", steps=2, embed_dim=16, style_dim=8, content_dim=16,
                             critic_filters=8, batch_size=8, min_count=1, warmup_steps=1, ramp_steps=1, device="cpu")
    corpus = review_corpus(ReviewCorpusConfig(sentences_per_style=100, test_per_style=10))
    model = train_model(config, corpus=corpus, output_dir=tmp_path).model
    assert model is not None
    sentences = [tokenize("the soup was cold ."), tokenize("the staff was rude .")]

    scored = rewrite_candidates(model, bundled_classifier, sentences, 0, 3, temperature=1.0, seed=0)

    assert [len(row) for row in scored] == [3, 3]
    assert scored == rewrite_candidates(model, bundled_classifier, sentences, 0, 3, temperature=1.0, seed=0)
    assert all(sum(c.greedy for c in row) == 1 for row in scored)


def test_transfer_job_sends_scored_rows() -> None:
    events = []
    job = TransferJob(bundled_model_path(), NEGATIVE[:2], 0, candidates=3, temperature=1.0)
    last = run_job(job, events.append)

    assert isinstance(last, Finished), last
    samples = [e for e in events if isinstance(e, Sample)]
    assert [s.kind for s in samples] == [CANDIDATES_SAMPLE_KIND]
    data = samples[0].data
    assert data["direction"] == "negative → positive"
    assert [row["source"] for row in data["rows"]] == NEGATIVE[:2]
    for row in data["rows"]:
        assert len(row["candidates"]) == 3
        assert sum(c["greedy"] for c in row["candidates"]) == 1
        assert all(isinstance(c["text"], str) and 0.0 <= c["score"] <= 1.0 for c in row["candidates"])
    assert last.summary["candidates"] == 6


def test_transfer_job_missing_classifier(tmp_path: Path) -> None:
    job = TransferJob(bundled_model_path(), NEGATIVE[:1], 0, classifier=tmp_path / "judge.safetensors")
    last = run_job(job, lambda event: None)
    assert isinstance(last, Failed)
    assert "judge.safetensors" in last.message
