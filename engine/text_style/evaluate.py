"""Evaluation of sentiment transfer: a style classifier, a GRU language model, BLEU scores and the copy baseline."""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import sacrebleu
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.checkpoints import CheckpointError, load_checkpoint, restore, save_checkpoint
from engine.data.text_corpora import BOS_ID, EOS_ID, PAD_ID, StyleCorpus, Vocabulary

logger = logging.getLogger(__name__)

CLASSIFIER_KIND = "text_style.classifier"

Tokens = list[str]
TransferFunction = Callable[[Sequence[Tokens], int], list[Tokens]]  # (sentences, source style) -> rewrites


# ------------------------------------------------------------------------------------- classifier

def _ngrams(tokens: Sequence[str], orders: int) -> list[str]:
    grams = list(tokens)
    for order in range(2, orders + 1):
        grams.extend(" ".join(tokens[i:i + order]) for i in range(len(tokens) - order + 1))
    return grams


@dataclass(frozen=True)
class ClassifierConfig:
    ngram_order: int = 2  # unigrams and bigrams: negations such as "not good" need the bigram
    min_count: int = 2
    epochs: int = 4
    batch_size: int = 256
    learning_rate: float = 0.2  # Adagrad on sparse n-gram weights tolerates a large rate
    weight_decay: float = 1e-6
    seed: int = 0


class StyleClassifier(nn.Module):
    """A bag-of-n-grams logistic regression that returns P(style 1 | sentence).

    Trained on the same real sentences the transfer models see; it judges transfer accuracy.
    """

    def __init__(self, ngram_index: Mapping[str, int], ngram_order: int) -> None:
        super().__init__()
        self.ngram_index = dict(ngram_index)
        self.ngram_order = ngram_order
        self.weights = nn.EmbeddingBag(len(ngram_index) + 1, 1, mode="sum", padding_idx=0)
        nn.init.zeros_(self.weights.weight)
        self.bias = nn.Parameter(torch.zeros(1))

    def _features(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, offsets = [], []
        for sentence in sentences:
            offsets.append(len(ids))
            grams = {self.ngram_index[g] for g in _ngrams(list(sentence), self.ngram_order) if g in self.ngram_index}
            ids.extend(sorted(grams) or [0])  # id 0 is the padding feature with weight 0
        return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)

    def forward(self, sentences: Sequence[Sequence[str]]) -> torch.Tensor:
        ids, offsets = self._features(sentences)
        return self.weights(ids, offsets).squeeze(1) + self.bias  # (batch,) logits of style 1

    @torch.no_grad()
    def predict(self, sentences: Sequence[Sequence[str]]) -> list[int]:
        return [int(logit > 0) for logit in self(sentences).tolist()] if sentences else []

    @torch.no_grad()
    def probabilities(self, sentences: Sequence[Sequence[str]], style: int = 1) -> list[float]:
        """Return P(``style`` | sentence) in [0, 1] for each tokenized sentence."""
        if style not in (0, 1):
            raise ValueError(f"style must be 0 or 1, got {style}.")
        if not sentences:
            return []
        positive = torch.sigmoid(self(sentences))
        return (positive if style == 1 else 1.0 - positive).tolist()


