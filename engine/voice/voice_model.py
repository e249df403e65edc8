"""Voice models: the config, the networks with their speakers and statistics, and model files.

A model file is a checkpoint (``engine.core.checkpoints``) of kind ``voice.multi_target`` or
``voice.cyclegan_vc``. Its JSON contains the config, the speakers with their log-F0 statistics, the
mel normalisation, the training data, the command, the hardware and the metrics.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from engine.audio.features import SPEECH_MEL
from engine.core.checkpoints import CheckpointError, checkpoint_paths, load_checkpoint, restore, save_checkpoint
from engine.core.paths import data_dir, resources_dir
from engine.voice.features import F0Statistics
from engine.voice.models import (CodeClassifier, ContentEncoder, GatedGenerator, PatchDiscriminator, Refiner,
                                 SpeakerDecoder)

logger = logging.getLogger(__name__)

METHODS = ("multi_target", "cyclegan_vc")
KINDS = {"multi_target": "voice.multi_target", "cyclegan_vc": "voice.cyclegan_vc"}
DEFAULT_MODEL_NAME = "default_multi_target"
SAMPLES_MODULE = "speaker_samples"


@dataclass(frozen=True)
class VoiceConfig:
    """Network sizes and training settings of a voice model."""

    method: str = "multi_target"
    channels: int = 128
    residual_blocks: int = 3
    code_dim: int = 32  # narrow, so the content code has little room for speaker identity
    embed_dim: int = 64
    crop_frames: int = 64  # about 1 s of 16 ms frames per training example
    batch_size: int = 8
    steps: int = 2000  # CycleGAN-VC steps, or multi-target stage-1 steps
    stage2_steps: int = 1000  # multi-target only
    learning_rate: float = 2e-4
    discriminator_learning_rate: float = 1e-4
    cycle_weight: float = 10.0  # the CycleGAN-VC weights: cycle 10, identity 5
    identity_weight: float = 5.0
    identity_steps: int = 10000  # CycleGAN-VC applies the identity loss only early in training
    # Weight of the encoder's loss for fooling the code classifier, reached linearly over classifier_ramp_steps.
    classifier_weight: float = 0.1
    classifier_ramp_steps: int = 500
    speaker_class_weight: float = 1.0  # stage 2: the refiner's loss for being classified as the target
    reconstruction_weight: float = 10.0  # stage 2: L1 of the refined reconstruction to the input
    checkpoint_every: int = 500
    metrics_every: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown voice conversion method {self.method!r}; expected one of {', '.join(METHODS)}.")
        for name in ("channels", "code_dim", "embed_dim", "crop_frames", "batch_size", "checkpoint_every",
                     "metrics_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"VoiceConfig.{name} must be positive, got {getattr(self, name)}.")
        if self.steps < 0 or self.stage2_steps < 0:
            raise ValueError(f"VoiceConfig: steps must not be negative, got {self.steps} and {self.stage2_steps}.")
        if self.crop_frames % 4:
            raise ValueError(f"VoiceConfig.crop_frames must be a multiple of 4, got {self.crop_frames}.")

    @property
    def total_steps(self) -> int:
        return self.steps + (self.stage2_steps if self.method == "multi_target" else 0)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VoiceConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def build_networks(config: VoiceConfig, speakers: int) -> dict[str, torch.nn.Module]:
    """Create the networks of ``config.method`` for ``speakers`` speakers (2 for CycleGAN-VC)."""
    mels = SPEECH_MEL.n_mels
    if config.method == "cyclegan_vc":
        return {
            "generator_xy": GatedGenerator(mels, config.channels, config.residual_blocks),
            "generator_yx": GatedGenerator(mels, config.channels, config.residual_blocks),
            "discriminator_x": PatchDiscriminator(mels, config.channels // 2),
            "discriminator_y": PatchDiscriminator(mels, config.channels // 2),
        }
    return {
        "encoder": ContentEncoder(mels, config.channels, config.code_dim, config.residual_blocks),
        "decoder": SpeakerDecoder(mels, speakers, config.channels, config.code_dim, config.embed_dim,
                                  config.residual_blocks),
        "code_classifier": CodeClassifier(speakers, config.code_dim, config.channels // 2),
        "refiner": Refiner(mels, speakers, config.channels, config.embed_dim, config.residual_blocks),
        "discriminator": PatchDiscriminator(mels, config.channels // 2, speakers),
    }


@dataclass
class VoiceModelInfo:
    """The summary of one installed model: name, file, method, speakers, training data, metrics and date."""

    name: str
    path: Path
    method: str
    speakers: list[str]
    training_data: str
    metrics: dict[str, Any]
    date: str
    shipped: bool


class VoiceModel:
    """A trained voice conversion model: networks, speakers, F0 statistics and mel normalisation."""

    def __init__(self, config: VoiceConfig, speakers: list[str], f0: Mapping[str, F0Statistics],
                 mel_mean: torch.Tensor, mel_std: torch.Tensor, networks: dict[str, torch.nn.Module] | None = None,
                 extra: Mapping[str, Any] | None = None, path: Path | None = None) -> None:
        if config.method == "cyclegan_vc" and len(speakers) != 2:
            raise ValueError(f"A CycleGAN-VC model converts between exactly 2 speakers, got {len(speakers)}.")
        self.config = config
        self.speakers = list(speakers)
        self.f0 = dict(f0)
        self.mel_mean = mel_mean.float()
        self.mel_std = mel_std.float()
        self.networks = networks if networks is not None else build_networks(config, len(speakers))
        self.extra = dict(extra or {})
        self.path = path
        # A held-in (mels, frames) log-mel per speaker, resynthesised by speaker_sample for listening.
        self.samples: dict[str, torch.Tensor] = {}
        for network in self.networks.values():
            network.eval()

    @property
    def method(self) -> str:
        return self.config.method

    @property
    def info(self) -> VoiceModelInfo:
        return model_info(self.path or Path(""), self.extra, self.method, self.speakers)

    @property
    def prior_f0(self) -> F0Statistics:
        """The average log-F0 statistics of the model's speakers, for inputs too short to measure."""
        values = list(self.f0.values())
        return F0Statistics(sum(v.log_mean for v in values) / len(values), sum(v.log_std for v in values) / len(values))

    def speaker_index(self, speaker: str) -> int:
        """Return the index of ``speaker``; raise ValueError listing the speakers when unknown."""
        if speaker not in self.speakers:
            raise ValueError(f"Unknown target speaker {speaker!r}; this model converts to {', '.join(self.speakers)}.")
        return self.speakers.index(speaker)

    def normalise(self, log_mel: torch.Tensor) -> torch.Tensor:
        return (log_mel - self.mel_mean[:, None]) / self.mel_std[:, None]

    def denormalise(self, normalised: torch.Tensor) -> torch.Tensor:
        return normalised * self.mel_std[:, None] + self.mel_mean[:, None]

    @torch.no_grad()
    def convert_normalised(self, x: torch.Tensor, target: str, stage: int = 2) -> torch.Tensor:
        """Convert (batch, mels, frames) normalised log-mels to ``target``; ``stage`` 1 skips the refiner.

        For CycleGAN-VC the target picks the generator (to the second speaker: G(X->Y)). ``stage`` 0
        returns the input unchanged, the F0-conversion-only baseline of the evaluation.
        """
        index = self.speaker_index(target)
        if stage == 0:
            return x
        if self.method == "cyclegan_vc":
            generator = self.networks["generator_xy" if index == 1 else "generator_yx"]
            return generator(x)
        speaker = torch.full((x.shape[0],), index, dtype=torch.long)
        frames = x.shape[-1]
        padded = torch.nn.functional.pad(x, (0, frames % 2), mode="replicate")
        decoded = self.networks["decoder"](self.networks["encoder"](padded), speaker, frames)
        if stage == 1 or not self.extra.get("stage2_trained", False):
            return decoded
        return self.networks["refiner"](decoded, speaker)

    def convert_log_mel(self, log_mel: torch.Tensor, target: str, stage: int = 2) -> torch.Tensor:
        """Convert one (mels, frames) natural-log mel to ``target`` and return the (mels, frames) result."""
        converted = self.convert_normalised(self.normalise(log_mel)[None], target, stage)[0]
        return self.denormalise(converted)

    def save(self, path: Path, step: int, optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
             metrics: Mapping[str, float] | None = None, extra: Mapping[str, Any] | None = None) -> Path:
        """Write the model atomically (weights, optimizer state when given, and the JSON) and return its path."""
        merged = {**self.extra, **(extra or {})}
        merged.update({
            "speakers": self.speakers,
            "f0": {name: stats.to_json() for name, stats in self.f0.items()},
            "mel_mean": [round(float(v), 6) for v in self.mel_mean],
            "mel_std": [round(float(v), 6) for v in self.mel_std],
        })
        self.extra = merged
        modules = dict(self.networks)
        if self.samples:
            merged["sample_speakers"] = list(self.samples)
            modules[SAMPLES_MODULE] = _SampleStore(list(self.samples.values()))
        return save_checkpoint(path, kind=KINDS[self.method], config=self.config.to_json(), step=step,
                               modules=modules, optimizers=optimizers, metrics=metrics, extra=merged)


