"""Sentence corpora for text style transfer: file reading, a word tokenizer, vocabularies and the Yelp sets."""

from __future__ import annotations

import codecs
import logging
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

logger = logging.getLogger(__name__)

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
NUMBER_TOKEN = "_num_"  # the Yelp files write every number as this token

# Clitics are split the way the Yelp files split them ("did n't", "it 's"), so user text and
# human references tokenize like the training data.
_TOKEN_PATTERN = re.compile(r"\d+(?:[.,]\d+)+|\w+(?=n't\b)|n't\b|'\w+|\w+|[^\w\s]", re.UNICODE)
_NUMBER_PATTERN = re.compile(r"^\d+([.,]\d+)*$")


class CorpusError(ValueError):
    """A corpus file cannot be read as text; the message names the file, the line and the fix."""


# ---------------------------------------------------------------------------------------- tokenizer

def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case word tokens, splitting punctuation and clitics, numbers as ``_num_``.

    >>> tokenize("The food wasn't great, 10/10 would NOT return!")
    ['the', 'food', 'was', "n't", 'great', ',', '_num_', '/', '_num_', 'would', 'not', 'return', '!']
    """
    tokens = _TOKEN_PATTERN.findall(text.lower())
    return [NUMBER_TOKEN if _NUMBER_PATTERN.match(token) else token for token in tokens]


def detokenize(tokens: Iterable[str]) -> str:
    """Join tokens with single spaces, the format of the Yelp files and of BLEU inputs here."""
    return " ".join(tokens)


@dataclass
class Vocabulary:
    """A word-to-id table whose first four ids are the special tokens <pad>, <unk>, <bos>, <eos>."""

    words: list[str]
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if tuple(self.words[:4]) != SPECIAL_TOKENS:
            raise ValueError(f"A vocabulary must start with {SPECIAL_TOKENS}, got {self.words[:4]}.")
        self._index = {word: index for index, word in enumerate(self.words)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], *, min_count: int = 2, max_size: int | None = 10_000) -> Vocabulary:
        """Build a vocabulary from tokenized sentences.

        Args:
            sentences: token lists (the training sentences of both styles).
            min_count: words seen fewer times are left out and map to <unk>.
            max_size: the maximum number of entries, special tokens included. The most frequent
                words are kept, and ties are broken alphabetically so the order of the input does not matter.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}.")
        if max_size is not None and max_size <= len(SPECIAL_TOKENS):
            raise ValueError(f"max_size must exceed {len(SPECIAL_TOKENS)} (the special tokens), got {max_size}.")
        counts = Counter(token for sentence in sentences for token in sentence)
        for special in SPECIAL_TOKENS:
            counts.pop(special, None)
        ranked = sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIAL_TOKENS)]
        return cls(list(SPECIAL_TOKENS) + ranked)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self._index.get(token, UNK_ID) for token in tokens]

    def decode(self, ids: Iterable[int], *, stop_at_eos: bool = True) -> list[str]:
        """Map ids back to words, dropping <pad> and <bos> and stopping at the first <eos>."""
        words = []
        for index in ids:
            index = int(index)
            if index == EOS_ID and stop_at_eos:
                break
            if index in (PAD_ID, BOS_ID, EOS_ID):
                continue
            words.append(self.words[index] if 0 <= index < len(self.words) else UNK)
        return words

    def unknown_rate(self, tokens: Sequence[str]) -> float:
        return sum(token not in self._index for token in tokens) / max(1, len(tokens))

    def to_json(self) -> list[str]:
        return list(self.words)

    @classmethod
    def from_json(cls, words: Sequence[str]) -> Vocabulary:
        return cls(list(words))


# ------------------------------------------------------------------------------------- file reading

@dataclass(frozen=True)
class CorpusFile:
    """The sentences read from one file and what was done to the odd lines."""

    path: Path
    sentences: list[list[str]]  # tokenized, each at most max_tokens long
    encoding: str
    skipped_empty: int = 0
    truncated: int = 0
    notes: tuple[str, ...] = ()


def _decode_text(path: Path, data: bytes) -> tuple[str, str]:
    """Decode ``data`` as UTF-8 (BOM allowed) or BOM-marked UTF-16 and return (text, encoding).

    Invalid UTF-8 is rejected, not replaced, because a replaced byte silently changes the training
    words. The error names the first bad line so the user can fix or re-save the file.
    """
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as error:
        line_number = data.count(b"\n", 0, error.start) + 1
        hint = ""
        if encoding == "utf-8" and b"\x00" in data[:1000]:
            hint = " The file contains NUL bytes, so it may be UTF-16 without a byte-order mark."
        raise CorpusError(
            f"{path}: line {line_number} is not valid {encoding} (byte {data[error.start]:#04x} at offset {error.start})."
            f"{hint} Save the file as UTF-8 and try again."
        ) from error


def read_sentence_file(path: str | Path, *, max_tokens: int = 50) -> CorpusFile:
    """Read one sentence per line from a text file and tokenize it.

    Empty and whitespace-only lines are skipped and counted. Lines longer than ``max_tokens``
    tokens are cut to their first ``max_tokens`` tokens and counted. Emoji and any script are kept
    as tokens; words outside the vocabulary map to <unk> later.

    Raises:
        CorpusError: when the file is missing, empty of sentences, or not UTF-8 / BOM-marked UTF-16.
    """
    path = Path(path)
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}.")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CorpusError(f"Cannot read corpus file {path}: {error.strerror or error}. Check the path.") from error
    text, encoding = _decode_text(path, data)

    sentences: list[list[str]] = []
    skipped_empty = truncated = 0
    for line in text.splitlines():
        tokens = tokenize(line)
        if not tokens:
            skipped_empty += 1
            continue
        if len(tokens) > max_tokens:
            tokens = tokens[:max_tokens]
            truncated += 1
        sentences.append(tokens)

    if not sentences:
        raise CorpusError(f"{path} contains no sentences (expected one sentence per line). Pick a non-empty file.")
    notes = []
    if skipped_empty:
        notes.append(f"{path.name}: skipped {skipped_empty} empty line(s)")
    if truncated:
        notes.append(f"{path.name}: cut {truncated} line(s) longer than {max_tokens} tokens")
    for note in notes:
        logger.info(note)
    return CorpusFile(path, sentences, encoding, skipped_empty, truncated, tuple(notes))


