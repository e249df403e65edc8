"""The ``gan-studio-cli voice`` commands: train, finetune, convert and evaluate voice conversion models."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from engine.audio.io import READABLE_EXTENSIONS
from engine.core.console import EXIT_FAILED, EXIT_OK, ConsoleReporter, positive_int, run_in_console
from engine.voice.convert import VOCODERS, ConvertJob
from engine.voice.data import DATA_SOURCES, corpus_for, training_files
from engine.voice.finetune import FineTuneJob
from engine.voice.train import VoiceTrainJob
from engine.voice.voice_model import METHODS, VoiceConfig, default_voice_model_path, load_voice_model

logger = logging.getLogger(__name__)


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``voice`` and its subcommands on the top-level parser's subparsers."""
    voice = subparsers.add_parser("voice", help="non-parallel voice conversion",
                                  description="Train, fine-tune, apply and evaluate voice conversion models.")
    commands = voice.add_subparsers(dest="voice_command", required=True, metavar="COMMAND")
    defaults = VoiceConfig()

    train = commands.add_parser("train", help="train a CycleGAN-VC or multi-target model",
                                description="Train on the held-in 80 %% of each speaker's recordings.")
    train.add_argument("--method", choices=METHODS, default=defaults.method, help="conversion method")
    train.add_argument("--data", choices=DATA_SOURCES, default="vcc2016",
                       help="corpus: VCC 2016 or FSDD from the shared data sets, the synthetic corpus, or --folder")
    train.add_argument("--folder", type=Path, help="corpus folder (one subfolder of recordings per speaker)")
    train.add_argument("--speakers", nargs="+", help="speakers to train on (CycleGAN-VC: exactly 2, X then Y)")
    train.add_argument("--max-files", type=positive_int, help="at most this many recordings per speaker")
    train.add_argument("--steps", type=positive_int, help=f"CycleGAN-VC or stage-1 steps (default {defaults.steps})")
    train.add_argument("--stage2-steps", type=int, help=f"multi-target stage-2 steps (default {defaults.stage2_steps})")
    train.add_argument("--channels", type=positive_int, help=f"network width (default {defaults.channels})")
    train.add_argument("--batch-size", type=positive_int, help=f"crops per step (default {defaults.batch_size})")
    train.add_argument("--learning-rate", type=float, help=f"generator Adam learning rate (default {defaults.learning_rate})")
    train.add_argument("--seed", type=int, help=f"random seed (default {defaults.seed})")
    train.add_argument("--out", type=Path, required=True, help="folder for the checkpoints")
    train.add_argument("--resume", type=Path, metavar="CKPT", help="continue from this checkpoint or run folder")
    train.set_defaults(handler=train_command)

    finetune = commands.add_parser("finetune", help="add a new speaker to a multi-target model",
                                   description="Learn a new speaker from about 20 recordings (fewer work, with a warning).")
    finetune.add_argument("audio", nargs="+", type=Path, help="recordings of the new speaker, or a folder of them")
    finetune.add_argument("--speaker", required=True, help="name of the new speaker")
    finetune.add_argument("--model", type=Path, help="model to extend (default: the shipped model)")
    finetune.add_argument("--steps", type=positive_int, default=300, help="training steps (default 300)")
    finetune.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the new model")
    finetune.add_argument("--resume", type=Path, metavar="CKPT", help="continue a fine-tuning checkpoint")
    finetune.set_defaults(handler=finetune_command)

    convert = commands.add_parser("convert", help="convert a file or a folder of files to a target speaker",
                                  description="Write converted audio at each input's sample rate.")
    convert.add_argument("input", type=Path, help="an audio file or a folder of audio files")
    convert.add_argument("--target", required=True, help="target speaker name (list them with 'voice speakers')")
    convert.add_argument("--out", type=Path, required=True, help="output file, or folder when the input is a folder")
    convert.add_argument("--model", type=Path, help="voice model (default: the shipped model)")
    convert.add_argument("--pitch-shift", type=float, default=0.0, help="extra pitch shift in semitones")
    convert.add_argument("--vocoder", choices=VOCODERS, default="gan", help="vocoder (gan falls back to griffin-lim)")
    convert.add_argument("--stage", type=int, choices=(1, 2), default=2, help="multi-target: 1 skips the refiner")
    convert.set_defaults(handler=convert_command)

    speakers = commands.add_parser("speakers", help="list the speakers of a model")
    speakers.add_argument("--model", type=Path, help="voice model (default: the shipped model)")
    speakers.set_defaults(handler=speakers_command)

    evaluate = commands.add_parser("evaluate", help="score a model on real speech (VCC 2016 or FSDD)",
                                   description="Print conversion success, digit accuracy and MCD with chance levels as JSON.")
    evaluate.add_argument("--model", type=Path, help="voice model (default: the shipped model)")
    evaluate.add_argument("--data", choices=("vcc2016", "fsdd"), default="vcc2016", help="evaluation corpus")
    evaluate.add_argument("--pairs", nargs="+", default=["SF1:TM3", "TM3:SF1"],
                          help="VCC 2016 SOURCE:TARGET pairs (default SF1:TM3 TM3:SF1)")
    evaluate.add_argument("--utterances", type=positive_int, default=10,
                          help="held-out utterances per pair (VCC) or per speaker (FSDD), default 10")
    evaluate.set_defaults(handler=evaluate_command)


