"""A trained style transfer model: its networks, vocabulary and the rewrite of sentences between styles."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import nn

from engine.core.checkpoints import Checkpoint, CheckpointError, load_checkpoint, restore
from engine.core.jobs import CancelToken, EventSink, Finished, JobError, Sample, Started
from engine.data.text_corpora import PAD_ID, Vocabulary, tokenize
from engine.text_style.candidates import DEFAULT_TEMPERATURE, load_scoring_classifier, rewrite_candidates
from engine.text_style.config import TextStyleConfig
from engine.text_style.models import AlignedTransducer, CrossAlignedAutoEncoder, SequenceCritic, WordCritic, cut_at_eos

logger = logging.getLogger(__name__)

CHECKPOINT_KINDS = {"direct": "text_style.direct", "cross_aligned": "text_style.cross_aligned"}
CANDIDATES_SAMPLE_KIND = "text_candidates"


def build_networks(config: TextStyleConfig, vocab_size: int) -> tuple[dict[str, nn.Module], dict[str, nn.Module]]:
    """Create (generators, critics) for ``config.method``, named as they are stored in checkpoints."""
    if config.method == "direct":
        generators = {
            "g_0to1": AlignedTransducer(vocab_size, config.embed_dim, config.hidden_dim),
            "g_1to0": AlignedTransducer(vocab_size, config.embed_dim, config.hidden_dim),
        }
        critics = {f"d_{style}": WordCritic(vocab_size, config.embed_dim, config.critic_filters) for style in (0, 1)}
    else:
        generators = {"autoencoder": CrossAlignedAutoEncoder(vocab_size, config.embed_dim, config.style_dim,
                                                             config.content_dim, config.dropout)}
        hidden_dim = config.style_dim + config.content_dim
        critics = {f"d_{style}": SequenceCritic(hidden_dim, config.critic_filters) for style in (0, 1)}
    return generators, critics


def pad_batch(sequences: Sequence[Sequence[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad id lists into (tokens (batch, max_len), lengths (batch,)); empty lists become one <unk>."""
    sequences = [list(s) if s else [1] for s in sequences]
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    tokens = torch.full((len(sequences), int(lengths.max())), PAD_ID, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return tokens.to(device), lengths.to(device)


@dataclass
class TextStyleModel:
    """Networks plus vocabulary, ready to rewrite sentences from one style to the other."""

    config: TextStyleConfig
    vocabulary: Vocabulary
    generators: dict[str, nn.Module]
    style_names: tuple[str, str] = ("negative", "positive")
    device: torch.device = torch.device("cpu")

    @torch.no_grad()
    def transfer_tokens(self, sentences: Sequence[Sequence[str]], source_style: int, batch_size: int = 256) -> list[list[str]]:
        """Rewrite tokenized sentences of ``source_style`` (0 or 1) into the other style, taking the most likely words."""
        return self._rewrite_tokens(sentences, source_style, batch_size, temperature=None, generator=None)

    @torch.no_grad()
    def sample_tokens(self, sentences: Sequence[Sequence[str]], source_style: int, *, temperature: float,
                      generator: torch.Generator | None = None, batch_size: int = 256) -> list[list[str]]:
        """Rewrite tokenized sentences like ``transfer_tokens``, drawing each word from softmax(logits / temperature).

        Args:
            generator: the random source of the draws; it must live on ``self.device``. None uses
                torch's global generator.

        Raises:
            ValueError: when ``source_style`` is not 0 or 1, or ``temperature`` is not positive.
        """
        if not temperature > 0:
            raise ValueError(f"The sampling temperature must be positive, got {temperature}. Use a value such as 0.7.")
        return self._rewrite_tokens(sentences, source_style, batch_size, temperature=temperature, generator=generator)

    def _rewrite_tokens(self, sentences: Sequence[Sequence[str]], source_style: int, batch_size: int, *,
                        temperature: float | None, generator: torch.Generator | None) -> list[list[str]]:
        if source_style not in (0, 1):
            raise ValueError(f"source_style must be 0 or 1, got {source_style}.")
        for module in self.generators.values():
            module.eval()
        outputs: list[list[str]] = []
        for start in range(0, len(sentences), batch_size):
            chunk = [self.vocabulary.encode(list(s)[: self.config.max_tokens * 2]) for s in sentences[start:start + batch_size]]
            tokens, lengths = pad_batch(chunk, self.device)
            outputs.extend(self._transfer_ids(tokens, lengths, source_style, temperature, generator))
        return outputs

    def _transfer_ids(self, tokens: torch.Tensor, lengths: torch.Tensor, source_style: int,
                      temperature: float | None, generator: torch.Generator | None) -> list[list[str]]:
        """Decode one rewrite per row: the argmax words when ``temperature`` is None, else sampled words."""
        if self.config.method == "direct":
            generator_network: AlignedTransducer = self.generators["g_0to1" if source_style == 0 else "g_1to0"]  # type: ignore[assignment]
            mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]
            if temperature is None:
                ids = generator_network.transfer_ids(tokens, mask)
            else:
                ids = generator_network.sample_ids(tokens, mask, temperature=temperature, generator=generator)
            return [self.vocabulary.decode(row[:length]) for row, length in zip(ids.tolist(), lengths.tolist())]
        autoencoder: CrossAlignedAutoEncoder = self.generators["autoencoder"]  # type: ignore[assignment]
        style = torch.full((len(tokens),), source_style, dtype=torch.long, device=tokens.device)
        content = autoencoder.encode(tokens, lengths, style)
        # Room for a few more words than the source has, then cut at <eos>.
        steps = int(lengths.max()) + 5
        if temperature is None:
            _, ids = autoencoder.decode_free_running(content, 1 - style, steps, temperature=None)
        else:
            ids = autoencoder.sample(content, 1 - style, steps, temperature=temperature, generator=generator)
        return [self.vocabulary.decode(row) for row in cut_at_eos(ids)]

    def transfer(self, sentences: Sequence[str], source_style: int) -> list[str]:
        """Rewrite raw sentences of ``source_style`` into the other style; returns space-joined tokens."""
        return [" ".join(words) for words in self.transfer_tokens([tokenize(s) for s in sentences], source_style)]


