"""The ``gan-studio-cli playground`` commands: train, evaluate and list the 2-D toy GAN."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import sys
from pathlib import Path

import torch

from engine.core.console import EXIT_OK, ConsoleReporter, positive_int, run_in_console
from engine.core.device import DEVICE_CHOICES, PRECISION_CHOICES, Compute, pick_compute
from engine.core.distributed import DistributedContext, init_distributed, shutdown_distributed
from engine.playground.distributions import DISTRIBUTIONS
from engine.playground.models import LOSSES
from engine.playground.trainer import PlaygroundConfig, PlaygroundTrainer, PlaygroundTrainJob

logger = logging.getLogger(__name__)

# A resumed run keeps the checkpoint's values of these options, because they define the networks or the data.
_FIXED_ON_RESUME = ("dist", "loss", "noise_dim", "batch_size", "hidden", "seed", "custom_points", "gp_weight")


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``playground`` and its subcommands on the top-level parser's subparsers."""
    playground = subparsers.add_parser("playground", help="train and evaluate the 2-D toy GAN",
                                       description="Train and evaluate the 2-D toy GAN of the Playground tab.")
    commands = playground.add_subparsers(dest="playground_command", required=True, metavar="COMMAND")

    defaults = PlaygroundConfig()
    train = commands.add_parser("train", help="train a GAN on a 2-D distribution",
                                description="Train a GAN on a 2-D distribution. Run it under torchrun "
                                            "(--nproc_per_node=N) to train with DistributedDataParallel.")
    train.add_argument("--dist", choices=DISTRIBUTIONS.names(), help=f"target distribution (default {defaults.dist})")
    train.add_argument("--custom-point", dest="custom_points", action="append", type=_parse_point, metavar="X,Y",
                       help="a mode center for --dist custom; repeat for more points")
    train.add_argument("--loss", choices=LOSSES.names(), help=f"GAN loss (default {defaults.loss})")
    train.add_argument("--steps", type=positive_int, required=True,
                       help="total generator updates; a resumed run continues until this total")
    train.add_argument("--out", type=Path, required=True, help="folder for the checkpoints")
    train.add_argument("--lr-d", type=float, help=f"discriminator learning rate (default {defaults.lr_d})")
    train.add_argument("--lr-g", type=float, help=f"generator learning rate (default {defaults.lr_g})")
    train.add_argument("--d-steps", type=positive_int, help=f"discriminator updates per generator update (default {defaults.d_steps})")
    train.add_argument("--batch-size", type=positive_int, help=f"points per batch and process (default {defaults.batch_size})")
    train.add_argument("--noise-dim", type=positive_int, help=f"generator noise dimensions (default {defaults.noise_dim})")
    train.add_argument("--hidden", type=positive_int, help=f"hidden layer width of both networks (default {defaults.hidden})")
    train.add_argument("--gp-weight", type=float, help=f"gradient-penalty weight for wgan-gp (default {defaults.gp_weight})")
    train.add_argument("--seed", type=int, help=f"random seed (default {defaults.seed})")
    _add_compute_options(train)
    train.add_argument("--threads", type=int, help="torch CPU threads for this process (default: torch's choice)")
    train.add_argument("--resume", type=Path, metavar="CKPT",
                       help="continue exactly from this checkpoint, or from the newest one in this folder")
    train.add_argument("--checkpoint-every", type=positive_int, default=500, help="save a checkpoint every N steps (default 500)")
    train.add_argument("--metrics-every", type=positive_int, default=10, help="write a metrics line every N steps (default 10)")
    train.add_argument("--print-param-digest", action="store_true",
                       help="print a SHA-256 digest of the final weights on every process, to check that "
                            "distributed ranks agree")
    train.set_defaults(handler=train_command)

    evaluate = commands.add_parser("evaluate", help="measure sample quality of a checkpoint",
                                   description="Print the quality metrics of a playground checkpoint as JSON.")
    evaluate.add_argument("checkpoint", type=Path, metavar="CKPT",
                          help="a .safetensors or .json checkpoint file, or a run folder (its newest checkpoint)")
    _add_compute_options(evaluate)
    evaluate.set_defaults(handler=evaluate_command)

    listing = commands.add_parser("list", help="list the distributions and losses")
    listing.set_defaults(handler=list_command)


def _add_compute_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="compute device (default auto)")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                        help="numeric precision (default auto). The playground computes in fp32 with any choice.")


