"""The ``gan-studio-cli image`` commands: train, generate, evaluate and train-classifier."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from engine.core.console import EXIT_OK, ConsoleReporter, positive_int, run_in_console
from engine.core.device import DEVICE_CHOICES, PRECISION_CHOICES
from engine.core.jobs import Event, Sample
from engine.image.evaluate import ClassifierConfig, ImageEvaluateJob
from engine.image.generate import ImageGenerator, save_png, tile
from engine.image.runs import default_classifier_path, default_model_path, train_and_save_classifier
from engine.image.train import ImageGanTrainJob, ImageTrainConfig

logger = logging.getLogger(__name__)

_DEFAULTS = ImageTrainConfig()


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``image`` and its subcommands on the top-level parser's subparsers."""
    image = subparsers.add_parser("image", help="train, sample and evaluate image GANs",
                                  description="Train a DCGAN or a tag-conditional GAN on faces, generate images "
                                              "from tags, and evaluate generators with a tag classifier.")
    commands = image.add_subparsers(dest="image_command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a DCGAN or conditional GAN",
                                description="Train an image GAN. Preview grids go to --samples-dir, checkpoints "
                                            "to --out, and --export writes the sampling generator alone.")
    train.add_argument("--model", choices=("cgan", "dcgan"), default=_DEFAULTS.model, help="model family (default cgan)")
    train.add_argument("--dataset", default=_DEFAULTS.dataset,
                       help="'procedural', 'anime' (the shared anime faces) or a folder of images (default procedural)")
    train.add_argument("--tags-csv", help="for a folder: a CSV of 'file name,tags' rows")
    train.add_argument("--resolution", type=int, choices=(32, 64), default=_DEFAULTS.resolution, help="image side in pixels")
    train.add_argument("--steps", type=positive_int, default=_DEFAULTS.steps, help="total training steps; a resumed run continues to it")
    train.add_argument("--batch-size", type=positive_int, default=_DEFAULTS.batch_size, help="images per step")
    train.add_argument("--channels", type=positive_int, default=_DEFAULTS.g_channels,
                       help="width of the last generator and first discriminator layer (default %(default)s)")
    train.add_argument("--procedural-faces", type=positive_int, default=_DEFAULTS.procedural_faces,
                       help="how many procedural faces to draw for --dataset procedural")
    train.add_argument("--lr", type=float, default=_DEFAULTS.lr_g, help="Adam learning rate of both networks")
    train.add_argument("--loss", choices=("hinge", "bce"), default=_DEFAULTS.loss, help="GAN loss")
    train.add_argument("--mode-seeking-weight", type=float, default=_DEFAULTS.mode_seeking_weight,
                       help="weight of the mode-seeking term that keeps the noise from being ignored (0 turns it off)")
    train.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="random seed")
    train.add_argument("--out", type=Path, help="checkpoint folder (default: a new folder under the user data folder)")
    train.add_argument("--resume", type=Path, metavar="CKPT", help="continue exactly from this checkpoint")
    train.add_argument("--export", type=Path, metavar="MODEL", help="also save the final sampling generator here")
    train.add_argument("--samples-dir", type=Path, help="save every preview grid here as PNG")
    train.add_argument("--sample-every", type=positive_int, default=_DEFAULTS.sample_every, help="steps between preview grids")
    train.add_argument("--checkpoint-every", type=positive_int, default=_DEFAULTS.checkpoint_every, help="steps between checkpoints")
    _add_compute_options(train)
    train.set_defaults(handler=train_command)

    generate = commands.add_parser("generate", help="generate a grid or an interpolation strip from tags",
                                   description="Generate images from tag text such as 'red hair, green eyes'. "
                                               "Attributes left out are drawn at random.")
    generate.add_argument("--model", type=Path, default=default_model_path(), help="model or checkpoint (default: the shipped model)")
    generate.add_argument("--tags", default="", help="tag text, e.g. 'red hair, green eyes, long hair'")
    generate.add_argument("--seed", type=int, default=0, help="noise seed")
    generate.add_argument("--count", type=positive_int, default=16, help="number of images")
    generate.add_argument("--columns", type=positive_int, default=8, help="grid columns")
    generate.add_argument("--truncation", type=float, default=None, help="redraw noise beyond +-T (e.g. 1.0); off by default")
    generate.add_argument("--interpolate-seed", type=int, metavar="SEED_B",
                          help="make an interpolation strip from --seed to this seed instead of a grid")
    generate.add_argument("--interpolate-tags", metavar="TAGS_B", help="end tags of the interpolation strip")
    generate.add_argument("--steps", type=positive_int, default=8, help="images in the interpolation strip")
    generate.add_argument("--scale", type=positive_int, default=4, help="enlarge the PNG this many times (nearest neighbour)")
    generate.add_argument("--output", type=Path, required=True, help="PNG file to write")
    generate.set_defaults(handler=generate_command)

    evaluate = commands.add_parser("evaluate", help="measure tag accuracy, classifier Fréchet distance and diversity",
                                   description="Evaluate a generator against held-out real images with a tag "
                                               "classifier; prints one JSON object.")
    evaluate.add_argument("--model", type=Path, default=default_model_path(), help="model or checkpoint")
    evaluate.add_argument("--dataset", choices=("procedural", "anime"), default="procedural",
                          help="real held-out images to compare against")
    evaluate.add_argument("--classifier", type=Path,
                          help="tag classifier (default: the shipped one for --dataset)")
    evaluate.add_argument("--count", type=positive_int, default=1000, help="generated images to measure")
    evaluate.add_argument("--seed", type=int, default=0, help="noise seed")
    evaluate.add_argument("--truncation", type=float, default=None, help="noise truncation, as in generate")
    evaluate.set_defaults(handler=evaluate_command)

    classifier = commands.add_parser("train-classifier", help="train the tag classifier used for evaluation",
                                     description="Train the hair/eye tag classifier on a data set's train split and "
                                                 "report its held-out accuracy.")
    classifier.add_argument("--dataset", choices=("procedural", "anime"), required=True, help="data set to train on")
    classifier.add_argument("--steps", type=positive_int, default=ClassifierConfig().steps, help="training steps")
    classifier.add_argument("--output", type=Path, help="where to save (default: the shipped classifier path)")
    classifier.set_defaults(handler=train_classifier_command)


