"""Networks for sentiment transfer: aligned GRU transducers, a cross-aligned auto-encoder and CNN critics."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.data.text_corpora import BOS_ID, EOS_ID, PAD_ID

# Generators never emit these ids; masking them keeps outputs decodable and sentence lengths stable.
_BANNED_OUTPUT_IDS = (PAD_ID, BOS_ID)
_NEG_INF = -1e4  # finite so bf16 autocast and softmax stay NaN-free


def relax(logits: torch.Tensor, mode: str, temperature: float) -> torch.Tensor:
    """Turn logits (..., vocab) into differentiable word distributions (..., vocab).

    Args:
        mode: "gumbel" for straight-through Gumbel-softmax (one-hot forward, soft gradient) or
            "soft" for softmax(logits / temperature), whose product with an embedding matrix is a
            softmax-weighted mixture of word embeddings.
    """
    if mode == "gumbel":
        return F.gumbel_softmax(logits.float(), tau=temperature, hard=True, dim=-1)
    if mode == "soft":
        return torch.softmax(logits.float() / temperature, dim=-1)
    raise ValueError(f"Unknown relaxation {mode!r}; expected 'gumbel' or 'soft'.")


class AlignedTransducer(nn.Module):
    """A GRU encoder-decoder G(X->Y) whose output has one word per input word.

    A bidirectional GRU encodes the sentence. A GRU decoder reads the encoder state at its own
    position and its previous state, and predicts the output word there. A residual path from the
    input embedding and tied output weights make copying the input the easy starting point, so
    training only has to learn which words to change. Sentiment rewrites on Yelp are mostly word
    swaps, which this fixed alignment can express. It cannot insert, delete or reorder words.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        # Embeddings of norm about 1 and a learned logit scale make the copy margin (a word's own
        # logit against the others) about logit_scale at the start. That is large enough to copy the
        # input from step one and small enough to keep the softmax unsaturated. With unit-variance
        # embeddings the margin is about embed_dim, so the softmax saturates and the critic's
        # gradient through the relaxed words vanishes.
        nn.init.normal_(self.embedding.weight, std=embed_dim ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(10.0))
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        self.encoder = nn.GRU(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.decoder = nn.GRU(2 * hidden_dim, hidden_dim, batch_first=True)
        self.to_embedding = nn.Linear(hidden_dim, embed_dim)
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))

    def embed_distribution(self, distributions: torch.Tensor) -> torch.Tensor:
        """Map word distributions (batch, tokens, vocab) to embeddings (batch, tokens, embed)."""
        return distributions @ self.embedding.weight

    def forward(self, embedded: torch.Tensor) -> torch.Tensor:
        """Return output logits (batch, tokens, vocab) for input embeddings (batch, tokens, embed)."""
        encoded, _ = self.encoder(embedded)  # (batch, tokens, 2 * hidden)
        decoded, _ = self.decoder(encoded)  # (batch, tokens, hidden)
        features = self.to_embedding(decoded) + embedded
        logits = self.logit_scale * (features @ self.embedding.weight.t()) + self.output_bias  # (batch, tokens, vocab)
        banned = torch.zeros_like(self.output_bias, dtype=torch.bool)
        banned[list(_BANNED_OUTPUT_IDS)] = True
        return logits.masked_fill(banned, _NEG_INF)

    def transfer_ids(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the most likely output ids (batch, tokens), <pad> where ``mask`` is False."""
        logits = self(self.embedding(tokens))
        return logits.argmax(-1).masked_fill(~mask, PAD_ID)

    def sample_ids(self, tokens: torch.Tensor, mask: torch.Tensor, *, temperature: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw output ids (batch, tokens) from softmax(logits / temperature) at each position independently.

        Returns <pad> where ``mask`` is False. ``generator`` must live on the model's device.
        """
        logits = self(self.embedding(tokens))  # (batch, tokens, vocab)
        ids = sample_from_logits(logits, temperature, generator)
        return ids.masked_fill(~mask, PAD_ID)


class SequenceCritic(nn.Module):
    """A CNN that scores a sequence of feature vectors (batch, tokens, features) as real (high) or fake.

    Convolutions of several widths, max-pooled over time, as in Kim (2014) sentence classifiers.
    """

    def __init__(self, feature_dim: int, filters: int = 64, widths: tuple[int, ...] = (1, 2, 3),
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.convolutions = nn.ModuleList(nn.Conv1d(feature_dim, filters, width, padding=width - 1) for width in widths)
        self.dropout = nn.Dropout(dropout)
        self.score = nn.Linear(filters * len(widths), 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        channels_first = features.transpose(1, 2)  # (batch, features, tokens)
        pooled = [F.leaky_relu(conv(channels_first), 0.2).amax(dim=2) for conv in self.convolutions]
        return self.score(self.dropout(torch.cat(pooled, dim=1))).squeeze(1)  # (batch,)


class WordCritic(nn.Module):
    """A critic over words given as distributions (batch, tokens, vocab): one-hot for real sentences."""

    def __init__(self, vocab_size: int, embed_dim: int, filters: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.critic = SequenceCritic(embed_dim, filters)

    def forward_ids(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.critic(self.embedding(tokens))

    def forward_distributions(self, distributions: torch.Tensor) -> torch.Tensor:
        return self.critic(distributions @ self.embedding.weight)


class CrossAlignedAutoEncoder(nn.Module):
    """The cross-aligned auto-encoder of Shen et al. (2017): a shared encoder and a style-conditioned decoder.

    The encoder starts from the source style's embedding and its final states, without the style,
    give the content code. The decoder starts from [embedding of the wanted style, content code].
    Two changes from the paper make training converge in fewer steps. The encoder is bidirectional,
    and the content code is a projection of both final states. The decoder also reads the content
    code at every step, beside the previous word.
    """

    def __init__(self, vocab_size: int, embed_dim: int, style_dim: int, content_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.style_dim, self.content_dim = style_dim, content_dim
        hidden_dim = style_dim + content_dim
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.style_embedding = nn.Embedding(2, style_dim)
        self.encoder = nn.GRU(embed_dim, content_dim, batch_first=True, bidirectional=True)
        self.encoder_start = nn.Linear(style_dim, content_dim)
        self.to_content = nn.Linear(2 * content_dim, content_dim)
        self.decoder = nn.GRU(embed_dim + content_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)
        self.dropout = nn.Dropout(dropout)

    @property
    def hidden_dim(self) -> int:
        return self.style_dim + self.content_dim

    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Return content codes (batch, content) for tokens (batch, tokens) of the given styles (batch,)."""
        start = torch.tanh(self.encoder_start(self.style_embedding(style)))  # (batch, content)
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(self.embedding(tokens)), lengths.cpu(),
                                                   batch_first=True, enforce_sorted=False)
        _, final = self.encoder(packed, torch.stack([start, start]))  # final: (2 directions, batch, content)
        both = torch.cat([final[0], final[1]], dim=1)  # (batch, 2 * content)
        return torch.tanh(self.to_content(both))

    def initial_state(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.style_embedding(style), content], dim=1)  # (batch, hidden)

    def decode_teacher_forced(self, content: torch.Tensor, style: torch.Tensor,
                              inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the decoder on given inputs (batch, tokens), <bos> first.

        Returns:
            states (batch, tokens + 1, hidden) with the initial state first, and logits
            (batch, tokens, vocab) predicting the next word after each input.
        """
        start = self.initial_state(content, style)
        words = self.dropout(self.embedding(inputs))  # (batch, tokens, embed)
        steps_in = torch.cat([words, content.unsqueeze(1).expand(-1, words.shape[1], -1)], dim=2)
        outputs, _ = self.decoder(steps_in, start.unsqueeze(0))  # (batch, tokens, hidden)
        states = torch.cat([start.unsqueeze(1), outputs], dim=1)
        return states, self.output(self.dropout(outputs))

    def decode_free_running(self, content: torch.Tensor, style: torch.Tensor, steps: int, *,
                            temperature: float | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode ``steps`` words feeding the decoder its own output ("professor forcing").

        With a ``temperature``, the next input is the softmax(logits / temperature)-weighted mixture
        of word embeddings, so the run stays differentiable. With None, it is the argmax word.

        Returns:
            states (batch, steps + 1, hidden) with the initial state first, and ids (batch, steps).
        """
        state = self.initial_state(content, style).unsqueeze(0)  # (1, batch, hidden)
        word = self.embedding(torch.full((len(content),), BOS_ID, dtype=torch.long, device=content.device))
        states, ids = [state[0]], []
        for _ in range(steps):
            step_in = torch.cat([word, content], dim=1).unsqueeze(1)  # (batch, 1, embed + content)
            output, state = self.decoder(step_in, state)  # output: (batch, 1, hidden)
            logits = self.output(output[:, 0])
            ids.append(logits.argmax(-1))
            states.append(output[:, 0])
            if temperature is None:
                word = self.embedding(ids[-1])
            else:
                word = torch.softmax(logits.float() / temperature, dim=-1).to(self.embedding.weight.dtype) @ self.embedding.weight
        return torch.stack(states, dim=1), torch.stack(ids, dim=1)

    def sample(self, content: torch.Tensor, style: torch.Tensor, steps: int, *, temperature: float,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``steps`` words, each drawn from softmax(logits / temperature) and fed back as the next input.

        Returns:
            ids (batch, steps); cut them at the first <eos> with ``cut_at_eos``.
        """
        state = self.initial_state(content, style).unsqueeze(0)  # (1, batch, hidden)
        word_ids = torch.full((len(content),), BOS_ID, dtype=torch.long, device=content.device)
        ids = []
        for _ in range(steps):
            step_in = torch.cat([self.embedding(word_ids), content], dim=1).unsqueeze(1)  # (batch, 1, embed + content)
            output, state = self.decoder(step_in, state)  # output: (batch, 1, hidden)
            word_ids = sample_from_logits(self.output(output[:, 0]), temperature, generator)  # (batch,)
            ids.append(word_ids)
        return torch.stack(ids, dim=1)


def sample_from_logits(logits: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one id per row of logits (..., vocab) from softmax(logits / temperature), giving ids (...).

    Raises:
        ValueError: when ``temperature`` is not positive.
    """
    if not temperature > 0:
        raise ValueError(f"The sampling temperature must be positive, got {temperature}. Use a value such as 0.7.")
    probabilities = torch.softmax(logits.float() / temperature, dim=-1)
    flat = probabilities.reshape(-1, probabilities.shape[-1])  # (rows, vocab)
    ids = torch.multinomial(flat, 1, generator=generator)  # (rows, 1)
    return ids.reshape(probabilities.shape[:-1])


def cut_at_eos(ids: torch.Tensor) -> list[list[int]]:
    """Turn decoded ids (batch, steps) into id lists that end before the first <eos>."""
    rows = []
    for row in ids.tolist():
        rows.append(row[: row.index(EOS_ID)] if EOS_ID in row else row)
    return rows
