"""Folder locations: settings, logs, data, checkpoints and the bundled resources."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "GAN Studio"
APP_AUTHOR = "GAN Studio"
# Set this to keep all user folders under one root (tests and portable installs use it).
HOME_ENV = "GAN_STUDIO_HOME"


def resources_dir() -> Path:
    """Return the folder of bundled models, icons and project-made data (``resources/`` in the checkout)."""
    return Path(__file__).resolve().parents[2] / "resources"


def shared_datasets_dir() -> Path:
    """Return ``../shared/datasets`` beside the checkout, where tests and benchmarks read real data."""
    override = os.environ.get("GAN_STUDIO_DATASETS")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "shared" / "datasets"


def _user_dir(kind: str) -> Path:
    root = os.environ.get(HOME_ENV)
    if root:
        path = Path(root) / kind
    else:
        finder = {
            "config": platformdirs.user_config_dir,
            "data": platformdirs.user_data_dir,
            "logs": platformdirs.user_log_dir,
            "cache": platformdirs.user_cache_dir,
        }[kind]
        path = Path(finder(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    return _user_dir("config")


def data_dir() -> Path:
    """Return the user data folder: recordings, generated corpora and user models live here."""
    return _user_dir("data")


def log_dir() -> Path:
    return _user_dir("logs")


def cache_dir() -> Path:
    return _user_dir("cache")


def checkpoints_dir() -> Path:
    path = data_dir() / "checkpoints"
    path.mkdir(parents=True, exist_ok=True)
    return path
