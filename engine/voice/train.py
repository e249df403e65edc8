"""Training jobs for CycleGAN-VC and the two-stage multi-target model.

CycleGAN-VC (Kaneko and Kameoka, 2017): generators G(X->Y) and G(Y->X) and discriminators D(X), D(Y)
trained with least-squares adversarial, cycle-consistency and identity losses.

Multi-target (after Chou et al., 2018): stage 1 trains a shared encoder, a speaker-conditioned decoder
and a speaker classifier on the encoder's code, which the encoder learns to fool, so the code keeps
content and drops speaker identity. Stage 2 freezes them and trains a refiner on the decoder's output
for random target speakers, against a discriminator that scores real/generated and classifies the speaker.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch.nn import functional as F

from engine.core.checkpoints import load_checkpoint, restore
from engine.core.jobs import (CancelToken, CheckpointSaved, EventSink, Finished, JobError, Metrics, ProgressClock,
                              Sample, Started, check_finite)
from engine.core.seeding import seed_everything
from engine.voice.data import CropSampler, SpeakerData, load_speaker_data
from engine.voice.features import F0Statistics
from engine.voice.voice_model import KINDS, VoiceConfig, VoiceModel

logger = logging.getLogger(__name__)

ADAM_BETAS = (0.5, 0.999)  # the usual GAN setting, as in CycleGAN-VC
SAMPLE_FRAMES = 188  # about 3 s of each speaker's first held-in utterance is stored for listening


def describe_hardware() -> str:
    """Return a one-line description of the CPU or GPU and the thread count, for model JSON files."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads, fp32"


def _adam(modules: Sequence[torch.nn.Module], learning_rate: float) -> torch.optim.Adam:
    params = [param for module in modules for param in module.parameters() if param.requires_grad]
    return torch.optim.Adam(params, lr=learning_rate, betas=ADAM_BETAS)


def _lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))


def _floats(values: Mapping[str, torch.Tensor | float]) -> dict[str, float]:
    return {key: float(value.detach()) if torch.is_tensor(value) else float(value) for key, value in values.items()}


