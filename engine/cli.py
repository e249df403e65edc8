"""gan-studio-cli: the headless twin of every GAN Studio tab.

Each task module exposes ``add_cli(subparsers)``, which registers its subcommand and sets a
``handler(args) -> int`` default. To add a task, import its module here and list it in TASK_CLIS.

    gan-studio-cli playground train --dist ring --steps 2000 --out runs/ring
    torchrun --nproc_per_node=2 -m engine.cli playground train --dist ring --steps 2000 --out runs/ring
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from importlib import metadata
from typing import Sequence

import torch

from engine.core import paths
from engine.core.checkpoints import CheckpointError
from engine.core.console import EXIT_CANCELLED, EXIT_FAILED
from engine.core.device import cpu_supports_bf16, pick_compute
from engine.core.jobs import JobError
from engine.image import cli as image_cli
from engine.playground import cli as playground_cli
from engine.text_style import cli as text_style_cli
from engine.vocoder import cli as vocoder_cli
from engine.voice import cli as voice_cli

logger = logging.getLogger(__name__)

TASK_CLIS = (playground_cli, image_cli, text_style_cli, vocoder_cli, voice_cli)


def package_version() -> str:
    """Return the installed gan-studio version, or "unknown" when running from an uninstalled checkout."""
    try:
        return metadata.version("gan-studio")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gan-studio-cli", description="Train and evaluate GAN Studio models headless.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = subparsers.add_parser("info", help="show the compute device, precision and folders")
    info.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    info.set_defaults(handler=info_command)

    for task in TASK_CLIS:
        task.add_cli(subparsers)
    return parser


def collect_info() -> dict[str, object]:
    """Gather versions, the automatic device and precision choice, and GAN Studio's folders."""
    compute = pick_compute()
    return {
        "version": package_version(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(compute.device),
        "precision": compute.precision,
        "precision_reason": compute.reason,
        "cuda_devices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "cpu_native_bf16": cpu_supports_bf16(),
        "cpu_threads": torch.get_num_threads(),
        "distributed_backends": [name for name, ok in (("gloo", torch.distributed.is_gloo_available()),
                                                       ("nccl", torch.distributed.is_nccl_available())) if ok],
        "folders": {
            "config": str(paths.config_dir()),
            "data": str(paths.data_dir()),
            "logs": str(paths.log_dir()),
            "cache": str(paths.cache_dir()),
            "checkpoints": str(paths.checkpoints_dir()),
            "resources": str(paths.resources_dir()),
            "shared_datasets": str(paths.shared_datasets_dir()),
        },
    }


def info_command(args: argparse.Namespace) -> int:
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    folders = info.pop("folders")
    for key, value in info.items():
        print(f"{key:22s} {value}")
    for key, value in folders.items():
        print(f"{'folder/' + key:22s} {value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]), run the chosen command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    levels = {0: logging.WARNING, 1: logging.INFO}
    level = levels.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    try:
        return int(args.handler(args))
    except (JobError, CheckpointError, ValueError, OSError) as error:
        # Expected failures (bad options, unreadable checkpoints, full disks) get one clear line.
        logger.debug("Command failed", exc_info=True)
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
