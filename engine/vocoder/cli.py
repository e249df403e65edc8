"""The ``gan-studio-cli vocoder`` commands: train, finetune, resynthesize and evaluate."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from engine.audio.features import SPEECH_MEL, log_mel_spectrogram
from engine.audio.io import load_audio, save_audio
from engine.core.checkpoints import load_checkpoint
from engine.core.console import EXIT_OK, ConsoleReporter, positive_int, run_in_console
from engine.core.device import DEVICE_CHOICES, PRECISION_CHOICES
from engine.vocoder.base import Vocoder
from engine.vocoder.griffin_lim import GriffinLimVocoder
from engine.vocoder.loading import bundled_vocoder_path, load_vocoder
from engine.vocoder.train import CHECKPOINT_KIND, VocoderTrainConfig, VocoderTrainJob, finetune_config

logger = logging.getLogger(__name__)

_DEFAULTS = VocoderTrainConfig()
DEFAULT_FINETUNE_STEPS = 1000


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``vocoder`` and its subcommands on the top-level parser's subparsers."""
    vocoder = subparsers.add_parser("vocoder", help="train, fine-tune, run and evaluate the GAN vocoder",
                                    description="Turn log-mel spectrograms (16 kHz, 80 mels, hop 256) back into "
                                                "speech with a GAN vocoder or Griffin-Lim.")
    commands = vocoder.add_subparsers(dest="vocoder_command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a GAN vocoder from scratch",
                                description="Train the GAN vocoder on built-in corpora (vcc2016, fsdd, synthetic) "
                                            "and folders of speakers (one subfolder of audio files per speaker).")
    train.add_argument("--sources", nargs="+", default=list(_DEFAULTS.sources), metavar="SOURCE",
                       help="built-in corpus names or speaker folders (default: %(default)s)")
    train.add_argument("--weights", nargs="+", type=float, metavar="W",
                       help="sampling weight of each source, in the order of --sources (default: equal, "
                            "or the built-in mix when --sources is left at its default)")
    train.add_argument("--steps", type=positive_int, default=_DEFAULTS.steps,
                       help="total training steps; a resumed run continues to it (default %(default)s)")
    train.add_argument("--adversarial-start-step", type=int, default=_DEFAULTS.adversarial_start_step,
                       help="steps trained with the mel, STFT and phase losses only, before the discriminators join "
                            "(default %(default)s)")
    train.add_argument("--batch-size", type=positive_int, default=_DEFAULTS.batch_size, help="crops per step")
    train.add_argument("--resume", type=Path, metavar="CKPT", help="continue from this checkpoint or run folder")
    _add_run_options(train)
    train.set_defaults(handler=train_command)

    finetune = commands.add_parser("finetune", help="adapt a trained vocoder to your speakers",
                                   description="Fine-tune a GAN vocoder on folders of speakers (one subfolder of "
                                               "audio files per speaker), mixed half and half with the built-in "
                                               "corpora so that other voices keep working.")
    finetune.add_argument("folders", nargs="+", type=Path, metavar="FOLDER", help="folders of speaker subfolders")
    finetune.add_argument("--checkpoint", type=Path, help="vocoder to start from (default: the bundled one)")
    finetune.add_argument("--steps", type=positive_int, default=DEFAULT_FINETUNE_STEPS,
                          help="fine-tuning steps (default %(default)s)")
    finetune.add_argument("--only-mine", action="store_true", help="train on the given folders only")
    _add_run_options(finetune)
    finetune.set_defaults(handler=finetune_command)

    resynthesize = commands.add_parser("resynthesize", help="turn audio into mels and back",
                                       description="Compute the log-mels of an audio file and synthesize them again, "
                                                   "to hear what the vocoder keeps.")
    resynthesize.add_argument("input", type=Path, help="audio file (any rate; it is resampled to 16 kHz)")
    resynthesize.add_argument("--output", type=Path, required=True, help="WAV or FLAC file to write")
    resynthesize.add_argument("--vocoder", choices=("gan", "griffin-lim"), default="gan", help="vocoder (default gan)")
    resynthesize.add_argument("--checkpoint", type=Path, help="GAN vocoder checkpoint (default: the bundled one)")
    resynthesize.set_defaults(handler=resynthesize_command)

    evaluate = commands.add_parser("evaluate", help="PESQ and STOI on held-out speech beside Griffin-Lim",
                                   description="Resynthesize held-out VCC 2016 speech (speaker TF2 and unseen "
                                               "sentences of the training speakers) and print wide-band PESQ and "
                                               "STOI of the GAN vocoder and Griffin-Lim as JSON.")
    evaluate.add_argument("--checkpoint", type=Path, help="GAN vocoder checkpoint (default: the bundled one)")
    evaluate.add_argument("--per-speaker", type=positive_int, help="test sentences per speaker (default: all 16)")
    evaluate.set_defaults(handler=evaluate_command)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="checkpoint folder (default: a new folder in the user data folder)")
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="random seed (default %(default)s)")
    parser.add_argument("--checkpoint-every", type=positive_int, default=_DEFAULTS.checkpoint_every,
                        help="steps between checkpoints (default %(default)s)")
    parser.add_argument("--time-limit-min", type=float, help="stop and save after this many minutes of training")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default=_DEFAULTS.device, help="compute device")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default=_DEFAULTS.precision, help="numeric precision")