# -------------------------------------------------------------------------------- style corpora

@dataclass(frozen=True)
class StyleCorpus:
    """Non-parallel sentences of two styles: index 0 and index 1 (negative and positive for sentiment)."""

    style_names: tuple[str, str]
    train: tuple[list[list[str]], list[list[str]]]
    test: tuple[list[list[str]], list[list[str]]] = ((), ())  # type: ignore[assignment]
    # Human rewrites for some test sentences: (source tokens, reference tokens) per source style.
    references: tuple[list[tuple[list[str], list[str]]], list[tuple[list[str], list[str]]]] = ((), ())  # type: ignore[assignment]
    source: str = ""
    notes: tuple[str, ...] = ()


def load_style_files(path_0: str | Path, path_1: str | Path, *, max_tokens: int = 50,
                     style_names: tuple[str, str] = ("style 0", "style 1")) -> StyleCorpus:
    """Read two one-sentence-per-line files, one per style, as a training corpus."""
    first = read_sentence_file(path_0, max_tokens=max_tokens)
    second = read_sentence_file(path_1, max_tokens=max_tokens)
    return StyleCorpus(style_names, (first.sentences, second.sentences),
                       source=f"{Path(path_0)} | {Path(path_1)}", notes=first.notes + second.notes)


def filter_sentences(sentences: Iterable[list[str]], *, max_tokens: int, vocabulary: Vocabulary | None = None,
                     max_unknown_rate: float = 1.0) -> list[list[str]]:
    """Keep sentences of at most ``max_tokens`` tokens whose share of out-of-vocabulary words is small enough."""
    kept = []
    for sentence in sentences:
        if not sentence or len(sentence) > max_tokens:
            continue
        if vocabulary is not None and vocabulary.unknown_rate(sentence) > max_unknown_rate:
            continue
        kept.append(sentence)
    return kept


YELP_DIR = "yelp_sentiment_shen2017"
REFERENCE_DIR = "sentiment_transfer_li2018/yelp"


def load_yelp(datasets_dir: Path, *, max_tokens: int = 15, test_per_style: int = 500, seed: int = 0,
              exclude_references: bool = True) -> StyleCorpus:
    """Load the Yelp sentiment sets: train on ``sentiment.dev.*``, test on a sample of ``sentiment.test.*``.

    The 500 + 500 sentences with human rewrites (Li et al., 2018) are taken from the dev files, so
    with ``exclude_references`` they are removed from training and returned as ``references``.
    Sentences longer than ``max_tokens`` are dropped (not cut) from every split, references included.

    Raises:
        CorpusError: when a file is missing or unreadable.
    """
    yelp = datasets_dir / YELP_DIR
    reference_dir = datasets_dir / REFERENCE_DIR
    references: list[list[tuple[list[str], list[str]]]] = [[], []]
    reference_sources: set[str] = set()
    if exclude_references:
        for style in (0, 1):
            path = reference_dir / f"reference.{style}"
            try:
                text, _ = _decode_text(path, path.read_bytes())
            except OSError as error:
                raise CorpusError(f"Cannot read human references {path}: {error}. Check the data sets folder.") from error
            for line_number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                source, tab, rewrite = line.partition("\t")
                if not tab:
                    raise CorpusError(f"{path}: line {line_number} has no tab; expected 'source<TAB>rewrite'.")
                reference_sources.add(" ".join(tokenize(source)))
                source_tokens, rewrite_tokens = tokenize(source), tokenize(rewrite)
                if 0 < len(source_tokens) <= max_tokens:
                    references[style].append((source_tokens, rewrite_tokens))

    train: list[list[list[str]]] = []
    test: list[list[list[str]]] = []
    rng = random.Random(seed)
    for style in (0, 1):
        dev = read_sentence_file(yelp / f"sentiment.dev.{style}", max_tokens=10_000).sentences
        train.append([s for s in dev if len(s) <= max_tokens and " ".join(s) not in reference_sources])
        held_out = [s for s in read_sentence_file(yelp / f"sentiment.test.{style}", max_tokens=10_000).sentences
                    if len(s) <= max_tokens]
        test.append(rng.sample(held_out, min(test_per_style, len(held_out))))
    return StyleCorpus(("negative", "positive"), (train[0], train[1]), (test[0], test[1]),
                       (references[0], references[1]), source=f"{yelp} (dev for training, test sample for evaluation)")


def corpus_from_lines(lines_0: Sequence[str], lines_1: Sequence[str], style_names: tuple[str, str]) -> StyleCorpus:
    return StyleCorpus(style_names, ([tokenize(x) for x in lines_0], [tokenize(x) for x in lines_1]), source="in memory")


def describe_corpus(corpus: StyleCorpus) -> Mapping[str, int]:
    return {"train/style0": len(corpus.train[0]), "train/style1": len(corpus.train[1]),
            "test/style0": len(corpus.test[0]), "test/style1": len(corpus.test[1])}
