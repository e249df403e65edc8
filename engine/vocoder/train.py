"""Training job for the GAN vocoder: data from speech corpora, generator warm-up, adversarial training, fine-tuning."""

from __future__ import annotations

import logging
import platform
import random
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from engine.audio.features import SPEECH_MEL, log_mel_spectrogram
from engine.core.checkpoints import CheckpointError, load_checkpoint, restore, save_checkpoint
from engine.core.device import Compute, pick_compute
from engine.core.jobs import (CancelToken, CheckpointSaved, EventSink, Failed, Finished, JobError, Metrics,
                              ProgressClock, Sample, Started, check_finite, run_job)
from engine.core.paths import checkpoints_dir, shared_datasets_dir
from engine.core.seeding import seed_everything
from engine.data.speech_corpora import (SpeechCorpus, Utterance, load_fsdd, load_speaker_folders, load_vcc2016,
                                        utterance_tensor)
from engine.data.synthetic_speech import ensure_synthetic_corpus
from engine.vocoder.gan_vocoder import (DEFAULT_STFT_RESOLUTIONS, FRAME_RATE_GENERATOR, DiscriminatorConfig,
                                        GeneratorConfig, LossWeights, StftResolution, VocoderNetworks, adversarial_loss,
                                        build_networks, discriminator_loss, feature_matching_loss, mel_l1_loss,
                                        multi_resolution_stft_loss, phase_loss)

logger = logging.getLogger(__name__)

CHECKPOINT_KIND = "vocoder.gan"
BUILT_IN_SOURCES = ("vcc2016", "fsdd", "synthetic")
# VCC 2016 speaker TF2 never enters training, so held-out tests use a voice the vocoder never heard.
TRAINING_VCC_SPEAKERS = ("SF1", "SM1", "TM3")
HELD_OUT_VCC_SPEAKER = "TF2"
# The fraction of VCC sentences (the same file names for every speaker) kept out of training. Half
# of them validate checkpoints during training, and the other half are the test set of evaluate.py.
VCC_HELD_OUT_FRACTION = 0.2
PEAK_LIMIT = 0.99  # random gain never pushes a crop above this peak, so no training crop clips


