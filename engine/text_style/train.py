"""Training jobs for non-parallel sentiment transfer: direct transformation and the cross-aligned auto-encoder."""

from __future__ import annotations

import logging
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.checkpoints import CheckpointError, load_checkpoint, restore, save_checkpoint
from engine.core.device import Compute, pick_compute
from engine.core.jobs import (CancelToken, CheckpointSaved, EventSink, Finished, JobError, Metrics, ProgressClock,
                              Sample, Started, check_finite)
from engine.core.paths import checkpoints_dir, shared_datasets_dir
from engine.core.seeding import seed_everything
from engine.data.review_sentences import ReviewCorpusConfig, review_corpus
from engine.data.text_corpora import (BOS_ID, EOS_ID, PAD_ID, CorpusError, StyleCorpus, Vocabulary, filter_sentences, load_style_files,
                                      load_yelp)
from engine.text_style.config import TextStyleConfig
from engine.text_style.models import AlignedTransducer, CrossAlignedAutoEncoder, WordCritic, relax
from engine.text_style.transfer import CHECKPOINT_KINDS, TextStyleModel, build_networks, direction_label, pad_batch

logger = logging.getLogger(__name__)
# Gradient norm limit of every update; with ``adversarial_clip`` it applies to reconstruction alone.
GRADIENT_CLIP = 5.0

SAMPLES_PER_DIRECTION = 3


# --------------------------------------------------------------------------------------------- data

def load_corpus(config: TextStyleConfig, datasets_dir: Path | None = None) -> StyleCorpus:
    """Load the corpus named by ``config.data``.

    Raises:
        JobError: when the files are missing or unreadable; the message names the file.
    """
    try:
        if config.data == "yelp":
            return load_yelp(datasets_dir or shared_datasets_dir(), max_tokens=config.max_tokens, seed=config.seed)
        if config.data == "reviews":
            return review_corpus(ReviewCorpusConfig(seed=config.seed))
        assert config.files is not None  # checked in TextStyleConfig
        return load_style_files(config.files[0], config.files[1], max_tokens=config.max_tokens)
    except CorpusError as error:
        raise JobError(str(error)) from error


@dataclass(frozen=True)
class PreparedData:
    vocabulary: Vocabulary
    train_ids: tuple[list[list[int]], list[list[int]]]
    preview: tuple[list[list[str]], list[list[str]]]  # sentences shown in text_samples events


def prepare_data(corpus: StyleCorpus, config: TextStyleConfig, vocabulary: Vocabulary | None = None) -> PreparedData:
    """Build the vocabulary (unless given) and encode the training sentences of both styles."""
    train = [filter_sentences(corpus.train[style], max_tokens=config.max_tokens) for style in (0, 1)]
    for style in (0, 1):
        if not train[style]:
            raise JobError(f"No style-{style} training sentences of at most {config.max_tokens} tokens in {corpus.source}. "
                           "Raise max_tokens or add sentences.")
    if vocabulary is None:
        vocabulary = Vocabulary.build(train[0] + train[1], min_count=config.min_count, max_size=config.max_vocab)
    ids = tuple([vocabulary.encode(sentence) for sentence in train[style]] for style in (0, 1))
    preview_source = corpus.test if corpus.test[0] and corpus.test[1] else corpus.train
    preview = tuple(list(preview_source[style][:SAMPLES_PER_DIRECTION]) for style in (0, 1))
    return PreparedData(vocabulary, ids, preview)  # type: ignore[arg-type]


class BatchSampler:
    """Draws batches of one style by walking a shuffled order, reshuffling after each pass."""

    def __init__(self, sentences: Sequence[list[int]], batch_size: int, rng: random.Random) -> None:
        self._sentences, self._batch_size, self._rng = sentences, batch_size, rng
        self._order: list[int] = []

    def next(self) -> list[list[int]]:
        batch = []
        while len(batch) < self._batch_size:
            if not self._order:
                self._order = list(range(len(self._sentences)))
                self._rng.shuffle(self._order)
            batch.append(self._sentences[self._order.pop()])
        return batch


# -------------------------------------------------------------------------------------------- steps

def _sequence_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]  # (batch, tokens)


def _token_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=PAD_ID,  # over (batch*tokens, vocab)
                           label_smoothing=label_smoothing)