def _parse_point(text: str) -> tuple[float, float]:
    try:
        x_text, y_text = text.split(",")
        return float(x_text), float(y_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a point as X,Y (for example 0.5,-1), got {text!r}") from None


def _config_overrides(args: argparse.Namespace) -> dict[str, object]:
    names = ("dist", "loss", "lr_d", "lr_g", "d_steps", "noise_dim", "batch_size", "hidden", "seed", "gp_weight")
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.custom_points:
        overrides["custom_points"] = tuple(args.custom_points)
    return overrides


def _compute_for_rank(compute: Compute, context: DistributedContext) -> Compute:
    if context.enabled and compute.device.type == "cuda":
        return Compute(torch.device("cuda", context.local_rank), compute.precision, compute.reason)
    return compute


def _build_trainer(args: argparse.Namespace, compute: Compute, context: DistributedContext) -> PlaygroundTrainer:
    overrides = _config_overrides(args)
    if args.resume is None:
        return PlaygroundTrainer(PlaygroundConfig(**overrides), compute, context)

    trainer = PlaygroundTrainer.load(args.resume, compute, context)
    changed = [name for name in _FIXED_ON_RESUME if name in overrides and overrides[name] != getattr(trainer.config, name)]
    if changed:
        raise ValueError(f"--resume keeps the checkpoint's {', '.join(changed)}; {args.resume} was trained with "
                         + ", ".join(f"{name}={getattr(trainer.config, name)!r}" for name in changed)
                         + ". Drop those options or start a new run without --resume.")
    trainer.set_lr(overrides.get("lr_d", trainer.config.lr_d), overrides.get("lr_g", trainer.config.lr_g))
    trainer.set_d_steps(int(overrides.get("d_steps", trainer.config.d_steps)))
    return trainer


def parameter_digest(trainer: PlaygroundTrainer) -> str:
    """Return a SHA-256 hex digest of both networks' weights, in a fixed order."""
    digest = hashlib.sha256()
    for module in (trainer.generator, trainer.discriminator):
        for name, tensor in module.state_dict().items():
            digest.update(name.encode("utf-8"))
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def train_command(args: argparse.Namespace) -> int:
    """Train (or resume) a playground GAN; rank 0 alone prints and writes checkpoints."""
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} exists and is not a folder; name a new or existing folder for the checkpoints.")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}.")
        torch.set_num_threads(args.threads)
    compute = pick_compute(args.device, args.precision)
    context = init_distributed(compute.device)
    try:
        trainer = _build_trainer(args, _compute_for_rank(compute, context), context)
        trainer.extra_metadata["command"] = " ".join(sys.argv)
        steps = args.steps - trainer.step
        if steps <= 0:
            raise ValueError(f"{trainer.last_checkpoint} is already at step {trainer.step}, and --steps is the total "
                             f"to reach ({args.steps}); pass a larger --steps to train further.")
        job = PlaygroundTrainJob(trainer, steps, snapshot_interval_s=None, metrics_every=args.metrics_every,
                                 checkpoint_dir=args.out, checkpoint_every=args.checkpoint_every)
        if context.is_main:
            reporter = ConsoleReporter()
        else:
            # Other ranks print no JSON lines or progress, but their failures still reach stderr.
            reporter = ConsoleReporter(stdout=io.StringIO(), progress_bar=False)
        code = run_in_console(job, reporter)
        if args.print_param_digest:
            print(f"rank {context.rank} parameter digest {parameter_digest(trainer)}", file=sys.stderr, flush=True)
        return code
    finally:
        shutdown_distributed(context)


def evaluate_command(args: argparse.Namespace) -> int:
    """Print a checkpoint's quality metrics as one JSON object on stdout."""
    trainer = PlaygroundTrainer.load(args.checkpoint, pick_compute(args.device, args.precision))
    record = {"event": "evaluation", "checkpoint": str(trainer.last_checkpoint), "step": trainer.step,
              "config": trainer.config.to_dict(), **trainer.evaluate()}
    print(json.dumps(record))
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    """Print the available distributions and losses."""
    print("distributions:")
    for name in DISTRIBUTIONS:
        print(f"  {name:14s} {DISTRIBUTIONS.get(name).description}")
    print("losses:")
    for name in LOSSES:
        print(f"  {name}")
    return EXIT_OK
