"""The ``gan-studio-cli text`` commands: train, transfer and evaluate sentiment transfer models."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from engine.core.checkpoints import load_checkpoint
from engine.core.console import EXIT_OK, ConsoleReporter, run_in_console
from engine.core.device import DEVICE_CHOICES, PRECISION_CHOICES
from engine.core.paths import shared_datasets_dir
from engine.data.text_corpora import CorpusError, read_sentence_file, tokenize
from engine.text_style.candidates import DEFAULT_TEMPERATURE, MAX_CANDIDATES, load_scoring_classifier, rewrite_candidates
from engine.text_style.config import DATA_SOURCES, METHODS, RELAXATIONS, TextStyleConfig
from engine.text_style.default_model import DEFAULT_PRESETS, bundled_model_path
from engine.text_style.evaluate import build_evaluator, copy_transfer
from engine.text_style.train import TextStyleTrainJob, load_corpus
from engine.text_style.transfer import direction_label, model_from_checkpoint

logger = logging.getLogger(__name__)

# Options that shape the networks or the vocabulary; a resumed run keeps the checkpoint's values.
_FIXED_ON_RESUME = ("method", "data", "files", "max_tokens", "min_count", "max_vocab", "embed_dim", "hidden_dim",
                    "style_dim", "content_dim", "critic_filters")


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``text`` and its subcommands on the top-level parser's subparsers."""
    text = subparsers.add_parser("text", help="non-parallel sentiment (text style) transfer",
                                 description="Train, apply and evaluate sentiment transfer models.")
    commands = text.add_subparsers(dest="text_command", required=True, metavar="COMMAND")
    defaults = TextStyleConfig()

    train = commands.add_parser("train", help="train a style transfer model",
                                description="Train a direct-transformation or cross-aligned model on two style corpora.")
    train.add_argument("--method", choices=METHODS, help=f"training method (default {defaults.method})")
    train.add_argument("--preset", choices=sorted(DEFAULT_PRESETS),
                       help="start from the settings the bundled Yelp model of this method was trained with. "
                            "The other options change single settings of it.")
    train.add_argument("--data", choices=DATA_SOURCES, help=f"corpus (default {defaults.data}); 'files' needs --style0/--style1")
    train.add_argument("--style0", type=Path, help="text file of style-0 (negative) sentences, one per line")
    train.add_argument("--style1", type=Path, help="text file of style-1 (positive) sentences, one per line")
    train.add_argument("--steps", type=int, help=f"total training steps (default {defaults.steps})")
    train.add_argument("--batch-size", type=int, help=f"sentences per style per step (default {defaults.batch_size})")
    train.add_argument("--max-tokens", type=int, help=f"longest training sentence in tokens (default {defaults.max_tokens})")
    train.add_argument("--min-count", type=int, help=f"rarer words become <unk> (default {defaults.min_count})")
    train.add_argument("--relaxation", choices=RELAXATIONS, help=f"direct method: discrete-output relaxation (default {defaults.relaxation})")
    train.add_argument("--learning-rate", type=float, help=f"generator Adam learning rate (default {defaults.learning_rate})")
    train.add_argument("--seed", type=int, help=f"random seed (default {defaults.seed})")
    train.add_argument("--device", choices=DEVICE_CHOICES, help=f"compute device (default {defaults.device})")
    train.add_argument("--precision", choices=PRECISION_CHOICES, help=f"numeric precision (default {defaults.precision})")
    train.add_argument("--out", type=Path, required=True, help="folder for the checkpoints")
    train.add_argument("--resume", type=Path, metavar="CKPT", help="continue from this checkpoint")
    train.add_argument("--checkpoint-every", type=int, help=f"save a checkpoint every N steps (default {defaults.checkpoint_every})")
    train.set_defaults(handler=train_command)

    transfer = commands.add_parser("transfer", help="rewrite sentences into the other style",
                                   description="Rewrite sentences (arguments, --input file, or stdin) into the other style.")
    transfer.add_argument("sentences", nargs="*", help="sentences to rewrite; none reads --input or stdin")
    transfer.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the bundled Yelp model)")
    transfer.add_argument("--from-style", type=int, choices=(0, 1), required=True,
                          help="style of the input sentences: 0 negative, 1 positive")
    transfer.add_argument("--input", type=Path, help="text file with one sentence per line")
    transfer.add_argument("--device", choices=DEVICE_CHOICES, default="cpu", help="compute device (default cpu)")
    transfer.add_argument("--candidates", type=int, metavar="N",
                          help=f"print N rewrites per sentence (1 to {MAX_CANDIDATES}), the greedy one and sampled "
                               "ones, each with the classifier's probability of the target style, highest first")
    transfer.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE,
                          help=f"softmax temperature of the sampled candidates (default {DEFAULT_TEMPERATURE})")
    transfer.add_argument("--seed", type=int, default=0, help="random seed of the sampled candidates (default 0)")
    transfer.add_argument("--classifier", type=Path,
                          help="sentiment classifier that scores candidates (default: the bundled Yelp classifier)")
    transfer.set_defaults(handler=transfer_command)

    evaluate = commands.add_parser("evaluate", help="score a model beside the copy-the-input baseline",
                                   description="Print transfer accuracy, self-BLEU, ref-BLEU and perplexity as JSON.")
    evaluate.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the bundled Yelp model)")
    evaluate.add_argument("--test-per-style", type=int, default=500, help="test sentences per style (default 500)")
    evaluate.add_argument("--no-perplexity", action="store_true", help="skip training the language model for perplexity")
    evaluate.set_defaults(handler=evaluate_command)


