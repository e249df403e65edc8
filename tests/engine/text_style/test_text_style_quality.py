"""Quality tests: each method, trained briefly on Yelp on the CPU, must rewrite sentiment while keeping content."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.text_corpora import StyleCorpus
from engine.text_style.config import TextStyleConfig
from engine.text_style.evaluate import Evaluator, copy_transfer
from engine.text_style.train import train_model

# Small models with a reduced vocabulary, sized to train within about two minutes on two CPU cores.
QUALITY_CONFIGS = {
    "direct": TextStyleConfig(method="direct", steps=400, batch_size=32, max_tokens=10, min_count=30, embed_dim=64,
                              hidden_dim=128, warmup_steps=0, ramp_steps=100, device="cpu", precision="fp32",
                              sample_every=10_000, checkpoint_every=10_000),
    "cross_aligned": TextStyleConfig(method="cross_aligned", steps=700, batch_size=64, max_tokens=10, min_count=30,
                                     embed_dim=64, style_dim=32, content_dim=192, learning_rate=3e-3, warmup_steps=400,
                                     ramp_steps=100, adversarial_weight=0.03, adversarial_clip=1.0, device="cpu", precision="fp32",
                                     sample_every=10_000, checkpoint_every=10_000),
}


def test_classifier_judges_real_yelp(yelp_judge: Evaluator) -> None:
    copy = yelp_judge.evaluate(copy_transfer)
    assert copy["bleu/self"] == pytest.approx(100.0)
    assert copy["accuracy"] < 10.0, f"copying the input reached {copy['accuracy']:.1f}% transfer accuracy"


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(QUALITY_CONFIGS))
def test_transfer_beats_copy_baseline(tmp_path: Path, yelp_short: StyleCorpus, yelp_judge: Evaluator, method: str) -> None:
    job = train_model(QUALITY_CONFIGS[method], corpus=yelp_short, output_dir=tmp_path)
    assert job.model is not None

    scores = yelp_judge.evaluate(job.model.transfer_tokens)
    copy = yelp_judge.evaluate(copy_transfer)

    gain = scores["accuracy"] - copy["accuracy"]
    assert gain >= 30.0, (f"{method}: transfer accuracy {scores['accuracy']:.1f}% vs copy {copy['accuracy']:.1f}% "
                          f"(gain {gain:.1f} points, need 30); self-BLEU {scores['bleu/self']:.1f}")
    assert scores["bleu/self"] >= 15.0, (f"{method}: self-BLEU {scores['bleu/self']:.1f} (need 15) "
                                         f"at transfer accuracy {scores['accuracy']:.1f}%")