def model_from_checkpoint(checkpoint: Checkpoint | str | Path, device: torch.device | str = "cpu") -> TextStyleModel:
    """Load a trained model (either method) from a checkpoint written by the training job.

    Raises:
        CheckpointError: when the file is not a text style checkpoint or does not fit its config.
    """
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = load_checkpoint(checkpoint)
    if checkpoint.kind not in CHECKPOINT_KINDS.values():
        raise CheckpointError(f"{checkpoint.path} contains a {checkpoint.kind!r} model, not a text style model "
                              f"({', '.join(CHECKPOINT_KINDS.values())}). Pick a text style checkpoint.")
    words = checkpoint.extra.get("vocabulary")
    if not words:
        raise CheckpointError(f"{checkpoint.path} has no vocabulary in its JSON sidecar; it cannot be used for transfer.")
    config = TextStyleConfig.from_json(checkpoint.config)
    vocabulary = Vocabulary.from_json(words)
    generators, _ = build_networks(config, len(vocabulary))
    restore(checkpoint, generators)
    device = torch.device(device)
    for module in generators.values():
        module.to(device).eval()
    names = tuple(checkpoint.extra.get("style_names", ("negative", "positive")))
    return TextStyleModel(config, vocabulary, generators, (names[0], names[1]), device)


def direction_label(style_names: Mapping[int, str] | Sequence[str], source_style: int) -> str:
    return f"{style_names[source_style]} → {style_names[1 - source_style]}"


class TransferJob:
    """Loads a checkpoint and a classifier, and rewrites sentences into several scored candidates each.

    The result arrives as one Sample event of kind "text_candidates". Its data contains "direction",
    a label such as "negative → positive", and "rows" with one dict per input sentence. A row has
    the "source" and its "candidates", sorted by score with the highest first. Each candidate is a
    dict of "text", "score" (P(target style), in [0, 1]) and "greedy".

    Args:
        checkpoint: the transfer model.
        sentences: raw sentences of ``source_style``, one rewrite row each.
        candidates: rewrites per sentence, 1 to ``MAX_CANDIDATES``. The greedy one is always among them.
        temperature: softmax temperature of the sampled candidates.
        seed: seeds the sampled candidates, so a repeated request gives the same ones.
        classifier: the classifier that scores candidates. None takes the bundled Yelp sentiment
            classifier, whose style 1 is positive.

    NOTE: the bundled classifier is trained on Yelp sentiment only, so its scores mean little for a model
    trained on two other styles ("files" data) unless a classifier of those styles is passed.
    """

    name = "text_style.transfer"

    def __init__(self, checkpoint: str | Path, sentences: Sequence[str], source_style: int, device: str = "cpu", *,
                 candidates: int = 1, temperature: float = DEFAULT_TEMPERATURE, seed: int = 0,
                 classifier: str | Path | None = None) -> None:
        self.checkpoint, self.sentences, self.source_style, self.device = Path(checkpoint), list(sentences), source_style, device
        self.candidates, self.temperature, self.seed = candidates, temperature, seed
        self.classifier = Path(classifier) if classifier is not None else None

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, None, {"checkpoint": str(self.checkpoint), "source_style": self.source_style,
                                       "candidates": self.candidates}))
        try:
            model = model_from_checkpoint(self.checkpoint, self.device)
            classifier, _ = load_scoring_classifier(self.classifier)
        except CheckpointError as error:
            raise JobError(str(error)) from error
        try:
            scored = rewrite_candidates(model, classifier, [tokenize(s) for s in self.sentences], self.source_style,
                                        self.candidates, temperature=self.temperature, seed=self.seed)
        except ValueError as error:
            raise JobError(str(error)) from error
        rows = [{"source": source, "candidates": [{"text": c.text, "score": c.score, "greedy": c.greedy} for c in row]}
                for source, row in zip(self.sentences, scored)]
        direction = direction_label(model.style_names, self.source_style)
        sink(Sample(0, CANDIDATES_SAMPLE_KIND, {"direction": direction, "rows": rows}))
        sink(Finished({"sentences": len(rows), "candidates": sum(len(row) for row in scored), "direction": direction}))
