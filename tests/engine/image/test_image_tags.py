"""Tag text parsing against a vocabulary: both separators, every error case, and round trips."""

from __future__ import annotations

import pytest

from engine.data.image_tags import ANIME_VOCABULARY, PROCEDURAL_VOCABULARY, TagError, TagVocabulary


def test_parse_commas_and_spaces():
    assert ANIME_VOCABULARY.parse("red hair, green eyes") == {"hair": 10, "eyes": 4}
    assert ANIME_VOCABULARY.parse("aqua hair aqua eyes") == {"hair": 0, "eyes": 0}
    assert ANIME_VOCABULARY.parse("  Blue EYES ") == {"eyes": 2}
    assert ANIME_VOCABULARY.parse("green eye") == {"eyes": 4}
    assert ANIME_VOCABULARY.parse("") == {}


def test_parse_hair_length_shares_noun():
    parsed = PROCEDURAL_VOCABULARY.parse("long hair, pink hair, yellow eyes")
    assert parsed == {"length": 1, "hair": 8, "eyes": 9}


def test_unknown_tag_lists_known_tags():
    with pytest.raises(TagError) as caught:
        ANIME_VOCABULARY.parse("silver hair, red eyes")
    message = str(caught.value)
    assert "'silver hair'" in message
    assert "red hair" in message
    assert "yellow eyes" in message


def test_unknown_noun_word_is_rejected():
    with pytest.raises(TagError, match="not a tag"):
        ANIME_VOCABULARY.parse("red hair, smiling")


def test_attribute_given_twice():
    with pytest.raises(TagError, match="sets hair twice"):
        ANIME_VOCABULARY.parse("red hair, blue hair")


def test_require_all_names_missing():
    with pytest.raises(TagError, match="gives no eyes tag"):
        ANIME_VOCABULARY.parse("red hair", require_all=True)


def test_text_round_trip_and_json():
    text = PROCEDURAL_VOCABULARY.to_text([3, 4, 0])
    assert text == "blue hair, green eyes, short hair"
    assert PROCEDURAL_VOCABULARY.parse(text) == {"hair": 3, "eyes": 4, "length": 0}
    assert TagVocabulary.from_json(PROCEDURAL_VOCABULARY.to_json()) == PROCEDURAL_VOCABULARY
