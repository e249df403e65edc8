"""Fine-tuning: add a new speaker to a trained multi-target model without training from scratch.

Only the new speaker's two embedding rows (decoder and refiner) are trained, on reconstructions of
the new speaker's recordings through the frozen encoder, decoder and refiner. Every other weight
stays fixed, so the model converts to its old speakers exactly as before.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from engine.audio.io import READABLE_EXTENSIONS
from engine.core.checkpoints import load_checkpoint, restore
from engine.core.jobs import (CancelToken, CheckpointSaved, EventSink, Finished, JobError, Metrics, ProgressClock,
                              Sample, Started, check_finite)
from engine.core.seeding import seed_everything
from engine.vocoder.griffin_lim import GriffinLimVocoder
from engine.voice.data import CropSampler, load_speaker_data
from engine.voice.features import SAMPLE_RATE_HZ
from engine.voice.train import SAMPLE_FRAMES, describe_hardware
from engine.voice.voice_model import VoiceModel, build_networks, load_voice_model

logger = logging.getLogger(__name__)

RECOMMENDED_UTTERANCES = 20
EMBEDDING_LEARNING_RATE = 1e-2  # only two vectors are trained, so a high rate is stable
CROP_FRAMES = 64
BATCH_SIZE = 8
# Rows of these tensors are per speaker and get a new row; everything else is copied unchanged.
_SPEAKER_ROWS = ("decoder.embedding.weight", "refiner.embedding.weight", "code_classifier.head.weight",
                 "code_classifier.head.bias", "discriminator.speaker.weight", "discriminator.speaker.bias")


def audio_files(paths: Sequence[Path | str]) -> list[Path]:
    """Expand folders into their audio files (recursively, sorted) and check that files exist.

    Raises:
        JobError: when a path does not exist or no audio file is found.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in READABLE_EXTENSIONS
                                and not p.name.startswith(".")))
        elif path.is_file():
            found.append(path)
        else:
            raise JobError(f"Recording {path} not found. Pick existing audio files or a folder of them.")
    if not found:
        raise JobError(f"No audio files ({', '.join(READABLE_EXTENSIONS)}) in {', '.join(map(str, paths))}. "
                       f"Add about {RECOMMENDED_UTTERANCES} recordings of the new speaker.")
    return found


def extend_model(model: VoiceModel, speaker: str) -> VoiceModel:
    """Return a copy of ``model`` with one more speaker whose embedding rows start at the mean of the others."""
    networks = build_networks(model.config, len(model.speakers) + 1)
    for name, network in networks.items():
        state = {}
        for key, value in model.networks[name].state_dict().items():
            if f"{name}.{key}" in _SPEAKER_ROWS:
                value = torch.cat([value, value.mean(dim=0, keepdim=True)])
            state[key] = value
        network.load_state_dict(state)
    extended = VoiceModel(model.config, model.speakers + [speaker], model.f0, model.mel_mean, model.mel_std,
                          networks, dict(model.extra))
    extended.samples = dict(model.samples)
    return extended