def _bce(scores: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    return F.binary_cross_entropy_with_logits(scores.float(), target)


def adversarial_ramp(step: int, config: TextStyleConfig) -> float:
    """Return the adversarial weight at ``step``: 0 during the warm-up, then a linear ramp to the full weight."""
    if step < config.warmup_steps:
        return 0.0
    if config.ramp_steps <= 0:
        return config.adversarial_weight
    return config.adversarial_weight * min(1.0, (step - config.warmup_steps + 1) / config.ramp_steps)


class DirectTransformation:
    """Two aligned seq2seq generators with one word critic per style, a cycle loss and an identity loss.

    The discrete words are made differentiable by straight-through Gumbel-softmax or by feeding the
    critic softmax-weighted embedding mixtures, as ``config.relaxation`` selects.
    """

    def __init__(self, generators: Mapping[str, nn.Module], critics: Mapping[str, nn.Module], config: TextStyleConfig) -> None:
        self.forward_generators: dict[int, AlignedTransducer] = {0: generators["g_0to1"], 1: generators["g_1to0"]}  # type: ignore[dict-item]
        self.critics: dict[int, WordCritic] = {0: critics["d_0"], 1: critics["d_1"]}  # type: ignore[dict-item]
        self.config = config

    def _fake_distributions(self, tokens: torch.Tensor, mask: torch.Tensor, source_style: int) -> torch.Tensor:
        generator = self.forward_generators[source_style]
        logits = generator(generator.embedding(tokens))
        distributions = relax(logits, self.config.relaxation, self.config.temperature)  # (batch, tokens, vocab)
        pad_one_hot = F.one_hot(torch.full_like(tokens, PAD_ID), distributions.shape[-1]).to(distributions.dtype)
        return torch.where(mask.unsqueeze(-1), distributions, pad_one_hot)

    def critic_loss(self, batches: Mapping[int, tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, dict[str, float]]:
        total = 0.0
        values = {}
        for source in (0, 1):
            tokens, mask = batches[source]
            target = 1 - source
            with torch.no_grad():
                fake = self._fake_distributions(tokens, mask, source)
            critic = self.critics[target]
            real_scores = critic.forward_ids(batches[target][0])
            fake_scores = critic.forward_distributions(fake)
            loss = _bce(real_scores, True) + _bce(fake_scores, False)
            total = total + loss
            values[f"d{target}/real_prob"] = torch.sigmoid(real_scores.float()).mean().item()
            values[f"d{target}/fake_prob"] = torch.sigmoid(fake_scores.float()).mean().item()
        values["loss/d"] = total.item()
        return total, values

    def generator_loss(self, batches: Mapping[int, tuple[torch.Tensor, torch.Tensor]],
                       adversarial_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
        config = self.config
        adversarial = cycle = identity = 0.0
        for source in (0, 1):
            tokens, mask = batches[source]
            target = 1 - source
            fake = self._fake_distributions(tokens, mask, source)
            adversarial = adversarial + _bce(self.critics[target].forward_distributions(fake), True)

            back = self.forward_generators[target]
            cycle = cycle + _token_cross_entropy(back(back.embed_distribution(fake)), tokens, config.label_smoothing)

            # A sentence already in the target style should pass through G(source -> target) unchanged.
            target_tokens = batches[target][0]
            same = self.forward_generators[source]
            identity = identity + _token_cross_entropy(same(same.embedding(target_tokens)), target_tokens,
                                                       config.label_smoothing)
        total = adversarial_weight * adversarial + config.cycle_weight * cycle + config.identity_weight * identity
        return total, {"loss/g": total.item(), "loss/adversarial": adversarial.item(), "loss/cycle": cycle.item(),
                       "loss/identity": identity.item()}


class CrossAlignment:
    """The cross-aligned auto-encoder objective: reconstruction plus adversarial alignment of decoder states.

    Critic d_s separates teacher-forced decoder states of real style-s sentences from the
    free-running (soft-input) decoder states of the other style's sentences transferred to s.
    Matching the two state distributions forces the content code to carry no style.
    """

    def __init__(self, generators: Mapping[str, nn.Module], critics: Mapping[str, nn.Module], config: TextStyleConfig) -> None:
        self.autoencoder: CrossAlignedAutoEncoder = generators["autoencoder"]  # type: ignore[assignment]
        self.critics = {0: critics["d_0"], 1: critics["d_1"]}
        self.config = config

    def _states(self, batches: Mapping[int, tuple[torch.Tensor, torch.Tensor]]) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor], torch.Tensor]:
        """Return real states, transferred states (both keyed by the style they claim) and the reconstruction loss."""
        # TODO: during the warm-up the adversarial weight is 0, so the free-running decode only trains
        # the critics; skipping it there would make warm-up steps about twice as fast.
        real, transferred = {}, {}
        reconstruction = 0.0
        for style in (0, 1):
            tokens, lengths = batches[style]
            style_ids = torch.full((len(tokens),), style, dtype=torch.long, device=tokens.device)
            content = self.autoencoder.encode(tokens, lengths, style_ids)
            bos = torch.full((len(tokens), 1), BOS_ID, dtype=torch.long, device=tokens.device)
            inputs = torch.cat([bos, tokens], dim=1)  # (batch, tokens + 1), <bos> first
            targets = torch.cat([tokens, torch.zeros_like(bos)], dim=1)
            targets[torch.arange(len(tokens)), lengths] = EOS_ID  # after the last word
            states, logits = self.autoencoder.decode_teacher_forced(content, style_ids, inputs)
            reconstruction = reconstruction + _token_cross_entropy(logits, targets)
            real[style] = states
            # The transferred run is as long as the teacher-forced one, so both state sequences align.
            transferred[1 - style], _ = self.autoencoder.decode_free_running(
                content, 1 - style_ids, inputs.shape[1], temperature=self.config.professor_temperature)
        return real, transferred, reconstruction

    def losses(self, batches: Mapping[int, tuple[torch.Tensor, torch.Tensor]], adversarial_weight: float
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, float]]:
        """Return (reconstruction loss, weighted adversarial loss, critic loss, metrics) from one forward pass.

        The generator's loss is the sum of the first two.
        """
        real, transferred, reconstruction = self._states(batches)
        critic_total = 0.0
        adversarial = 0.0
        values: dict[str, float] = {}
        for style in (0, 1):
            critic = self.critics[style]
            length = min(real[style].shape[1], transferred[style].shape[1])
            real_states, fake_states = real[style][:, :length], transferred[style][:, :length]
            critic_total = critic_total + _bce(critic(real_states.detach()), True) + _bce(critic(fake_states.detach()), False)
            # Both sequences move toward each other: real states are pushed to look transferred too.
            adversarial = adversarial + _bce(critic(fake_states), True) + _bce(critic(real_states), False)
            values[f"d{style}/fake_prob"] = torch.sigmoid(critic(fake_states.detach()).float()).mean().item()
        weighted_adversarial = adversarial_weight * adversarial / 2
        values.update({"loss/g": (reconstruction + weighted_adversarial).item(), "loss/d": critic_total.item(),
                       "loss/reconstruction": reconstruction.item(), "loss/adversarial": adversarial.item()})
        return reconstruction, weighted_adversarial, critic_total, values