def _add_compute_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=DEVICE_CHOICES, default=None, help="compute device (default auto)")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default=None,
                        help="numeric precision (default auto: bf16 where the hardware has it)")


class _SavingReporter(ConsoleReporter):
    """The console reporter, plus preview grids saved as PNG files."""

    def __init__(self, samples_dir: Path | None) -> None:
        super().__init__()
        self.samples_dir = samples_dir

    def __call__(self, event: Event) -> None:
        if isinstance(event, Sample) and self.samples_dir is not None:
            save_png(event.data["grid"], self.samples_dir / f"grid_{event.step:06d}.png", scale=2)
        super().__call__(event)


def train_command(args: argparse.Namespace) -> int:
    """Train (or resume) an image GAN and optionally export its sampling generator."""
    config = ImageTrainConfig(
        model=args.model, dataset=args.dataset, tags_csv=args.tags_csv, resolution=args.resolution, steps=args.steps,
        batch_size=args.batch_size, g_channels=args.channels, d_channels=args.channels,
        procedural_faces=args.procedural_faces, lr_g=args.lr, lr_d=args.lr, loss=args.loss,
        mode_seeking_weight=args.mode_seeking_weight, seed=args.seed,
        sample_every=args.sample_every, checkpoint_every=args.checkpoint_every, device=args.device,
        precision=args.precision, output_dir=str(args.out) if args.out else None)
    job = ImageGanTrainJob(config, resume_from=args.resume)
    code = run_in_console(job, _SavingReporter(args.samples_dir))
    if code == EXIT_OK and args.export is not None and job.trainer is not None:
        trainer = job.trainer
        model = ImageGenerator(trainer.ema.model, trainer.gan_config, trainer.vocabulary, config.kind)
        path = model.save(args.export, step=trainer.step, train_config=trainer.checkpoint_config()["train"],
                          extra={"command": " ".join(sys.argv)})
        print(f"Exported the sampling generator to {path}", file=sys.stderr)
    return code


def generate_command(args: argparse.Namespace) -> int:
    """Write a PNG grid (or interpolation strip) generated from tags."""
    model = ImageGenerator.load(args.model)
    if args.interpolate_seed is not None or args.interpolate_tags:
        seed_b = args.interpolate_seed if args.interpolate_seed is not None else args.seed
        images = model.interpolate(args.seed, seed_b, args.tags, args.interpolate_tags, args.steps, args.truncation)
        picture = tile(images, columns=len(images))
    else:
        images, texts = model.generate(args.tags, args.seed, args.count, args.truncation)
        picture = tile(images, columns=args.columns)
        for index, text in enumerate(texts):
            logger.info("image %d: %s", index, text)
    path = save_png(picture, args.output, scale=args.scale)
    print(json.dumps({"event": "generated", "path": str(path), "images": len(images)}))
    return EXIT_OK


def evaluate_command(args: argparse.Namespace) -> int:
    """Print a generator's evaluation metrics as one JSON object."""
    classifier = args.classifier or default_classifier_path(args.dataset)
    job = ImageEvaluateJob(args.model, classifier, args.dataset, args.count, args.seed, args.truncation)
    return run_in_console(job, ConsoleReporter())


def train_classifier_command(args: argparse.Namespace) -> int:
    """Train and save a tag classifier; print its held-out accuracy as JSON."""
    config = ClassifierConfig(steps=args.steps)
    output = args.output or default_classifier_path(args.dataset)
    classifier = train_and_save_classifier(args.dataset, output, config, " ".join(sys.argv))
    print(json.dumps({"event": "classifier", "path": str(output), **classifier.metrics}))
    return EXIT_OK
