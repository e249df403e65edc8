"""Tests for the text style training jobs: events, samples, checkpoints, resume, cancel and non-finite stops."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.core.checkpoints import load_checkpoint
from engine.core.jobs import CancelToken, CheckpointSaved, Failed, Finished, Metrics, Sample, Started, run_job
from engine.data.review_sentences import ReviewCorpusConfig, review_corpus
from engine.text_style.config import TextStyleConfig
from engine.text_style.train import TextStyleTrainJob
from engine.text_style.transfer import model_from_checkpoint

TINY = dict(data="reviews", embed_dim=16, hidden_dim=16, style_dim=8, content_dim=16, critic_filters=8,
            batch_size=8, min_count=1, warmup_steps=1, ramp_steps=1, sample_every=2, checkpoint_every=2, device="cpu")


@pytest.fixture(scope="module")
def reviews():
    return review_corpus(ReviewCorpusConfig(sentences_per_style=200, test_per_style=20))


def _run(config: TextStyleConfig, corpus, out: Path, resume: Path | None = None, cancel: CancelToken | None = None):
    events = []
    job = TextStyleTrainJob(config, output_dir=out, resume_from=resume, corpus=corpus)
    last = run_job(job, events.append, cancel)
    return job, events, last


@pytest.mark.parametrize("method", ["direct", "cross_aligned"])
def test_job_events_and_samples(tmp_path: Path, reviews, method: str) -> None:
    job, events, last = _run(TextStyleConfig(method=method, steps=4, **TINY), reviews, tmp_path)

    assert isinstance(events[0], Started)
    assert isinstance(last, Finished) and not last.cancelled, last
    metrics = [e for e in events if isinstance(e, Metrics)]
    assert [m.step for m in metrics] == [1, 2, 3, 4]
    assert {"loss/g", "loss/d", "loss/adversarial"} <= set(metrics[-1].values)
    samples = [e for e in events if isinstance(e, Sample)]
    assert samples and all(s.kind == "text_samples" for s in samples)
    source, output, direction = samples[-1].data["samples"][0]
    assert isinstance(source, str) and isinstance(output, str)
    assert direction == "negative → positive"
    saved = [e.step for e in events if isinstance(e, CheckpointSaved)]
    assert saved == [2, 4]


@pytest.mark.parametrize("method", ["direct", "cross_aligned"])
def test_resume_continues_from_checkpoint(tmp_path: Path, reviews, method: str) -> None:
    config = TextStyleConfig(method=method, steps=2, **TINY)
    first, _, _ = _run(config, reviews, tmp_path / "first")
    checkpoint = first.last_checkpoint
    assert checkpoint is not None and load_checkpoint(checkpoint).step == 2

    longer = TextStyleConfig(method=method, steps=4, **TINY)
    resumed, events, last = _run(longer, reviews, tmp_path / "resumed", resume=checkpoint)

    assert isinstance(last, Finished), last
    assert [e.step for e in events if isinstance(e, Metrics)] == [3, 4]
    before = load_checkpoint(checkpoint).tensors
    after = load_checkpoint(resumed.last_checkpoint).tensors
    changed = [key for key in before if not key.startswith("optim") and not torch.equal(before[key], after[key])]
    assert changed, "resuming trained nothing"


def test_resume_rejects_other_method(tmp_path: Path, reviews) -> None:
    first, _, _ = _run(TextStyleConfig(method="direct", steps=2, **TINY), reviews, tmp_path / "direct")
    _, _, last = _run(TextStyleConfig(method="cross_aligned", steps=4, **TINY), reviews, tmp_path / "ca",
                      resume=first.last_checkpoint)
    assert isinstance(last, Failed)
    assert "text_style.direct" in last.message


def test_cancel_stops_and_saves(tmp_path: Path, reviews) -> None:
    cancel = CancelToken()
    events = []

    def sink(event) -> None:
        events.append(event)
        if isinstance(event, Metrics) and event.step == 3:
            cancel.cancel()

    job = TextStyleTrainJob(TextStyleConfig(method="direct", steps=50, **TINY), output_dir=tmp_path, corpus=reviews)
    last = run_job(job, sink, cancel)
    assert isinstance(last, Finished) and last.cancelled
    assert max(e.step for e in events if isinstance(e, Metrics)) == 3
    assert load_checkpoint(job.last_checkpoint).step == 3


def test_non_finite_loss_stops(tmp_path: Path, reviews) -> None:
    config = TextStyleConfig(method="cross_aligned", steps=20, learning_rate=float("inf"), **TINY)
    _, events, last = _run(config, reviews, tmp_path)
    assert isinstance(last, Failed)
    assert "became nan" in last.message or "became inf" in last.message, last.message


def test_checkpoint_transfers_text(tmp_path: Path, reviews) -> None:
    job, _, _ = _run(TextStyleConfig(method="cross_aligned", steps=2, **TINY), reviews, tmp_path)
    model = model_from_checkpoint(job.last_checkpoint)
    outputs = model.transfer(["The pizza was terrible!", "😍 寿司"], source_style=0)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)


def test_missing_files_fail_clearly(tmp_path: Path) -> None:
    config = TextStyleConfig(method="direct", data="files", files=(str(tmp_path / "neg.txt"), str(tmp_path / "pos.txt")),
                             steps=2, **{k: v for k, v in TINY.items() if k != "data"})
    _, _, last = _run(config, None, tmp_path)
    assert isinstance(last, Failed)
    assert "neg.txt" in last.message


def test_clipped_gradients_bound_the_norm() -> None:
    from engine.text_style.train import _clipped_gradients

    weight = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    unused = torch.nn.Parameter(torch.ones(2))
    norm, grads = _clipped_gradients((weight ** 2).sum() / 2, [weight, unused], max_norm=1.0)
    assert norm == pytest.approx(5.0)  # the gradient of |w|^2 / 2 is w itself
    assert torch.allclose(grads[0], torch.tensor([0.6, 0.8]), atol=1e-5)
    assert torch.equal(grads[1], torch.zeros(2))
    norm, grads = _clipped_gradients((weight ** 2).sum() / 2, [weight], max_norm=10.0)
    assert torch.allclose(grads[0], weight.detach())  # below the limit nothing is scaled


def test_separate_adversarial_clip_reports_both_norms(tmp_path: Path, reviews) -> None:
    config = TextStyleConfig(method="cross_aligned", steps=4, adversarial_clip=0.5, **TINY)
    _, events, last = _run(config, reviews, tmp_path)

    assert isinstance(last, Finished), last
    metrics = {e.step: e.values for e in events if isinstance(e, Metrics)}
    assert "grad_norm/g" in metrics[1]  # warm-up step: no adversarial term, one shared clip
    for step in (3, 4):
        assert metrics[step]["weight/adversarial"] > 0
        assert metrics[step]["grad_norm/adversarial"] > 0
        assert metrics[step]["grad_norm/reconstruction"] > 0
    with pytest.raises(ValueError, match="adversarial_clip"):
        TextStyleConfig(method="cross_aligned", adversarial_clip=0.0)