def _source_weights(sources: list[str], weights: list[float] | None) -> tuple[float, ...]:
    if weights is not None:
        if len(weights) != len(sources):
            raise ValueError(f"--weights needs one value per source: {len(sources)} sources {sources}, "
                             f"got {len(weights)} weights.")
        return tuple(weights)
    if tuple(sources) == _DEFAULTS.sources:
        return _DEFAULTS.source_weights
    return tuple(1.0 for _ in sources)


def _run_settings(args: argparse.Namespace) -> dict[str, object]:
    return {"seed": args.seed, "checkpoint_every": args.checkpoint_every, "device": args.device,
            "precision": args.precision,
            "time_limit_s": args.time_limit_min * 60 if args.time_limit_min is not None else None}


def _command_line() -> dict[str, object]:
    return {"command": " ".join(["gan-studio-cli"] + sys.argv[1:])}


def train_command(args: argparse.Namespace) -> int:
    config = replace(_DEFAULTS, sources=tuple(args.sources), source_weights=_source_weights(args.sources, args.weights),
                     steps=args.steps, adversarial_start_step=args.adversarial_start_step,
                     batch_size=args.batch_size, **_run_settings(args))
    if args.resume is not None:
        saved = VocoderTrainConfig.from_json(load_checkpoint(args.resume, expected_kind=CHECKPOINT_KIND).config)
        # The networks' shapes come from the checkpoint, and the schedule and run settings from the command line.
        config = replace(config, generator=saved.generator, discriminator=saved.discriminator)
    job = VocoderTrainJob(config, output_dir=args.out, resume_from=args.resume, extra_metadata=_command_line())
    return run_in_console(job, ConsoleReporter())


def finetune_command(args: argparse.Namespace) -> int:
    start = args.checkpoint or bundled_vocoder_path()
    if not Path(start).exists():
        raise ValueError(f"No vocoder to fine-tune: {start} does not exist. Pass --checkpoint CKPT, or train one "
                         "with 'gan-studio-cli vocoder train'.")
    base = VocoderTrainConfig.from_json(load_checkpoint(start, expected_kind=CHECKPOINT_KIND).config)
    for folder in args.folders:
        if not folder.is_dir():
            raise ValueError(f"Speaker folder {folder} not found. Pass a folder that contains one subfolder of audio "
                             "files per speaker.")
    config = finetune_config(replace(base, **_run_settings(args)), [str(folder) for folder in args.folders],
                             args.steps, keep_built_in=not args.only_mine)
    job = VocoderTrainJob(config, output_dir=args.out, initialize_from=Path(start), extra_metadata=_command_line())
    return run_in_console(job, ConsoleReporter())


def _gan_checkpoint(args: argparse.Namespace) -> Path:
    if args.checkpoint is not None:
        return args.checkpoint
    bundled = bundled_vocoder_path()
    if not bundled.is_file():
        raise ValueError(f"The bundled GAN vocoder {bundled} is missing; pass --checkpoint CKPT or train one with "
                         "'gan-studio-cli vocoder train'.")
    return bundled


def resynthesize_command(args: argparse.Namespace) -> int:
    vocoder: Vocoder = GriffinLimVocoder() if args.vocoder == "griffin-lim" else load_vocoder(_gan_checkpoint(args))
    samples = load_audio(args.input, mono=True, sample_rate_hz=SPEECH_MEL.sample_rate_hz).samples[0]
    audio = vocoder.synthesize(log_mel_spectrogram(samples, SPEECH_MEL))
    written = save_audio(args.output, audio.clamp(-1.0, 1.0), SPEECH_MEL.sample_rate_hz)
    print(json.dumps({"input": str(args.input), "output": str(written), "vocoder": vocoder.name,
                      "duration_s": audio.shape[-1] / SPEECH_MEL.sample_rate_hz}))
    return EXIT_OK


def evaluate_command(args: argparse.Namespace) -> int:
    # Imported here because PESQ and STOI load only for this command.
    from engine.vocoder.evaluate import evaluate_vocoders

    checkpoint = _gan_checkpoint(args)
    report = {"checkpoint": str(checkpoint), **evaluate_vocoders(checkpoint, per_speaker=args.per_speaker)}
    print(json.dumps(report, indent=2))
    return EXIT_OK