@dataclass(frozen=True)
class VocoderTrainConfig:
    """Everything that defines a vocoder training run; saved beside every checkpoint."""

    # Built-in corpora ("vcc2016", "fsdd", "synthetic") and folders of speakers (one subfolder of
    # audio files per speaker), each with a sampling weight in ``source_weights``.
    sources: tuple[str, ...] = BUILT_IN_SOURCES
    # Real speech dominates; FSDD (8 kHz, single words) and the espeak-ng voices add variety.
    source_weights: tuple[float, ...] = (0.55, 0.2, 0.25)
    seed: int = 0
    segment_samples: int = 8192  # 0.51 s crops: several pitch periods and the scale discriminators' context
    batch_size: int = 8
    steps: int = 5000
    # Steps trained with the mel, STFT and phase losses only. The adversarial terms start from a
    # generator that already produces speech-like spectra, which keeps the discriminators from winning at once.
    adversarial_start_step: int = 3000
    # The warm-up without discriminators tolerates a 4x higher rate, which reached a 25% lower mel
    # loss in 200-step trials. The adversarial phase uses a lower rate, closer to HiFi-GAN's 2e-4.
    warmup_learning_rate: float = 2e-3
    generator_learning_rate: float = 5e-4
    discriminator_learning_rate: float = 2e-4
    adam_betas: tuple[float, float] = (0.8, 0.99)  # HiFi-GAN's setting
    gradient_clip: float = 100.0  # clips only exploding steps, well above the usual generator gradient norms
    loss_weights: LossWeights = LossWeights()
    generator: GeneratorConfig = FRAME_RATE_GENERATOR
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    # (n_fft, hop) of each resolution of the multi-resolution STFT loss.
    stft_resolutions: tuple[tuple[int, int], ...] = tuple((r.n_fft, r.hop_length) for r in DEFAULT_STFT_RESOLUTIONS)
    gain_range_db: tuple[float, float] = (-6.0, 2.0)  # random loudness change of each crop
    # Gaussian noise at about -80 dBFS added to every crop: zero-padded and digitally silent stretches
    # would otherwise ask the log losses to reproduce exact zeros, which dominates their gradients.
    dither: float = 1e-4
    time_limit_s: float | None = None  # stop (and save) after this much training time; None trains all steps
    checkpoint_every: int = 500
    sample_every: int = 500
    device: str = "auto"
    # bf16 autocast made an adversarial step only 10% faster on a 2-core CPU with native bf16
    # (0.99 s against 1.10 s, batch 8 x 8192 samples, one thread).
    # NOTE: fp32 stays the default because training quality under bf16 is not tested.
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.source_weights):
            raise ValueError(f"VocoderTrainConfig: {len(self.sources)} sources {self.sources} need as many "
                             f"source_weights, got {self.source_weights}.")
        if not self.sources or min(self.source_weights) <= 0:
            raise ValueError(f"VocoderTrainConfig: give at least one source, each with a positive weight; "
                             f"got {self.sources} with weights {self.source_weights}.")
        hop = self.generator.hop_length
        if self.segment_samples < 4 * hop or self.segment_samples % hop:
            raise ValueError(f"VocoderTrainConfig: segment_samples must be a multiple of the hop length {hop} "
                             f"and at least {4 * hop}, got {self.segment_samples}.")
        for name in ("batch_size", "steps", "checkpoint_every", "sample_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"VocoderTrainConfig: {name} must be at least 1, got {getattr(self, name)}.")
        if self.adversarial_start_step < 0:
            raise ValueError(f"VocoderTrainConfig: adversarial_start_step must be 0 or more, got {self.adversarial_start_step}.")
        if self.generator.hop_length != SPEECH_MEL.hop_length or self.generator.n_mels != SPEECH_MEL.n_mels:
            raise ValueError("VocoderTrainConfig: the generator must read SPEECH_MEL frames "
                             f"(hop {SPEECH_MEL.hop_length}, {SPEECH_MEL.n_mels} mels).")

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["generator"] = self.generator.to_dict()
        values["discriminator"] = self.discriminator.to_dict()
        values["loss_weights"] = self.loss_weights.to_dict()
        return values

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> VocoderTrainConfig:
        known = {field.name for field in fields(cls)}
        kwargs: dict[str, Any] = {key: value for key, value in values.items() if key in known}
        for key in ("sources", "source_weights", "adam_betas", "gain_range_db"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        if "stft_resolutions" in kwargs:
            kwargs["stft_resolutions"] = tuple(tuple(pair) for pair in kwargs["stft_resolutions"])
        if "generator" in kwargs:
            kwargs["generator"] = GeneratorConfig.from_dict(kwargs["generator"])
        if "discriminator" in kwargs:
            kwargs["discriminator"] = DiscriminatorConfig.from_dict(kwargs["discriminator"])
        if "loss_weights" in kwargs:
            kwargs["loss_weights"] = LossWeights(**kwargs["loss_weights"])
        return cls(**kwargs)

    def differences(self) -> dict[str, Any]:
        """Return the settings that differ from the defaults, for the log."""
        defaults = VocoderTrainConfig().to_json()
        return {key: value for key, value in self.to_json().items() if defaults.get(key) != value}


# --------------------------------------------------------------------------------------------- data

def vcc_split(corpus: SpeechCorpus, seed: int = 0) -> tuple[SpeechCorpus, SpeechCorpus, SpeechCorpus]:
    """Split VCC 2016 by sentence into (train, validation, test), the same file names for every speaker.

    ``VCC_HELD_OUT_FRACTION`` of the sentences are held out, and the held-out part is halved into
    validation (checked during training) and test (``evaluate.py``).
    """
    split = corpus.split(seed, VCC_HELD_OUT_FRACTION, same_across_speakers=True)
    held_out = split.held_out.split(seed + 1, 0.5, same_across_speakers=True)
    return split.train, held_out.train, held_out.held_out


def load_source(source: str, seed: int, datasets_dir: Path | None = None) -> SpeechCorpus:
    """Return the training part of one source: a built-in corpus name or a folder of speakers.

    Raises:
        JobError: when the corpus is missing or unusable; the message names the folder and the fix.
    """
    datasets_dir = datasets_dir or shared_datasets_dir()
    if source == "vcc2016":
        corpus = load_vcc2016(datasets_dir / "vcc2016_4spk", speakers=TRAINING_VCC_SPEAKERS)
        return vcc_split(corpus, seed)[0]
    if source == "fsdd":
        return load_fsdd(datasets_dir / "fsdd").split(seed, 0.05).train
    if source == "synthetic":
        return ensure_synthetic_corpus()
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise JobError(f"Vocoder training source {source!r} is neither a built-in corpus ({', '.join(BUILT_IN_SOURCES)}) "
                       "nor an existing folder. Pass a folder with one subfolder of audio files per speaker.")
    return load_speaker_folders(folder, name=folder.name)


class SegmentSampler:
    """Draws random fixed-length crops from decoded utterances, picking the source by weight.

    All audio is decoded once, resampled to 16 kHz and kept in memory as float32, which takes 64 kB
    per second of audio (about 210 MB for the three built-in corpora).
    """

    def __init__(self, sources: Sequence[Sequence[torch.Tensor]], weights: Sequence[float], segment_samples: int,
                 gain_range_db: tuple[float, float], rng: random.Random, dither: float = 0.0) -> None:
        self.sources = [list(items) for items in sources]
        self.weights = list(weights)
        self.segment_samples = segment_samples
        self.gain_range_db = gain_range_db
        self.rng = rng
        self.dither = dither
        self.noise = torch.Generator().manual_seed(rng.randrange(2**31))

    def crop(self) -> torch.Tensor:
        """Return one (segment_samples,) crop; a shorter utterance sits at a random offset in zeros."""
        items = self.rng.choices(self.sources, weights=self.weights)[0]
        samples = items[self.rng.randrange(len(items))]
        length = self.segment_samples
        if samples.numel() >= length:
            start = self.rng.randrange(samples.numel() - length + 1)
            crop = samples[start:start + length].clone()
        else:
            crop = torch.zeros(length)
            start = self.rng.randrange(length - samples.numel() + 1)
            crop[start:start + samples.numel()] = samples
        gain = 10 ** (self.rng.uniform(*self.gain_range_db) / 20)
        peak = float(crop.abs().max())
        if peak * gain > PEAK_LIMIT:
            gain = PEAK_LIMIT / peak
        return crop * gain

    def batch(self, batch_size: int) -> torch.Tensor:
        """Return (batch, 1, segment_samples) audio."""
        batch = torch.stack([self.crop() for _ in range(batch_size)]).unsqueeze(1)
        if self.dither:
            batch = batch + self.dither * torch.randn(batch.shape, generator=self.noise)
        return batch


def decode_corpus(corpus: SpeechCorpus, cancel: CancelToken | None = None) -> list[torch.Tensor]:
    """Decode every utterance to (samples,) float32 at the SPEECH_MEL rate."""
    decoded = []
    for utterance in corpus.utterances():
        if cancel is not None and cancel.cancelled:
            break
        decoded.append(utterance_tensor(utterance, SPEECH_MEL.sample_rate_hz)[0])
    return decoded


# -------------------------------------------------------------------------------------------- steps

def describe_hardware(compute: Compute) -> str:
    """Return the device name, or the CPU and its thread count, with the precision."""
    if compute.device.type == "cuda":
        return f"{torch.cuda.get_device_name(compute.device)} ({compute.precision})"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads ({compute.precision})"


def train_step(networks: VocoderNetworks, optimizers: Mapping[str, torch.optim.Optimizer], audio: torch.Tensor,
               config: VocoderTrainConfig, compute: Compute, adversarial: bool) -> dict[str, float]:
    """Run one discriminator update (when ``adversarial``) and one generator update on (batch, 1, samples) audio."""
    weights = config.loss_weights
    real_log_mel = log_mel_spectrogram(audio.squeeze(1))  # (batch, mels, frames)
    generator = networks.generator
    with compute.autocast():
        spectrum = generator.spectrum(real_log_mel)
    fake = generator.inverse_stft(spectrum, audio.shape[-1]).unsqueeze(1)  # (batch, 1, samples)
    values: dict[str, float] = {}

    if adversarial:
        with compute.autocast():
            real_scores, _ = networks.discriminators(audio)
            fake_scores, _ = networks.discriminators(fake.detach())
        loss_d = discriminator_loss(real_scores, fake_scores)
        values["loss/d"] = loss_d.item()
        values["grad_norm/d"] = _apply(optimizers["discriminators"], loss_d, config.gradient_clip)

    mel = mel_l1_loss(fake, real_log_mel)
    stft = multi_resolution_stft_loss(fake, audio, [StftResolution(*pair) for pair in config.stft_resolutions])
    phase = phase_loss(spectrum, audio, generator.config.istft_n_fft, generator.config.istft_hop)
    loss_g = weights.mel * mel + weights.stft * stft + weights.phase * phase
    if adversarial:
        with compute.autocast():
            _, real_features = networks.discriminators(audio)
            fake_scores, fake_features = networks.discriminators(fake)
        adversarial_term = adversarial_loss(fake_scores)
        matching = feature_matching_loss(real_features, fake_features)
        loss_g = loss_g + weights.adversarial * adversarial_term + weights.feature_matching * matching
        values["loss/adversarial"] = adversarial_term.item()
        values["loss/feature_matching"] = matching.item()
    values["grad_norm/g"] = _apply(optimizers["generator"], loss_g, config.gradient_clip)
    values.update({"loss/g": loss_g.item(), "loss/mel": mel.item(), "loss/stft": stft.item(),
                   "loss/phase": phase.item()})
    return values


def _set_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = learning_rate


def _apply(optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_norm: float) -> float:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    optimizer.step()
    return float(norm)


@torch.no_grad()
def validation_mel_loss(networks: VocoderNetworks, utterances: Sequence[torch.Tensor]) -> float:
    """Return the mean log-mel L1 distance of resynthesized validation utterances (lower is better)."""
    networks.generator.eval()
    total = 0.0
    for samples in utterances:
        log_mel = log_mel_spectrogram(samples)[None]  # (1, mels, frames)
        fake = networks.generator(log_mel)
        total += mel_l1_loss(fake, log_mel).item()
    networks.generator.train()
    return total / max(1, len(utterances))


# ---------------------------------------------------------------------------------------------- job

class VocoderTrainJob:
    """Trains (or fine-tunes) the GAN vocoder and reports events through the job protocol.

    Args:
        config: the run configuration.
        output_dir: where checkpoints go; defaults to a new folder in the user checkpoints folder.
        resume_from: a checkpoint of this kind to continue (weights, optimizers, step).
        initialize_from: a checkpoint whose weights (not optimizers or step) start a fine-tuning run.
        datasets_dir: where VCC 2016 and FSDD live; defaults to the shared data sets folder.
        validation: (samples,) utterances whose log-mel loss is reported at each checkpoint. By
            default these are VCC validation sentences of the training speakers, when VCC is a source.
        metrics_every: send a Metrics event every N steps.
        extra_metadata: more JSON values for the checkpoint sidecars (the command line, for example).
    """

    def __init__(self, config: VocoderTrainConfig, output_dir: Path | None = None, resume_from: Path | None = None,
                 initialize_from: Path | None = None, datasets_dir: Path | None = None,
                 validation: Sequence[torch.Tensor] | None = None, metrics_every: int = 10,
                 extra_metadata: Mapping[str, object] | None = None) -> None:
        if resume_from is not None and initialize_from is not None:
            raise ValueError("VocoderTrainJob: give resume_from or initialize_from, not both.")
        self.config = config
        self.name = "vocoder training" if initialize_from is None else "vocoder fine-tuning"
        self.output_dir = output_dir
        self.resume_from = resume_from
        self.initialize_from = initialize_from
        self.datasets_dir = datasets_dir
        self.validation = validation
        self.metrics_every = max(1, metrics_every)
        self.extra_metadata = dict(extra_metadata or {})
        self.networks: VocoderNetworks | None = None  # set once the run starts, for callers that want the generator
        self.last_checkpoint: Path | None = None

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        config = self.config
        seed_everything(config.seed)
        try:
            compute = pick_compute(config.device, config.precision)
        except ValueError as error:
            raise JobError(str(error)) from error
        output_dir = self.output_dir or checkpoints_dir() / f"vocoder_{time.strftime('%Y%m%d_%H%M%S')}"

        networks = build_networks(config.generator, config.discriminator)
        networks.generator.to(compute.device)
        networks.discriminators.to(compute.device)
        self.networks = networks
        modules = {"generator": networks.generator, "discriminators": networks.discriminators}
        optimizers = {
            "generator": torch.optim.AdamW(networks.generator.parameters(), lr=config.generator_learning_rate,
                                           betas=config.adam_betas),
            "discriminators": torch.optim.AdamW(networks.discriminators.parameters(),
                                                lr=config.discriminator_learning_rate, betas=config.adam_betas),
        }
        start_step = self._restore(modules, optimizers)

        sampler, validation, data_summary = self._prepare_data(cancel, start_step)
        if cancel.cancelled:
            sink(Finished({"step": start_step}, cancelled=True))
            return
        sink(Started(self.name, config.steps, config.to_json()))
        logger.info("Training the GAN vocoder on %s, %s; non-default settings %s", data_summary,
                    compute.describe(), config.differences())
        extra = {"data": data_summary, "hardware": describe_hardware(compute), **self.extra_metadata}
        if self.initialize_from is not None:
            extra["initialized_from"] = str(self.initialize_from)

        def save(step: int, values: Mapping[str, float]) -> None:
            path = save_checkpoint(output_dir / f"step_{step:06d}", kind=CHECKPOINT_KIND, config=config.to_json(),
                                   step=step, modules=modules, optimizers=optimizers, metrics=values, extra=extra)
            self.last_checkpoint = path
            sink(CheckpointSaved(step, path))

        clock = ProgressClock(config.steps, start_step)
        started_at = time.perf_counter()
        values: dict[str, float] = {}
        step = start_step
        while step < config.steps:
            cancel.wait_if_paused()
            if cancel.cancelled:
                break
            if config.time_limit_s is not None and time.perf_counter() - started_at > config.time_limit_s:
                logger.info("Stopping at step %d: the time limit of %.0f s is reached", step, config.time_limit_s)
                break
            step_started = time.perf_counter()
            audio = sampler.batch(config.batch_size).to(compute.device)
            adversarial = step >= config.adversarial_start_step
            _set_learning_rate(optimizers["generator"], config.generator_learning_rate if adversarial
                               else config.warmup_learning_rate)
            values = train_step(networks, optimizers, audio, config, compute, adversarial)
            step += 1
            values["time/step_s"] = time.perf_counter() - step_started
            check_finite(step, values, self.last_checkpoint)
            if step % config.checkpoint_every == 0 or step == config.steps:
                if validation:
                    values["validation/mel_l1"] = validation_mel_loss(networks, validation)
            if step % self.metrics_every == 0 or step == config.steps or "validation/mel_l1" in values:
                sink(Metrics(step, values))
            sink(clock.tick(step))
            if validation and step % config.sample_every == 0:
                sink(Sample(step, "audio", self._preview(networks, validation[0])))
            if step % config.checkpoint_every == 0 and step < config.steps:
                save(step, values)

        if step > start_step or self.last_checkpoint is None:
            save(step, values)
        sink(Finished({"step": step, "checkpoint": str(self.last_checkpoint), **values}, cancelled=cancel.cancelled))

    def _restore(self, modules: Mapping[str, torch.nn.Module], optimizers: Mapping[str, torch.optim.Optimizer]) -> int:
        """Load the resume or fine-tuning checkpoint, if any, and return the step to continue from."""
        source = self.resume_from or self.initialize_from
        if source is None:
            return 0
        try:
            checkpoint = load_checkpoint(source, expected_kind=CHECKPOINT_KIND)
            if self.resume_from is not None:
                restore(checkpoint, modules, optimizers)
                self.last_checkpoint = checkpoint.path
                return checkpoint.step
            # A fine-tuning start keeps the weights but gets fresh optimizers and counts steps from 0.
            restore(checkpoint, {name: module for name, module in modules.items()
                                 if checkpoint.module_state(name)})
        except CheckpointError as error:
            raise JobError(str(error)) from error
        if not checkpoint.module_state("discriminators"):
            logger.info("%s contains no discriminators; fine-tuning starts them from random weights", source)
        return 0

    def _prepare_data(self, cancel: CancelToken, start_step: int) -> tuple[SegmentSampler, list[torch.Tensor], str]:
        config = self.config
        decoded: list[list[torch.Tensor]] = []
        described = []
        for source in config.sources:
            corpus = load_source(source, config.seed, self.datasets_dir)
            decoded.append(decode_corpus(corpus, cancel))
            described.append(f"{source} ({len(corpus.speakers)} speakers, {len(corpus)} utterances, "
                             f"{corpus.total_duration_s / 60:.1f} min)")
            if not decoded[-1] and not cancel.cancelled:
                raise JobError(f"Vocoder training source {source!r} contains no usable audio. "
                               "Add recordings or remove the source.")
        validation = list(self.validation) if self.validation is not None else self._default_validation(cancel)
        # NOTE: the crop order restarts from seed + step, so a resumed run differs from an uninterrupted one.
        rng = random.Random(config.seed + start_step)
        sampler = SegmentSampler(decoded, config.source_weights, config.segment_samples, config.gain_range_db, rng,
                                 config.dither)
        return sampler, validation, "; ".join(described)

    def _default_validation(self, cancel: CancelToken) -> list[torch.Tensor]:
        if "vcc2016" not in self.config.sources:
            return []
        datasets_dir = self.datasets_dir or shared_datasets_dir()
        corpus = load_vcc2016(datasets_dir / "vcc2016_4spk", speakers=TRAINING_VCC_SPEAKERS)
        validation = vcc_split(corpus, self.config.seed)[1]
        # Two sentences per speaker keep the check under a second per checkpoint.
        chosen = SpeechCorpus(validation.name, validation.root,
                              {speaker: items[:2] for speaker, items in validation.speakers.items()})
        return decode_corpus(chosen, cancel)

    @staticmethod
    def _preview(networks: VocoderNetworks, samples: torch.Tensor) -> dict[str, Any]:
        with torch.no_grad():
            networks.generator.eval()
            fake = networks.generator(log_mel_spectrogram(samples)[None])[0, 0]
            networks.generator.train()
        return {"audio": fake.cpu().numpy(), "reference": samples.cpu().numpy(),
                "sample_rate_hz": SPEECH_MEL.sample_rate_hz}


def train_vocoder(config: VocoderTrainConfig, *, output_dir: Path | None = None,
                  initialize_from: Path | None = None, resume_from: Path | None = None,
                  on_event: Callable[[object], None] | None = None, cancel: CancelToken | None = None,
                  extra_metadata: Mapping[str, object] | None = None) -> VocoderTrainJob:
    """Run a vocoder training job in this thread and return it when finished.

    Raises:
        JobError: with the job's message when it fails.
    """
    job = VocoderTrainJob(config, output_dir=output_dir, initialize_from=initialize_from, resume_from=resume_from,
                          extra_metadata=extra_metadata)
    last = run_job(job, on_event or (lambda event: None), cancel)
    if isinstance(last, Failed):
        raise JobError(last.message)
    return job


def finetune_config(base: VocoderTrainConfig, folders: Sequence[str], steps: int,
                    keep_built_in: bool = True) -> VocoderTrainConfig:
    """Return ``base`` adjusted to fine-tune on ``folders`` of speakers, mixing in the built-in corpora.

    The user's folders get half of the sampling weight together, so the vocoder adapts to their
    voices without forgetting the others. Fine-tuning is adversarial from the first step.
    """
    if not folders:
        raise ValueError("finetune_config: give at least one folder of speakers.")
    sources = tuple(str(folder) for folder in folders)
    weights = tuple(0.5 / len(folders) for _ in folders) if keep_built_in else tuple(1.0 for _ in folders)
    if keep_built_in:
        built_in_total = sum(base.source_weights)
        sources = base.sources + sources
        weights = tuple(0.5 * weight / built_in_total for weight in base.source_weights) + weights
    return replace(base, sources=sources, source_weights=weights, steps=steps, adversarial_start_step=0,
                   warmup_learning_rate=base.generator_learning_rate / 2,
                   generator_learning_rate=base.generator_learning_rate / 2,
                   discriminator_learning_rate=base.discriminator_learning_rate / 2)