class CycleTrainer:
    """One CycleGAN-VC update per step: both generators, then both discriminators."""

    def __init__(self, model: VoiceModel, data: SpeakerData, generator: torch.Generator) -> None:
        config, nets = model.config, model.networks
        self.config, self.nets = config, nets
        streams = [torch.cat(data.normalised(speaker), dim=-1) for speaker in model.speakers]
        self.sampler = CropSampler(streams, config.crop_frames, generator)
        self.optimizers = {
            "generators": _adam([nets["generator_xy"], nets["generator_yx"]], config.learning_rate),
            "discriminators": _adam([nets["discriminator_x"], nets["discriminator_y"]],
                                    config.discriminator_learning_rate),
        }

    def step(self, step: int) -> dict[str, float]:
        config, nets = self.config, self.nets
        x = self.sampler.sample(0, config.batch_size)
        y = self.sampler.sample(1, config.batch_size)
        g_xy, g_yx, d_x, d_y = nets["generator_xy"], nets["generator_yx"], nets["discriminator_x"], nets["discriminator_y"]

        fake_y, fake_x = g_xy(x), g_yx(y)
        adversarial = _lsgan(d_y(fake_y)[0], True) + _lsgan(d_x(fake_x)[0], True)
        cycle = F.l1_loss(g_yx(fake_y), x) + F.l1_loss(g_xy(fake_x), y)
        identity_weight = config.identity_weight if step <= config.identity_steps else 0.0
        identity = F.l1_loss(g_xy(y), y) + F.l1_loss(g_yx(x), x) if identity_weight else torch.zeros(())
        loss_g = adversarial + config.cycle_weight * cycle + identity_weight * identity
        self.optimizers["generators"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["generators"].step()

        loss_d = (_lsgan(d_y(y)[0], True) + _lsgan(d_y(fake_y.detach())[0], False)
                  + _lsgan(d_x(x)[0], True) + _lsgan(d_x(fake_x.detach())[0], False)) / 2
        self.optimizers["discriminators"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["discriminators"].step()
        return _floats({"loss/g_adversarial": adversarial, "loss/cycle": cycle, "loss/identity": identity,
                        "loss/d": loss_d})


class MultiTargetTrainer:
    """Stage-1 (auto-encoder against a code classifier) and stage-2 (refiner against a discriminator) updates."""

    def __init__(self, model: VoiceModel, data: SpeakerData, generator: torch.Generator) -> None:
        config, nets = model.config, model.networks
        self.config, self.nets, self.generator = config, nets, generator
        streams = [torch.cat(data.normalised(speaker), dim=-1) for speaker in model.speakers]
        self.sampler = CropSampler(streams, config.crop_frames, generator)
        self.speakers = len(model.speakers)
        self.optimizers = {
            "autoencoder": _adam([nets["encoder"], nets["decoder"]], config.learning_rate),
            "code_classifier": _adam([nets["code_classifier"]], config.learning_rate),
            "refiner": _adam([nets["refiner"]], config.learning_rate),
            "discriminator": _adam([nets["discriminator"]], config.discriminator_learning_rate),
        }

    def step(self, step: int) -> dict[str, float]:
        return self._stage1(step) if step <= self.config.steps else self._stage2()

    def _stage1(self, step: int) -> dict[str, float]:
        config, nets = self.config, self.nets
        x, speaker = self.sampler.batch(config.batch_size)
        code = nets["encoder"](x)

        logits = nets["code_classifier"](code.detach())
        loss_classifier = F.cross_entropy(logits, speaker)
        self.optimizers["code_classifier"].zero_grad(set_to_none=True)
        loss_classifier.backward()
        self.optimizers["code_classifier"].step()

        reconstruction = F.l1_loss(nets["decoder"](code, speaker, x.shape[-1]), x)
        # Cross-entropy against the uniform distribution: lowest when the classifier cannot tell speakers apart.
        confusion = -F.log_softmax(nets["code_classifier"](code), dim=-1).mean()
        weight = config.classifier_weight * min(1.0, step / max(1, config.classifier_ramp_steps))
        loss = reconstruction + weight * confusion
        self.optimizers["autoencoder"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["autoencoder"].step()
        accuracy = float((logits.argmax(dim=-1) == speaker).float().mean())
        return _floats({"loss/reconstruction": reconstruction, "loss/code_classifier": loss_classifier,
                        "loss/confusion": confusion, "accuracy/code_classifier": accuracy})

    def _stage2(self) -> dict[str, float]:
        config, nets = self.config, self.nets
        x, speaker = self.sampler.batch(config.batch_size)
        target = torch.randint(0, self.speakers, speaker.shape, generator=self.generator)
        with torch.no_grad():
            code = nets["encoder"](x)
            decoded_target = nets["decoder"](code, target, x.shape[-1])
            decoded_source = nets["decoder"](code, speaker, x.shape[-1])

        fake = nets["refiner"](decoded_target, target)
        real_scores, real_logits = nets["discriminator"](x)
        fake_scores, _ = nets["discriminator"](fake.detach())
        loss_d = _lsgan(real_scores, True) + _lsgan(fake_scores, False) + F.cross_entropy(real_logits, speaker)
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["discriminator"].step()

        fake_scores, fake_logits = nets["discriminator"](fake)
        adversarial = _lsgan(fake_scores, True)
        classification = F.cross_entropy(fake_logits, target)
        reconstruction = F.l1_loss(nets["refiner"](decoded_source, speaker), x)
        loss_r = adversarial + config.speaker_class_weight * classification + config.reconstruction_weight * reconstruction
        self.optimizers["refiner"].zero_grad(set_to_none=True)
        loss_r.backward()
        self.optimizers["refiner"].step()
        accuracy = float((real_logits.argmax(dim=-1) == speaker).float().mean())
        return _floats({"loss/d": loss_d, "loss/refiner_adversarial": adversarial,
                        "loss/refiner_speaker": classification, "loss/refiner_reconstruction": reconstruction,
                        "accuracy/discriminator_speaker": accuracy})


@dataclass
class TrainResult:
    model: VoiceModel
    path: Path
    step: int
    wall_time_s: float


class VoiceTrainJob:
    """Trains a voice model on per-speaker audio files and writes checkpoints into ``output_dir``.

    For CycleGAN-VC the first speaker of ``files`` is X and the second Y. ``data`` may pass
    pre-analysed audio (the tests share it between models). A resumed run continues up to
    ``config.total_steps`` with the checkpoint's speakers and mel normalisation.
    """

    name = "voice training"

    def __init__(self, config: VoiceConfig, files: Mapping[str, Sequence[Path | str]], output_dir: Path,
                 resume_from: Path | None = None, extra_metadata: Mapping[str, Any] | None = None,
                 data: SpeakerData | None = None) -> None:
        if config.method == "cyclegan_vc" and len(files) != 2:
            raise ValueError(f"CycleGAN-VC trains on exactly 2 speakers (X and Y), got {len(files)}: "
                             f"{', '.join(files)}.")
        if config.method == "multi_target" and len(files) < 2:
            raise ValueError(f"A multi-target model needs at least 2 speakers, got {len(files)}.")
        self.config = config
        self.files = dict(files)
        self.output_dir = Path(output_dir)
        self.resume_from = resume_from
        self.extra_metadata = dict(extra_metadata or {})
        self.data = data
        self.result: TrainResult | None = None

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        config = self.config
        started = time.perf_counter()
        generator = seed_everything(config.seed)
        sink(Started(self.name, config.total_steps, config.to_json()))
        data = self.data or load_speaker_data(self.files, cancel)
        extra = {**self.extra_metadata, "sources": data.sources, "stage2_trained": False}
        model = VoiceModel(config, data.speakers, data.f0, data.mel_mean, data.mel_std, extra=extra)
        model.samples = {speaker: data.log_mels[speaker][0][:, :SAMPLE_FRAMES] for speaker in data.speakers}
        model.extra["sample_sources"] = {speaker: data.sources[speaker][0] for speaker in data.speakers}
        start_step = self._resume(model) if self.resume_from is not None else 0
        data.mel_mean, data.mel_std = model.mel_mean, model.mel_std

        trainer = CycleTrainer(model, data, generator) if config.method == "cyclegan_vc" else \
            MultiTargetTrainer(model, data, generator)
        if self.resume_from is not None:
            restore(load_checkpoint(self.resume_from), {}, trainer.optimizers)
        for network in model.networks.values():
            network.train()

        clock = ProgressClock(config.total_steps, start_step)
        last_path: Path | None = None
        step = start_step
        preview = data.normalised(data.speakers[0])[0]
        while step < config.total_steps:
            cancel.wait_if_paused()
            if cancel.cancelled:
                break
            step += 1
            values = trainer.step(step)
            values["time/step"] = clock.tick(step).steps_per_s or 0.0
            check_finite(step, values, last_path)
            if config.method == "multi_target" and step > config.steps:
                model.extra["stage2_trained"] = True
            if step % config.metrics_every == 0 or step == config.total_steps:
                sink(Metrics(step, values))
            sink(clock.tick(step))
            if step % config.checkpoint_every == 0 or step == config.total_steps:
                last_path = self._save(model, trainer, step, started)
                sink(CheckpointSaved(step, last_path))
                sink(self._preview(model, preview, step))
                for network in model.networks.values():
                    network.train()

        if cancel.cancelled and step > start_step and (last_path is None or not last_path.stem.endswith(f"{step:06d}")):
            last_path = self._save(model, trainer, step, started)
            sink(CheckpointSaved(step, last_path))
        for network in model.networks.values():
            network.eval()
        if last_path is None:
            raise JobError(f"Voice training stopped before its first step; nothing was saved in {self.output_dir}.")
        self.result = TrainResult(model, last_path, step, time.perf_counter() - started)
        sink(Finished({"model": str(last_path), "step": step, "speakers": model.speakers},
                      cancelled=cancel.cancelled))

    def _resume(self, model: VoiceModel) -> int:
        checkpoint = load_checkpoint(self.resume_from, expected_kind=KINDS[self.config.method])
        saved_speakers = checkpoint.extra.get("speakers", [])
        if saved_speakers != model.speakers:
            raise JobError(f"{checkpoint.path} was trained on speakers {', '.join(saved_speakers)}, but this run has "
                           f"{', '.join(model.speakers)}. Resume with the same speakers or start a new run.")
        restore(checkpoint, model.networks)
        model.mel_mean = torch.tensor(checkpoint.extra["mel_mean"])
        model.mel_std = torch.tensor(checkpoint.extra["mel_std"])
        model.f0 = {name: F0Statistics.from_json(value) for name, value in checkpoint.extra["f0"].items()}
        model.extra["stage2_trained"] = bool(checkpoint.extra.get("stage2_trained", False))
        logger.info("Resuming %s from step %d", checkpoint.path, checkpoint.step)
        return checkpoint.step

    def _save(self, model: VoiceModel, trainer: CycleTrainer | MultiTargetTrainer, step: int, started: float) -> Path:
        for network in model.networks.values():
            network.eval()
        extra = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "hardware": describe_hardware(),
                 "training_time_s": round(time.perf_counter() - started, 1)}
        return model.save(self.output_dir / f"step_{step:06d}", step, trainer.optimizers, extra=extra)

    @torch.no_grad()
    def _preview(self, model: VoiceModel, normalised: torch.Tensor, step: int) -> Sample:
        target = model.speakers[-1]
        converted = model.convert_normalised(normalised[None], target)[0]
        return Sample(step, "voice_mel", {"source_log_mel": model.denormalise(normalised).numpy(),
                                          "converted_log_mel": model.denormalise(converted).numpy(),
                                          "target": target})