class _SampleStore(torch.nn.Module):
    """Holds the speaker sample log-mels as buffers so they are saved with the weights."""

    def __init__(self, log_mels: list[torch.Tensor]) -> None:
        super().__init__()
        for index, log_mel in enumerate(log_mels):
            self.register_buffer(f"sample_{index}", log_mel.detach().float().contiguous())


def load_voice_model(path: Path | str) -> VoiceModel:
    """Load a voice model file (either file of the pair, its stem, or a run folder for its newest checkpoint).

    Raises:
        CheckpointError: when the file is missing, corrupt or not a voice model.
    """
    checkpoint = load_checkpoint(path)
    if checkpoint.kind not in KINDS.values():
        raise CheckpointError(f"{checkpoint.path} contains a {checkpoint.kind!r} model, not a voice model. "
                              "Pick a file trained with 'gan-studio-cli voice train'.")
    extra = checkpoint.extra
    try:
        config = VoiceConfig.from_json(checkpoint.config)
        speakers = list(extra["speakers"])
        f0 = {name: F0Statistics.from_json(stats) for name, stats in extra["f0"].items()}
        mel_mean = torch.tensor(extra["mel_mean"], dtype=torch.float32)
        mel_std = torch.tensor(extra["mel_std"], dtype=torch.float32)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path} lacks voice model metadata ({error}). Retrain or re-save it.") from error
    networks = build_networks(config, len(speakers))
    restore(checkpoint, networks)
    model = VoiceModel(config, speakers, f0, mel_mean, mel_std, networks, extra, checkpoint.path)
    stored = checkpoint.module_state(SAMPLES_MODULE)
    for index, speaker in enumerate(extra.get("sample_speakers", [])):
        if f"sample_{index}" in stored:
            model.samples[speaker] = stored[f"sample_{index}"]
    return model


