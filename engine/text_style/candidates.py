"""Several rewrites per sentence, the greedy one and sampled ones, each scored by a sentiment classifier."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import torch

from engine.core.checkpoints import CheckpointError
from engine.core.paths import resources_dir
from engine.text_style.evaluate import StyleClassifier, load_classifier

Tokens = list[str]

DEFAULT_TEMPERATURE = 0.7
# Sampling stops after this many draws per missing candidate, so a model that keeps producing the
# same rewrite returns fewer candidates instead of looping.
DRAWS_PER_CANDIDATE = 5
MAX_CANDIDATES = 20


def default_classifier_path() -> Path:
    """Return the checkpoint stem of the bundled classifier, written by engine.text_style.default_classifier."""
    return resources_dir() / "models" / "text_style" / "yelp_classifier"


def load_scoring_classifier(path: str | Path | None = None) -> tuple[StyleClassifier, Path]:
    """Load the classifier at ``path``, or the bundled one when ``path`` is None.

    Returns:
        The classifier and the path of its weights file.

    Raises:
        CheckpointError: when the file is missing or is not a classifier. For the bundled one, the
            message names the command that writes it again.
    """
    if path is not None:
        return load_classifier(path), Path(path)
    bundled = default_classifier_path().with_suffix(".safetensors")
    try:
        return load_classifier(bundled), bundled
    except CheckpointError as error:
        raise CheckpointError(f"{error} Write the bundled classifier again with "
                              "'python -m engine.text_style.default_classifier', or pass another classifier.") from error


class Rewriter(Protocol):
    """The model interface that candidate generation uses, implemented by engine.text_style.transfer.TextStyleModel."""

    device: torch.device

    def transfer_tokens(self, sentences: Sequence[Sequence[str]], source_style: int) -> list[Tokens]: ...

    def sample_tokens(self, sentences: Sequence[Sequence[str]], source_style: int, *, temperature: float,
                      generator: torch.Generator | None = None) -> list[Tokens]: ...


@dataclass(frozen=True)
class Candidate:
    """One rewrite of a sentence with the classifier's probability that it has the target style."""

    tokens: tuple[str, ...]
    score: float  # P(target style | rewrite), in [0, 1]
    greedy: bool  # True for the rewrite built from the most likely word at each step

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def draw_rewrites(model: Rewriter, sentences: Sequence[Sequence[str]], source_style: int, count: int, *,
                  temperature: float = DEFAULT_TEMPERATURE, seed: int = 0) -> list[list[Tokens]]:
    """Return up to ``count`` distinct rewrites per sentence: the greedy one first, then sampled ones in draw order.

    All sentences still missing candidates are sampled together in each round, with a generator
    seeded by ``seed``, so the same inputs, seed and device give the same candidates. A sentence
    gets fewer than ``count`` rewrites when ``DRAWS_PER_CANDIDATE * (count - 1)`` rounds find no more
    distinct ones, for example when the model is nearly certain of every word.

    Raises:
        ValueError: when ``count`` is outside 1 to ``MAX_CANDIDATES`` or ``temperature`` is not positive.
    """
    if not 1 <= count <= MAX_CANDIDATES:
        raise ValueError(f"The number of candidates must be between 1 and {MAX_CANDIDATES}, got {count}.")
    if not temperature > 0:
        raise ValueError(f"The sampling temperature must be positive, got {temperature}. Use a value such as 0.7.")
    pools = [[rewrite] for rewrite in model.transfer_tokens(sentences, source_style)]
    seen = [{tuple(pool[0])} for pool in pools]

    generator = torch.Generator(device=model.device).manual_seed(seed)
    for _ in range(DRAWS_PER_CANDIDATE * (count - 1)):
        missing = [row for row, pool in enumerate(pools) if len(pool) < count]
        if not missing:
            break
        drawn = model.sample_tokens([sentences[row] for row in missing], source_style, temperature=temperature,
                                    generator=generator)
        for row, rewrite in zip(missing, drawn):
            if tuple(rewrite) not in seen[row]:
                seen[row].add(tuple(rewrite))
                pools[row].append(rewrite)
    return pools


def score_rewrites(classifier: StyleClassifier, pools: Sequence[Sequence[Tokens]], target_style: int) -> list[list[Candidate]]:
    """Score each pool from ``draw_rewrites`` and sort it by score, highest first.

    The first rewrite of each pool is marked greedy. Equal scores keep the draw order.
    """
    flat = [rewrite for pool in pools for rewrite in pool]
    scores = iter(classifier.probabilities(flat, target_style))
    scored = []
    for pool in pools:
        candidates = [Candidate(tuple(rewrite), next(scores), index == 0) for index, rewrite in enumerate(pool)]
        scored.append(sorted(candidates, key=lambda candidate: -candidate.score))
    return scored


def rewrite_candidates(model: Rewriter, classifier: StyleClassifier, sentences: Sequence[Sequence[str]],
                       source_style: int, count: int, *, temperature: float = DEFAULT_TEMPERATURE,
                       seed: int = 0) -> list[list[Candidate]]:
    """Return up to ``count`` scored rewrites per tokenized sentence, sorted by the target style's probability.

    Raises:
        ValueError: as ``draw_rewrites``.
    """
    pools = draw_rewrites(model, sentences, source_style, count, temperature=temperature, seed=seed)
    return score_rewrites(classifier, pools, 1 - source_style)