def train_classifier(train: tuple[Sequence[Tokens], Sequence[Tokens]], config: ClassifierConfig = ClassifierConfig()) -> StyleClassifier:
    """Fit a StyleClassifier on sentences of style 0 and style 1 (balanced by class weights)."""
    counts = Counter(g for style in (0, 1) for s in train[style] for g in set(_ngrams(list(s), config.ngram_order)))
    kept = sorted(g for g, c in counts.items() if c >= config.min_count)
    classifier = StyleClassifier({g: i + 1 for i, g in enumerate(kept)}, config.ngram_order)

    examples = [(s, style) for style in (0, 1) for s in train[style]]
    class_weight = {style: len(examples) / (2 * max(1, len(train[style]))) for style in (0, 1)}
    rng = random.Random(config.seed)
    optimizer = torch.optim.Adagrad(classifier.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    for _ in range(config.epochs):
        rng.shuffle(examples)
        for start in range(0, len(examples), config.batch_size):
            chunk = examples[start:start + config.batch_size]
            labels = torch.tensor([style for _, style in chunk], dtype=torch.float)
            weights = torch.tensor([class_weight[style] for _, style in chunk])
            loss = F.binary_cross_entropy_with_logits(classifier([s for s, _ in chunk]), labels, weight=weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return classifier.eval()


def save_classifier(classifier: StyleClassifier, path: str | Path, *, extra: Mapping[str, Any] | None = None,
                    metrics: Mapping[str, float] | None = None) -> Path:
    """Write ``classifier`` as a checkpoint: weights in .safetensors, the n-gram list in the JSON sidecar.

    Returns:
        The path of the .safetensors file.
    """
    ngrams = sorted(classifier.ngram_index, key=classifier.ngram_index.__getitem__)  # feature ids 1, 2, ...
    return save_checkpoint(path, kind=CLASSIFIER_KIND, config={"ngram_order": classifier.ngram_order}, step=0,
                           modules={"classifier": classifier}, metrics=metrics,
                           extra={**(extra or {}), "ngrams": ngrams})


def load_classifier(path: str | Path) -> StyleClassifier:
    """Read a classifier written by ``save_classifier``.

    Raises:
        CheckpointError: when a file is missing or corrupt, or contains another kind of model.
    """
    checkpoint = load_checkpoint(path, expected_kind=CLASSIFIER_KIND)
    ngrams = checkpoint.extra.get("ngrams")
    if not isinstance(ngrams, list) or "ngram_order" not in checkpoint.config:
        raise CheckpointError(f"{checkpoint.path} has no n-gram list or n-gram order in its JSON sidecar; "
                              "write it again with engine.text_style.default_classifier.")
    classifier = StyleClassifier({gram: index + 1 for index, gram in enumerate(ngrams)}, int(checkpoint.config["ngram_order"]))
    restore(checkpoint, {"classifier": classifier})
    return classifier.eval()


def classifier_accuracy(classifier: StyleClassifier, test: tuple[Sequence[Tokens], Sequence[Tokens]]) -> float:
    """Return the share of test sentences classified as their own style."""
    correct = sum(p == style for style in (0, 1) for p in classifier.predict(test[style]))
    return correct / max(1, len(test[0]) + len(test[1]))


# ------------------------------------------------------------------------------------------ LM

@dataclass(frozen=True)
class LanguageModelConfig:
    embed_dim: int = 128
    hidden_dim: int = 256
    steps: int = 800
    batch_size: int = 64
    learning_rate: float = 3e-3
    min_count: int = 3
    max_vocab: int = 10_000
    seed: int = 0


class LanguageModel(nn.Module):
    """A one-layer GRU word language model; perplexity under it measures fluency of transferred text."""

    def __init__(self, vocabulary: Vocabulary, embed_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.vocabulary = vocabulary
        self.embedding = nn.Embedding(len(vocabulary), embed_dim, padding_idx=PAD_ID)
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, len(vocabulary))

    def _batch(self, sentences: Sequence[Tokens]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [[BOS_ID] + self.vocabulary.encode(list(s)) + [EOS_ID] for s in sentences]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids[:, :-1], ids[:, 1:]  # inputs and next-word targets, each (batch, width - 1)

    def loss(self, sentences: Sequence[Tokens], reduction: str = "mean") -> torch.Tensor:
        inputs, targets = self._batch(sentences)
        hidden, _ = self.gru(self.embedding(inputs))
        logits = self.output(hidden)  # (batch, tokens, vocab)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD_ID, reduction=reduction)

    @torch.no_grad()
    def perplexity(self, sentences: Sequence[Tokens], batch_size: int = 256) -> float:
        """Return exp(mean negative log-likelihood per word, <eos> included); <unk> counts as a word."""
        self.eval()
        total, words = 0.0, 0
        for start in range(0, len(sentences), batch_size):
            chunk = [list(s) for s in sentences[start:start + batch_size]]
            total += self.loss(chunk, reduction="sum").item()
            words += sum(len(s) + 1 for s in chunk)
        return math.exp(total / max(1, words))


def train_language_model(sentences: Sequence[Tokens], config: LanguageModelConfig = LanguageModelConfig()) -> LanguageModel:
    """Fit a LanguageModel on real sentences (both styles together)."""
    torch.manual_seed(config.seed)
    vocabulary = Vocabulary.build(sentences, min_count=config.min_count, max_size=config.max_vocab)
    model = LanguageModel(vocabulary, config.embed_dim, config.hidden_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    rng = random.Random(config.seed)
    for _ in range(config.steps):
        batch = [sentences[rng.randrange(len(sentences))] for _ in range(config.batch_size)]
        loss = model.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return model.eval()


# ---------------------------------------------------------------------------------------- scores

def bleu(hypotheses: Sequence[Tokens], references: Sequence[Tokens]) -> float:
    """Return corpus BLEU (0-100) of tokenized hypotheses against one tokenized reference each.

    Both sides are already tokenized by ``engine.data.text_corpora.tokenize``, so sacrebleu's own
    tokenizer is turned off.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"BLEU needs one reference per hypothesis, got {len(hypotheses)} and {len(references)}.")
    if not hypotheses:
        return 0.0
    return float(sacrebleu.corpus_bleu([" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]],
                                       tokenize="none", force=True).score)


def copy_transfer(sentences: Sequence[Tokens], source_style: int) -> list[Tokens]:
    """The copy-the-input baseline: returns every sentence unchanged."""
    return [list(s) for s in sentences]


@dataclass
class Evaluator:
    """Judges transfer functions on held-out sentences with a classifier and, optionally, a language model."""

    classifier: StyleClassifier
    test: tuple[Sequence[Tokens], Sequence[Tokens]]
    references: tuple[Sequence[tuple[Tokens, Tokens]], Sequence[tuple[Tokens, Tokens]]] = ((), ())
    language_model: LanguageModel | None = None

    def evaluate(self, transfer: TransferFunction) -> dict[str, float]:
        """Return flat metrics: accuracy (share classified as the target style), self-BLEU, ref-BLEU, perplexity.

        ``score/geometric_mean`` is sqrt(accuracy in percent * self-BLEU); with references,
        ``score/geometric_mean_ref`` uses ref-BLEU instead.
        """
        outputs, sources, transferred_correct = [], [], 0
        for style in (0, 1):
            rewritten = transfer(self.test[style], style)
            transferred_correct += sum(p == 1 - style for p in self.classifier.predict(rewritten))
            outputs.extend(rewritten)
            sources.extend(list(s) for s in self.test[style])
        accuracy = 100.0 * transferred_correct / max(1, len(outputs))
        self_bleu = bleu(outputs, sources)
        values = {"accuracy": accuracy, "bleu/self": self_bleu, "score/geometric_mean": math.sqrt(max(0.0, accuracy * self_bleu))}

        if self.references[0] or self.references[1]:
            hypotheses, rewrites, reference_correct = [], [], 0
            for style in (0, 1):
                pairs = self.references[style]
                rewritten = transfer([source for source, _ in pairs], style)
                reference_correct += sum(p == 1 - style for p in self.classifier.predict(rewritten))
                hypotheses.extend(rewritten)
                rewrites.extend(reference for _, reference in pairs)
            values["bleu/ref"] = bleu(hypotheses, rewrites)
            values["accuracy/ref_sources"] = 100.0 * reference_correct / max(1, len(hypotheses))
            values["score/geometric_mean_ref"] = math.sqrt(max(0.0, accuracy * values["bleu/ref"]))
        if self.language_model is not None:
            values["perplexity"] = self.language_model.perplexity([o for o in outputs if o] or [[]])
        return values


def build_evaluator(corpus: StyleCorpus, *, test_per_style: int | None = None, with_language_model: bool = True,
                    classifier_config: ClassifierConfig = ClassifierConfig(),
                    language_model_config: LanguageModelConfig = LanguageModelConfig()) -> Evaluator:
    """Train the judge models on the corpus's training sentences and wrap its test sentences.

    The classifier and language model see the same sentences as the transfer models (held-in
    data). The test sentences and the human-reference sources are never used to train them.
    """
    classifier = train_classifier(corpus.train, classifier_config)
    test = corpus.test if corpus.test[0] and corpus.test[1] else corpus.train
    if test_per_style is not None:
        test = (list(test[0])[:test_per_style], list(test[1])[:test_per_style])
    logger.info("Style classifier accuracy on the test sentences: %.1f%%", 100 * classifier_accuracy(classifier, test))
    language_model = None
    if with_language_model:
        language_model = train_language_model(list(corpus.train[0]) + list(corpus.train[1]), language_model_config)
    return Evaluator(classifier, (list(test[0]), list(test[1])), corpus.references, language_model)