# ---------------------------------------------------------------------------------------------- job

def describe_hardware(compute: Compute) -> str:
    """Return the device name, or the CPU and its thread count, with the precision."""
    if compute.device.type == "cuda":
        return f"{torch.cuda.get_device_name(compute.device)} ({compute.precision})"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads ({compute.precision})"


class TextStyleTrainJob:
    """Trains a sentiment transfer model (either method) and reports events through the job protocol.

    Args:
        config: the run configuration.
        output_dir: where checkpoints go; defaults to the user checkpoints folder.
        resume_from: a checkpoint of the same method to continue from (weights, optimizers, step).
        corpus: an already-loaded corpus, which replaces ``config.data`` (tests and notebooks use it).
        datasets_dir: where the Yelp sets live; defaults to the shared data sets folder.
        metrics_every: send a Metrics event every N steps.
        extra_metadata: more JSON values for the checkpoint sidecars (the command line, for example).
    """

    def __init__(self, config: TextStyleConfig, output_dir: Path | None = None, resume_from: Path | None = None,
                 corpus: StyleCorpus | None = None, datasets_dir: Path | None = None, metrics_every: int = 1,
                 extra_metadata: Mapping[str, object] | None = None) -> None:
        self.config = config
        self.name = f"text style ({config.method})"
        self.output_dir = output_dir
        self.resume_from = resume_from
        self.corpus = corpus
        self.datasets_dir = datasets_dir
        self.metrics_every = max(1, metrics_every)
        self.extra_metadata = dict(extra_metadata or {})
        self.model: TextStyleModel | None = None  # set when the run ends, for callers that want the networks
        self.last_checkpoint: Path | None = None

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        config = self.config
        seed_everything(config.seed)
        rng = random.Random(config.seed)
        try:
            compute = pick_compute(config.device, config.precision)
        except ValueError as error:
            raise JobError(str(error)) from error
        output_dir = self.output_dir or checkpoints_dir() / f"text_style_{config.method}_{time.strftime('%Y%m%d_%H%M%S')}"

        checkpoint = None
        vocabulary = None
        if self.resume_from is not None:
            try:
                checkpoint = load_checkpoint(self.resume_from, expected_kind=CHECKPOINT_KINDS[config.method])
            except CheckpointError as error:
                raise JobError(str(error)) from error
            vocabulary = Vocabulary.from_json(checkpoint.extra["vocabulary"])

        corpus = self.corpus or load_corpus(config, self.datasets_dir)
        data = prepare_data(corpus, config, vocabulary)
        generators, critics = build_networks(config, len(data.vocabulary))
        for module in list(generators.values()) + list(critics.values()):
            module.to(compute.device)
        generator_params = [p for m in generators.values() for p in m.parameters()]
        critic_params = [p for m in critics.values() for p in m.parameters()]
        optimizers = {
            "generator": torch.optim.Adam(generator_params, lr=config.learning_rate, betas=(0.5, 0.999)),
            "critic": torch.optim.Adam(critic_params, lr=config.critic_learning_rate, betas=(0.5, 0.999)),
        }
        modules = {**generators, **critics}
        start_step = 0
        if checkpoint is not None:
            try:
                restore(checkpoint, modules, optimizers)
            except CheckpointError as error:
                raise JobError(str(error)) from error
            start_step = checkpoint.step
            self.last_checkpoint = checkpoint.path
            # NOTE: the batch order restarts from the seed, so a resumed run differs from an uninterrupted one.
            rng = random.Random(config.seed + start_step)

        model = TextStyleModel(config, data.vocabulary, generators, corpus.style_names, compute.device)
        self.model = model
        sink(Started(self.name, config.steps, config.to_json()))
        logger.info("Training %s on %s: %d + %d sentences, vocabulary %d, %s; non-default settings %s",
                    config.method, corpus.source, len(data.train_ids[0]), len(data.train_ids[1]),
                    len(data.vocabulary), compute.describe(), config.differences())

        objective = DirectTransformation(generators, critics, config) if config.method == "direct" \
            else CrossAlignment(generators, critics, config)
        samplers = [BatchSampler(data.train_ids[style], config.batch_size, rng) for style in (0, 1)]
        clock = ProgressClock(config.steps, start_step)
        extra = {"vocabulary": data.vocabulary.to_json(), "style_names": list(corpus.style_names),
                 "data": corpus.source, "hardware": describe_hardware(compute), **self.extra_metadata}

        def save(step: int, values: Mapping[str, float]) -> None:
            path = save_checkpoint(output_dir / f"step_{step:06d}", kind=CHECKPOINT_KINDS[config.method],
                                   config=config.to_json(), step=step, modules=modules, optimizers=optimizers,
                                   metrics=values, extra=extra)
            self.last_checkpoint = path
            sink(CheckpointSaved(step, path))

        values: dict[str, float] = {}
        step = start_step
        while step < config.steps:
            cancel.wait_if_paused()
            if cancel.cancelled:
                break
            started = time.perf_counter()
            for module in modules.values():
                module.train()
            values = self._train_step(objective, samplers, optimizers, compute, step)
            step += 1
            values["time/step_s"] = time.perf_counter() - started
            check_finite(step, values, self.last_checkpoint)
            if step % self.metrics_every == 0 or step == config.steps:
                sink(Metrics(step, values))
            sink(clock.tick(step))
            if step % config.sample_every == 0 or step == config.steps:
                sink(Sample(step, "text_samples", {"samples": preview_samples(model, data.preview)}))
            if step % config.checkpoint_every == 0 and step < config.steps:
                save(step, values)

        save(step, values)
        sink(Finished({"step": step, "checkpoint": str(self.last_checkpoint), **values}, cancelled=cancel.cancelled))

    def _train_step(self, objective: DirectTransformation | CrossAlignment, samplers: Sequence[BatchSampler],
                    optimizers: Mapping[str, torch.optim.Optimizer], compute: Compute, step: int) -> dict[str, float]:
        device = compute.device
        weight = adversarial_ramp(step, self.config)
        if isinstance(objective, DirectTransformation):
            batches = {}
            for style in (0, 1):
                tokens, lengths = pad_batch(samplers[style].next(), device)
                batches[style] = (tokens, _sequence_mask(lengths, tokens.shape[1]))
            with compute.autocast():
                critic_loss, critic_values = objective.critic_loss(batches)
            _apply(optimizers["critic"], critic_loss)
            with compute.autocast():
                generator_loss, values = objective.generator_loss(batches, weight)
            _apply(optimizers["generator"], generator_loss)
            return {**values, **critic_values, "weight/adversarial": weight}

        batches = {style: pad_batch(samplers[style].next(), device) for style in (0, 1)}
        with compute.autocast():
            reconstruction, adversarial, critic_loss, values = objective.losses(batches, weight)
        # Both losses share one forward pass, so no optimizer may step before both backward passes ran.
        # The generator backward also reaches the critics; their gradients are cleared before the
        # critic loss (on detached states) is back-propagated.
        generator = optimizers["generator"]
        generator.zero_grad(set_to_none=True)
        if self.config.adversarial_clip is None or weight == 0.0:
            (reconstruction + adversarial).backward()
            values["grad_norm/g"] = _clip(generator)
        else:
            params = [p for group in generator.param_groups for p in group["params"]]
            values["grad_norm/reconstruction"], reconstruction_grads = _clipped_gradients(reconstruction, params,
                                                                                          GRADIENT_CLIP)
            values["grad_norm/adversarial"], adversarial_grads = _clipped_gradients(adversarial, params,
                                                                                    self.config.adversarial_clip)
            for param, first, second in zip(params, reconstruction_grads, adversarial_grads):
                param.grad = first + second
        optimizers["critic"].zero_grad(set_to_none=True)
        critic_loss.backward()
        values["grad_norm/critic"] = _clip(optimizers["critic"])
        for optimizer in (generator, optimizers["critic"]):
            optimizer.step()
        return {**values, "weight/adversarial": weight}


