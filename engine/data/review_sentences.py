"""A project-made corpus of positive and negative restaurant review sentences, built from templates."""

from __future__ import annotations

import random
from dataclasses import dataclass

from engine.data.text_corpora import StyleCorpus, tokenize

# Slot words shared by both styles carry the content; the sentiment slots differ by style.
_SUBJECTS = ("the food", "the pizza", "the service", "our waiter", "the staff", "the soup", "the pasta",
             "the burger", "the coffee", "the salad", "the steak", "the sushi", "the owner", "the manager",
             "the dessert", "the bread", "the tacos", "the fries", "the wine", "the breakfast", "the room",
             "the bartender", "the noodles", "the chicken", "the fish", "the patio", "the menu")
_PLACES = ("this place", "this restaurant", "this bar", "this cafe", "this bakery", "this diner", "the hotel",
           "this spot", "this shop", "the buffet")
_TIMES = ("tonight", "last night", "on friday", "today", "this morning", "for lunch", "for dinner",
          "on our anniversary", "after work", "on sunday")

_ADJECTIVES = {
    0: ("terrible", "awful", "bland", "cold", "rude", "horrible", "disgusting", "slow", "overpriced", "mediocre",
        "stale", "greasy", "dirty", "disappointing", "soggy"),
    1: ("great", "amazing", "delicious", "fresh", "friendly", "excellent", "wonderful", "fantastic", "perfect",
        "tasty", "awesome", "lovely", "clean", "outstanding", "superb"),
}
_VERBS = {
    0: ("hated", "regret visiting", "will never return to", "would avoid", "was disappointed by", "can not recommend"),
    1: ("loved", "enjoyed visiting", "will definitely return to", "would recommend", "was impressed by",
        "highly recommend"),
}
_ADVERBS = {0: ("never", "rarely", "hardly ever"), 1: ("always", "usually", "every time")}
_EXPERIENCES = {0: ("a waste of money", "the worst meal", "a total disaster", "a huge letdown"),
                1: ("worth every penny", "the best meal", "a real treat", "a pleasant surprise")}
_SERVICE = {0: ("ignored us", "forgot our order", "was very rude", "took forever"),
            1: ("welcomed us", "remembered our order", "was very kind", "was quick")}

_TEMPLATES = (
    "{subject} was {adjective} .",
    "{subject} was {adjective} and {subject2} was {adjective2} .",
    "i {verb} {place} .",
    "we {verb} {place} {time} .",
    "{subject} {adverb} tastes {adjective} here .",
    "{subject} at {place} is {adjective} .",
    "honestly , {subject} was {experience} .",
    "{place} was {experience} {time} .",
    "the waitress {service} {time} .",
    "{subject} was so {adjective} that i {verb} {place} .",
    "our visit {time} was {experience} .",
    "{subject} is {adverb} {adjective} .",
)


@dataclass(frozen=True)
class ReviewCorpusConfig:
    sentences_per_style: int = 5000
    test_per_style: int = 300
    seed: int = 0


def _fill(template: str, style: int, rng: random.Random) -> str:
    return template.format(
        subject=rng.choice(_SUBJECTS), subject2=rng.choice(_SUBJECTS), place=rng.choice(_PLACES),
        time=rng.choice(_TIMES), adjective=rng.choice(_ADJECTIVES[style]), adjective2=rng.choice(_ADJECTIVES[style]),
        verb=rng.choice(_VERBS[style]), adverb=rng.choice(_ADVERBS[style]),
        experience=rng.choice(_EXPERIENCES[style]), service=rng.choice(_SERVICE[style]),
    )


def generate_review_sentences(count: int, style: int, seed: int = 0) -> list[str]:
    """Return ``count`` review sentences of one style (0 negative, 1 positive), the same for the same seed.

    >>> generate_review_sentences(2, 1, seed=3) == generate_review_sentences(2, 1, seed=3)
    True
    """
    if style not in (0, 1):
        raise ValueError(f"style must be 0 (negative) or 1 (positive), got {style}.")
    rng = random.Random(seed * 2 + style)
    return [_fill(rng.choice(_TEMPLATES), style, rng) for _ in range(count)]


def review_corpus(config: ReviewCorpusConfig = ReviewCorpusConfig()) -> StyleCorpus:
    """Build the project-made sentiment corpus: training and test sentences of both styles.

    Test sentences come from a different seed, so they are mostly new combinations of the same words.
    """
    train = tuple([tokenize(s) for s in generate_review_sentences(config.sentences_per_style, style, config.seed)]
                  for style in (0, 1))
    test = tuple([tokenize(s) for s in generate_review_sentences(config.test_per_style, style, config.seed + 1000)]
                 for style in (0, 1))
    return StyleCorpus(("negative", "positive"), train, test,  # type: ignore[arg-type]
                       source=f"project-made review templates (seed {config.seed})")