def _model_path(path: Path | None) -> Path:
    if path is not None:
        return path
    default = default_voice_model_path()
    if not default.is_file():
        raise ValueError(f"The shipped voice model {default} is missing; pass --model or train one with "
                         "'gan-studio-cli voice train'.")
    return default


def train_command(args: argparse.Namespace) -> int:
    overrides = {name: getattr(args, name) for name in ("steps", "stage2_steps", "channels", "batch_size",
                                                         "learning_rate", "seed") if getattr(args, name) is not None}
    config = replace(VoiceConfig(method=args.method), **overrides)
    corpus = corpus_for(args.data, args.folder)
    files = training_files(corpus, args.speakers, args.max_files)
    command = " ".join(["gan-studio-cli"] + sys.argv[1:])
    data_note = f"{corpus.name} ({corpus.root}), speakers {', '.join(files)}, held-in 80 % of each speaker's files"
    job = VoiceTrainJob(config, files, args.out, resume_from=args.resume,
                        extra_metadata={"command": command, "data": data_note})
    return run_in_console(job, ConsoleReporter())


def finetune_command(args: argparse.Namespace) -> int:
    job = FineTuneJob(_model_path(args.model), args.speaker, args.audio, args.out, steps=args.steps,
                      resume_from=args.resume)
    return run_in_console(job, ConsoleReporter())


def convert_command(args: argparse.Namespace) -> int:
    model = _model_path(args.model)
    if args.input.is_dir():
        inputs = sorted(p for p in args.input.rglob("*") if p.suffix.lower() in READABLE_EXTENSIONS)
        if not inputs:
            raise ValueError(f"No audio files ({', '.join(READABLE_EXTENSIONS)}) in {args.input}.")
        outputs = [args.out / path.relative_to(args.input).with_suffix(".wav") for path in inputs]
    else:
        inputs, outputs = [args.input], [args.out]
    reporter = ConsoleReporter(progress_bar=len(inputs) == 1)
    failures = 0
    for source, output in zip(inputs, outputs):
        output.parent.mkdir(parents=True, exist_ok=True)
        job = ConvertJob(source, args.target, output, model, args.pitch_shift, args.vocoder, args.stage)
        failures += run_in_console(job, reporter) != EXIT_OK
    return EXIT_FAILED if failures else EXIT_OK


def speakers_command(args: argparse.Namespace) -> int:
    model = load_voice_model(_model_path(args.model))
    print(json.dumps({"model": str(model.path), "method": model.method, "speakers": model.speakers}, indent=2))
    return EXIT_OK


def evaluate_command(args: argparse.Namespace) -> int:
    from engine.data.speech_corpora import load_fsdd, load_vcc2016
    from engine.voice.evaluate import fsdd_benchmark, vcc_benchmark

    model = load_voice_model(_model_path(args.model))
    if args.data == "fsdd":
        report = fsdd_benchmark(model, load_fsdd(), utterances_per_speaker=args.utterances)
    else:
        pairs = []
        for text in args.pairs:
            source, _, target = text.partition(":")
            if not source or not target:
                raise ValueError(f"Invalid pair {text!r}; write SOURCE:TARGET, such as SF1:TM3.")
            pairs.append((source, target))
        report = vcc_benchmark(model, load_vcc2016(), pairs, utterances_per_pair=args.utterances)
    print(json.dumps({"model": str(model.path), "method": model.method, **report}, indent=2))
    return EXIT_OK