def _apply(optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_norm: float = GRADIENT_CLIP) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    _clip(optimizer, max_norm)
    optimizer.step()


def _clip(optimizer: torch.optim.Optimizer, max_norm: float = GRADIENT_CLIP) -> float:
    """Clip the gradients of ``optimizer``'s parameters to ``max_norm`` together and return their norm before."""
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm))


def _clipped_gradients(loss: torch.Tensor, params: Sequence[torch.Tensor], max_norm: float
                       ) -> tuple[float, list[torch.Tensor]]:
    """Return the norm of d loss / d params and the gradients scaled down to at most ``max_norm``.

    The graph is kept, so a second loss of the same forward pass can be differentiated afterwards.
    """
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
    norm = float(torch.nn.utils.get_total_norm(grads))
    scale = min(1.0, max_norm / (norm + 1e-6))
    return norm, [g * scale for g in grads]


def preview_samples(model: TextStyleModel, preview: Sequence[Sequence[list[str]]]) -> list[tuple[str, str, str]]:
    """Transfer the preview sentences both ways; returns (source, output, direction) triples."""
    samples = []
    for style in (0, 1):
        outputs = model.transfer_tokens(preview[style], style)
        label = direction_label(model.style_names, style)
        samples.extend((" ".join(source), " ".join(output), label) for source, output in zip(preview[style], outputs))
    return samples


def train_model(config: TextStyleConfig, *, corpus: StyleCorpus | None = None, output_dir: Path | None = None,
                on_event: Callable[[object], None] | None = None, cancel: CancelToken | None = None) -> TextStyleTrainJob:
    """Run a training job in this thread, raising JobError on failure; returns the finished job."""
    from engine.core.jobs import Failed, run_job

    job = TextStyleTrainJob(config, output_dir=output_dir, corpus=corpus)
    last = run_job(job, on_event or (lambda event: None), cancel)
    if isinstance(last, Failed):
        raise JobError(last.message)
    return job