def _config_from_args(args: argparse.Namespace) -> TextStyleConfig:
    names = ("method", "data", "steps", "batch_size", "max_tokens", "min_count", "relaxation", "learning_rate", "seed",
             "device", "precision", "checkpoint_every")
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.style0 or args.style1:
        if not (args.style0 and args.style1):
            raise ValueError("Give both --style0 and --style1 (one file per style).")
        overrides["files"] = (str(args.style0), str(args.style1))
        overrides.setdefault("data", "files")
    if args.resume is None:
        if args.preset is None:
            return TextStyleConfig(**overrides)
        if overrides.get("method", args.preset) != args.preset:
            raise ValueError(f"--preset {args.preset} trains the {args.preset} method, so drop --method {overrides['method']} "
                             "or choose the matching preset.")
        return replace(DEFAULT_PRESETS[args.preset], **overrides)
    if args.preset is not None:
        raise ValueError("Invalid --preset with --resume: a resumed run keeps the checkpoint's settings. Drop --preset.")

    saved = TextStyleConfig.from_json(load_checkpoint(args.resume).config)
    changed = [name for name in _FIXED_ON_RESUME if name in overrides and overrides[name] != getattr(saved, name)]
    if changed:
        raise ValueError(f"--resume keeps the checkpoint's {', '.join(changed)}; {args.resume} was trained with "
                         + ", ".join(f"{name}={getattr(saved, name)!r}" for name in changed)
                         + ". Drop those options or start a new run without --resume.")
    return replace(saved, **overrides)


def train_command(args: argparse.Namespace) -> int:
    config = _config_from_args(args)
    job = TextStyleTrainJob(config, output_dir=args.out, resume_from=args.resume, metrics_every=10,
                            extra_metadata={"command": " ".join(["gan-studio-cli"] + sys.argv[1:])})
    return run_in_console(job, ConsoleReporter())


def _read_inputs(args: argparse.Namespace) -> list[str]:
    if args.sentences:
        return list(args.sentences)
    if args.input is not None:
        return [" ".join(tokens) for tokens in read_sentence_file(args.input, max_tokens=200).sentences]
    return [line for line in sys.stdin.read().splitlines() if line.strip()]


def _checkpoint(args: argparse.Namespace) -> Path:
    if args.checkpoint is not None:
        return args.checkpoint
    bundled = bundled_model_path()
    if bundled is None:
        raise ValueError("No bundled text style model in resources/models/text_style/; pass --checkpoint CKPT "
                         "or train one with 'gan-studio-cli text train'.")
    return bundled


def transfer_command(args: argparse.Namespace) -> int:
    model = model_from_checkpoint(_checkpoint(args), args.device)
    sentences = _read_inputs(args)
    if not sentences:
        raise ValueError("No sentences to rewrite; pass them as arguments, with --input FILE, or on stdin.")
    if args.candidates is None:
        for output in model.transfer(sentences, args.from_style):
            print(output)
        return EXIT_OK

    classifier, classifier_path = load_scoring_classifier(args.classifier)
    scored = rewrite_candidates(model, classifier, [tokenize(s) for s in sentences], args.from_style, args.candidates,
                                temperature=args.temperature, seed=args.seed)
    target = model.style_names[1 - args.from_style]
    print(f"{direction_label(model.style_names, args.from_style)}; score = P({target}) from {classifier_path.name}")
    for sentence, candidates in zip(sentences, scored):
        print(f"\n{sentence}")
        for candidate in candidates:
            print(f"  {candidate.score:.3f}  {candidate.text}{'  (greedy)' if candidate.greedy else ''}")
    return EXIT_OK


def evaluate_command(args: argparse.Namespace) -> int:
    checkpoint = _checkpoint(args)
    model = model_from_checkpoint(checkpoint)
    config = model.config
    if config.data == "reviews" or config.data == "files":
        corpus = load_corpus(config)
    else:
        corpus = load_corpus(replace(config, data="yelp"), shared_datasets_dir())
    try:
        evaluator = build_evaluator(corpus, test_per_style=args.test_per_style, with_language_model=not args.no_perplexity)
    except CorpusError as error:
        raise ValueError(str(error)) from error
    report = {
        "checkpoint": str(checkpoint),
        "data": corpus.source,
        "model": evaluator.evaluate(model.transfer_tokens),
        "copy_baseline": evaluator.evaluate(copy_transfer),
    }
    print(json.dumps(report, indent=2))
    return EXIT_OK
