"""Session fixtures for text style tests: a short-sentence Yelp corpus and the style classifier that judges transfer."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.text_corpora import StyleCorpus, load_yelp
from engine.text_style.evaluate import Evaluator, build_evaluator

# Short sentences train fastest and match the quality test's small models.
QUALITY_MAX_TOKENS = 10
QUALITY_TEST_PER_STYLE = 200


@pytest.fixture(scope="session")
def yelp_short(datasets_dir: Path) -> StyleCorpus:
    return load_yelp(datasets_dir, max_tokens=QUALITY_MAX_TOKENS, test_per_style=QUALITY_TEST_PER_STYLE, seed=0)


@pytest.fixture(scope="session")
def yelp_judge(yelp_short: StyleCorpus) -> Evaluator:
    """The n-gram classifier trained on Yelp dev (references removed), without a language model."""
    return build_evaluator(yelp_short, with_language_model=False)