def default_voice_model_path() -> Path:
    """Return the .safetensors file of the shipped multi-target model."""
    return resources_dir() / "models" / "voice" / f"{DEFAULT_MODEL_NAME}.safetensors"


def user_voice_models_dir() -> Path:
    """Return the folder of fine-tuned and user-trained voice models, creating it when needed."""
    folder = data_dir() / "voice"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def model_info(path: Path, extra: Mapping[str, Any], method: str, speakers: list[str]) -> VoiceModelInfo:
    return VoiceModelInfo(
        name=str(extra.get("name") or path.stem),
        path=path,
        method=method,
        speakers=list(speakers),
        training_data=str(extra.get("data", "")),
        metrics=dict(extra.get("evaluation", {})),
        date=str(extra.get("date", "")),
        shipped=resources_dir() in path.parents,
    )


def installed_voice_models() -> list[VoiceModelInfo]:
    """List the shipped voice models and those in the user folder, reading only their JSON files.

    Intermediate checkpoints (``step_*``) are left out. Unreadable JSON files are skipped with a log line.
    """
    folders = [resources_dir() / "models" / "voice", user_voice_models_dir()]
    found = []
    for folder in folders:
        for json_path in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
            weights, _ = checkpoint_paths(json_path)
            if not weights.is_file() or json_path.stem.startswith("step_"):
                continue  # intermediate checkpoints of a training or fine-tuning run are not listed
            try:
                sidecar = json.loads(json_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                logger.warning("Skipping voice model %s: %s", json_path, error)
                continue
            kind = sidecar.get("kind")
            if kind not in KINDS.values():
                continue
            method = next(name for name, value in KINDS.items() if value == kind)
            extra = sidecar.get("extra", {})
            found.append(model_info(weights, extra, method, list(extra.get("speakers", []))))
    return found
