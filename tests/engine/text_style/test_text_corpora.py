"""Tests for sentence file reading, encodings, odd lines, the tokenizer, vocabularies and the project corpus."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from engine.data.review_sentences import ReviewCorpusConfig, generate_review_sentences, review_corpus
from engine.data.text_corpora import (EOS_ID, UNK, UNK_ID, CorpusError, Vocabulary, load_yelp, read_sentence_file,
                                      tokenize)

ODD_LINES = [
    # (name, line as written, expected tokens or None when the line is skipped)
    ("plain", "the food was great .", ["the", "food", "was", "great", "."]),
    ("empty", "", None),
    ("whitespace only", " \t  ", None),
    ("clitics", "I didn't like it's taste", ["i", "did", "n't", "like", "it", "'s", "taste"]),
    ("numbers", "paid 12.50 for 2 tacos", ["paid", "_num_", "for", "_num_", "tacos"]),
    ("emoji", "love it 😍🔥", ["love", "it", "😍", "🔥"]),
    ("mixed scripts", "寿司 was très bon", ["寿司", "was", "très", "bon"]),
    ("very long", "word " * 2000, ["word"] * 20),  # 10,000 characters, cut to max_tokens
]


def test_odd_lines_table(tmp_path: Path) -> None:
    path = tmp_path / "odd.txt"
    path.write_text("\n".join(line for _, line, _ in ODD_LINES) + "\n", encoding="utf-8")

    result = read_sentence_file(path, max_tokens=20)

    expected = [tokens for _, _, tokens in ODD_LINES if tokens is not None]
    assert result.sentences == expected
    assert result.skipped_empty == 2
    assert result.truncated == 1
    assert any("skipped 2 empty" in note for note in result.notes), result.notes
    assert any("cut 1 line" in note for note in result.notes), result.notes


def test_odd_lines_map_to_unknown(tmp_path: Path) -> None:
    vocabulary = Vocabulary.build([["love", "it"]] * 3, min_count=1)
    ids = vocabulary.encode(tokenize("love it 😍 寿司"))
    assert ids[2:] == [UNK_ID, UNK_ID]
    assert vocabulary.decode(ids) == ["love", "it", UNK, UNK]


@pytest.mark.parametrize("encoding, prefix", [
    ("utf-8", b""),
    ("utf-8-sig", codecs.BOM_UTF8),
    ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE),
])
def test_encodings_detected(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = tmp_path / f"{encoding}.txt"
    body = "très bon café\nnot good\n".encode(encoding.replace("-sig", ""))
    path.write_bytes(prefix + body)

    result = read_sentence_file(path)

    assert result.sentences == [["très", "bon", "café"], ["not", "good"]]
    assert result.sentences[0][0] != "\ufefftrès"


def test_invalid_utf8_rejected_with_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("good food\nfine\ntrès bon\n".encode("latin-1"))
    with pytest.raises(CorpusError) as error:
        read_sentence_file(path)
    message = str(error.value)
    assert str(path) in message
    assert "line 3" in message
    assert "UTF-8" in message


def test_utf16_without_bom_hint(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes("good food é\n".encode("utf-16-le"))
    with pytest.raises(CorpusError, match="UTF-16 without a byte-order mark"):
        read_sentence_file(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="Cannot read"):
        read_sentence_file(tmp_path / "absent.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="contains no sentences"):
        read_sentence_file(empty)


def test_vocabulary_limits_and_roundtrip() -> None:
    sentences = [["a", "b", "c"], ["a", "b"], ["a"]]
    vocabulary = Vocabulary.build(sentences, min_count=2, max_size=5)
    assert vocabulary.words == ["<pad>", "<unk>", "<bos>", "<eos>", "a"]
    assert Vocabulary.from_json(vocabulary.to_json()).words == vocabulary.words
    assert vocabulary.decode([4, EOS_ID, 4]) == ["a"]
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(sentences, min_count=0)


def test_review_corpus_deterministic() -> None:
    first = review_corpus(ReviewCorpusConfig(sentences_per_style=50, test_per_style=10, seed=4))
    second = review_corpus(ReviewCorpusConfig(sentences_per_style=50, test_per_style=10, seed=4))
    other = review_corpus(ReviewCorpusConfig(sentences_per_style=50, test_per_style=10, seed=5))
    assert first.train == second.train
    assert first.train != other.train
    positive = " ".join(generate_review_sentences(200, 1, seed=0))
    negative = " ".join(generate_review_sentences(200, 0, seed=0))
    assert "delicious" in positive
    assert "delicious" not in negative
    assert "terrible" in negative
    assert "terrible" not in positive


def test_yelp_references_excluded(datasets_dir: Path) -> None:
    corpus = load_yelp(datasets_dir, max_tokens=15, test_per_style=50)
    train_text = {" ".join(s) for style in (0, 1) for s in corpus.train[style]}
    reference_sources = [" ".join(source) for style in (0, 1) for source, _ in corpus.references[style]]
    assert len(reference_sources) > 900
    assert not train_text & set(reference_sources)
    assert all(len(s) <= 15 for style in (0, 1) for s in corpus.train[style])
    assert [len(t) for t in corpus.test] == [50, 50]
