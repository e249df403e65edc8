"""Shared pieces of scripted runs: the default model paths, a hardware description and classifier training."""

from __future__ import annotations

import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from engine.core.device import Compute
from engine.core.paths import resources_dir
from engine.image.datasets import load_image_data
from engine.image.evaluate import ClassifierConfig, LoadedClassifier, save_classifier, train_tag_classifier

logger = logging.getLogger(__name__)


def image_models_dir() -> Path:
    return resources_dir() / "models" / "image"


def default_model_path() -> Path:
    return image_models_dir() / "default_cgan.safetensors"


def default_classifier_path(dataset: str) -> Path:
    """Return the shipped tag classifier for "procedural" or "anime" faces."""
    return image_models_dir() / f"{dataset}_tag_classifier.safetensors"


def hardware_description(compute: Compute | None = None) -> dict[str, Any]:
    """Describe the machine a model was trained on, for the JSON beside it."""
    cpu_name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        logger.debug("No /proc/cpuinfo; using the platform processor name")
    return {
        "cpu": cpu_name,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "compute": compute.describe() if compute else None,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "os": platform.platform(),
        # Other processes on the machine slow training, so the load average is recorded with the timing.
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def train_and_save_classifier(dataset: str, path: Path, config: ClassifierConfig, command: str,
                              procedural_faces: int = 10_000) -> LoadedClassifier:
    """Train the tag classifier on ``dataset``'s train split, measure it on the held-out split and save it."""
    train = load_image_data(dataset, config.resolution, split="train", procedural_faces=procedural_faces)
    heldout = load_image_data(dataset, config.resolution, split="heldout", procedural_faces=2000)
    classifier = train_tag_classifier(train, heldout, config)
    extra = {"train_data": train.description, "heldout_data": heldout.description, "command": command,
             "hardware": hardware_description()}
    if dataset == "anime":
        extra["licence_note"] = ("Trained on anime_faces_64_tags, crops of commercial artwork with no licence; "
                                 "for local evaluation only, do not redistribute.")
    save_classifier(classifier, path, config, extra)
    return classifier