class FineTuneJob:
    """Adds ``speaker_name`` to a multi-target model from a few recordings and saves a new model file.

    Events: Started, Progress, Metrics (losses), Sample ("voice_preview": a converted preview mel
    and audio every ``sample_every`` steps), CheckpointSaved, Finished with the new model's path.
    ``resume_from`` continues a fine-tuning checkpoint from ``output_dir``.
    """

    name = "voice fine-tuning"

    def __init__(self, model_path: Path, speaker_name: str, audio_paths: Sequence[Path | str], output_dir: Path,
                 steps: int = 300, sample_every: int = 100, checkpoint_every: int = 100,
                 resume_from: Path | None = None, seed: int = 0) -> None:
        if steps <= 0:
            raise ValueError(f"FineTuneJob: steps must be positive, got {steps}.")
        if not speaker_name.strip():
            raise ValueError("FineTuneJob: the new speaker needs a name.")
        self.model_path = Path(model_path)
        self.speaker_name = speaker_name.strip()
        self.audio_paths = list(audio_paths)
        self.output_dir = Path(output_dir)
        self.steps = steps
        self.sample_every = sample_every
        self.checkpoint_every = checkpoint_every
        self.resume_from = resume_from
        self.seed = seed
        self.result_path: Path | None = None
        self.warning: str | None = None

    def _prepare(self) -> tuple[VoiceModel, int]:
        if self.resume_from is not None:
            model = load_voice_model(self.resume_from)
            if self.speaker_name not in model.speakers:
                raise JobError(f"{self.resume_from} is not a fine-tuning checkpoint for {self.speaker_name!r}.")
            return model, load_checkpoint(self.resume_from).step
        base = load_voice_model(self.model_path)
        if base.method != "multi_target":
            raise JobError(f"{self.model_path} is a CycleGAN-VC model, which converts between 2 fixed speakers. "
                           "Fine-tune a multi-target model to add a speaker.")
        if self.speaker_name in base.speakers:
            raise JobError(f"{self.model_path} already has a speaker named {self.speaker_name!r}. Pick another name.")
        return extend_model(base, self.speaker_name), 0

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        files = audio_files(self.audio_paths)
        if len(files) < RECOMMENDED_UTTERANCES:
            self.warning = (f"Only {len(files)} recordings of {self.speaker_name}; about {RECOMMENDED_UTTERANCES} are "
                            "recommended, so the new voice may sound less like the speaker.")
            logger.warning(self.warning)
        sink(Started(self.name, self.steps, {"model": str(self.model_path), "speaker": self.speaker_name,
                                              "files": len(files), "warning": self.warning}))
        generator = seed_everything(self.seed)
        model, start_step = self._prepare()
        data = load_speaker_data({self.speaker_name: files}, cancel, model.mel_mean, model.mel_std)
        model.f0[self.speaker_name] = data.f0[self.speaker_name]
        model.samples[self.speaker_name] = data.log_mels[self.speaker_name][0][:, :SAMPLE_FRAMES]
        sampler = CropSampler([torch.cat(data.normalised(self.speaker_name), dim=-1)], CROP_FRAMES, generator)

        index = model.speaker_index(self.speaker_name)
        for network in model.networks.values():
            network.requires_grad_(False)
        rows = [model.networks["decoder"].embedding.weight, model.networks["refiner"].embedding.weight]
        mask = torch.zeros(len(model.speakers), 1)
        mask[index] = 1.0
        for row in rows:
            row.requires_grad_(True)
            row.register_hook(lambda grad: grad * mask)  # only the new speaker's row learns
        optimizer = torch.optim.Adam(rows, lr=EMBEDDING_LEARNING_RATE)
        if self.resume_from is not None:
            restore(load_checkpoint(self.resume_from), {}, {"embeddings": optimizer})

        clock = ProgressClock(self.steps, start_step)
        last_path: Path | None = None
        step = start_step
        while step < self.steps:
            cancel.wait_if_paused()
            if cancel.cancelled:
                break
            step += 1
            values = self._step(model, sampler, index, optimizer)
            check_finite(step, values, last_path)
            sink(Metrics(step, values))
            sink(clock.tick(step))
            if step % self.sample_every == 0 or step == self.steps:
                sink(self._preview(model, step))
            if step % self.checkpoint_every == 0 or step == self.steps:
                last_path = self._save(model, step, optimizer, len(files), self.output_dir / f"step_{step:06d}")
                sink(CheckpointSaved(step, last_path))

        if cancel.cancelled:
            sink(Finished({"checkpoint": str(last_path) if last_path else None}, cancelled=True))
            return
        stem = f"{self.model_path.stem}_{self.speaker_name}".replace(" ", "_")
        self.result_path = self._save(model, step, None, len(files), self.output_dir / stem)
        sink(Finished({"model": str(self.result_path), "speaker": self.speaker_name, "speakers": model.speakers,
                       "warning": self.warning}))

    def _step(self, model: VoiceModel, sampler: CropSampler, index: int, optimizer: torch.optim.Optimizer
              ) -> dict[str, float]:
        nets = model.networks
        x = sampler.sample(0, BATCH_SIZE)
        speaker = torch.full((BATCH_SIZE,), index, dtype=torch.long)
        with torch.no_grad():
            code = nets["encoder"](x)
        decoded = nets["decoder"](code, speaker, x.shape[-1])
        stage1 = F.l1_loss(decoded, x)
        stage2 = F.l1_loss(nets["refiner"](decoded.detach(), speaker), x)
        optimizer.zero_grad(set_to_none=True)
        (stage1 + stage2).backward()
        optimizer.step()
        return {"loss/reconstruction": float(stage1.detach()), "loss/refiner_reconstruction": float(stage2.detach())}

    @torch.no_grad()
    def _preview(self, model: VoiceModel, step: int) -> Sample:
        source = next(name for name in model.speakers if name != self.speaker_name and name in model.samples)
        converted = model.convert_log_mel(model.samples[source], self.speaker_name)
        audio = GriffinLimVocoder(iterations=16).synthesize(converted).numpy().astype(np.float32)
        return Sample(step, "voice_preview", {"source": source, "target": self.speaker_name,
                                              "converted_log_mel": converted.numpy(), "audio": audio,
                                              "sample_rate_hz": SAMPLE_RATE_HZ})

    def _save(self, model: VoiceModel, step: int, optimizer: torch.optim.Optimizer | None, files: int,
              stem: Path) -> Path:
        tuned = dict(model.extra.get("finetuned_speakers", {}))
        tuned[self.speaker_name] = {"files": files, "steps": step, "warning": self.warning}
        extra = {"finetuned_speakers": tuned, "name": stem.name, "hardware": describe_hardware(),
                 "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        return model.save(stem, step, {"embeddings": optimizer} if optimizer is not None else None, extra=extra)
