"""Checkpoints as safetensors weights plus a JSON sidecar, written atomically and loaded safely.

A checkpoint named ``STEM`` is two files: ``STEM.safetensors`` contains every tensor (module weights
and optimizer state tensors) and ``STEM.json`` contains the model kind, config, step, metrics, the
optimizer's non-tensor state and free-form metadata. Loading never unpickles anything.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_OPTIM_PREFIX = "optim"


class CheckpointError(Exception):
    """A checkpoint cannot be read or does not fit the model; the message names the file."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: tensors by key and the JSON metadata."""

    path: Path  # the .safetensors file
    kind: str
    config: dict[str, Any]
    step: int
    metrics: dict[str, float]
    tensors: dict[str, torch.Tensor]
    extra: dict[str, Any] = field(default_factory=dict)
    optimizer_meta: dict[str, Any] = field(default_factory=dict)

    def module_state(self, name: str) -> dict[str, torch.Tensor]:
        prefix = f"{name}."
        return {key[len(prefix):]: value for key, value in self.tensors.items() if key.startswith(prefix)}


def newest_checkpoint(folder: str | os.PathLike[str]) -> Path:
    """Return the stem of the complete checkpoint with the highest step in ``folder``.

    Raises:
        CheckpointError: when the folder contains no complete checkpoint (both files present).
    """
    folder = Path(folder)
    best: tuple[int, str] | None = None
    for json_path in folder.glob("*.json"):
        if not json_path.with_suffix(".safetensors").is_file():
            continue
        try:
            step = int(json.loads(json_path.read_text(encoding="utf-8"))["step"])
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("Skipped %s while looking for the newest checkpoint: not a readable sidecar", json_path)
            continue
        if best is None or (step, json_path.name) > best:
            best = (step, json_path.name)
    if best is None:
        raise CheckpointError(f"No checkpoint found in folder {folder}: it has no pair of .safetensors and .json "
                              "files. Name a checkpoint file or the folder a training run wrote.")
    return (folder / best[1]).with_suffix("")


def checkpoint_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Return (weights, sidecar) paths for a stem, a .safetensors path or a .json path."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _split_optimizer(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors (for safetensors) and plain values (for JSON)."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain_state: dict[str, dict[str, Any]] = {}
    for param_id, param_state in state_dict["state"].items():
        plain: dict[str, Any] = {}
        for key, value in param_state.items():
            if torch.is_tensor(value):
                tensors[f"{_OPTIM_PREFIX}.{name}.{param_id}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain[key] = value
        plain_state[str(param_id)] = plain
    meta = {"param_groups": state_dict["param_groups"], "state": plain_state}
    return tensors, meta


def _join_optimizer(name: str, meta: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for param_id, plain in meta["state"].items():
        state[int(param_id)] = dict(plain)
    prefix = f"{_OPTIM_PREFIX}.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            param_id, state_key = key[len(prefix):].split(".", 1)
            state.setdefault(int(param_id), {})[state_key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    kind: str,
    config: Mapping[str, Any],
    step: int,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    metrics: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically and return the path of its .safetensors file.

    Args:
        path: the stem (``run/step_000100``) or either file of the pair.
        kind: the model family, checked again at load time (e.g. "playground.gan").
        config: the full run config; it must be JSON-serialisable.
        modules: named modules; their weights are stored under "<name>.<param>".
        optimizers: named optimizers, stored whole so a resumed run continues exactly.
        metrics: the latest metrics, for display and model lists.
        extra: other JSON-serialisable metadata (training data, command, hardware, ...).

    The weights file is written first and the JSON last, so a sidecar only ever points at complete
    weights. Shared tensors are cloned so safetensors can store them.
    """
    weights_path, json_path = checkpoint_paths(path)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().cpu().clone().contiguous()

    optimizer_meta: dict[str, Any] = {}
    for name, optimizer in (optimizers or {}).items():
        optimizer_tensors, optimizer_meta[name] = _split_optimizer(name, optimizer)
        tensors.update(optimizer_tensors)

    sidecar = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "step": int(step),
        "config": dict(config),
        "metrics": {key: float(value) for key, value in (metrics or {}).items()},
        "modules": sorted(modules),
        "optimizers": optimizer_meta,
        "extra": dict(extra or {}),
    }
    sidecar_bytes = json.dumps(sidecar, indent=2, sort_keys=True).encode("utf-8")  # fails early if not JSON-able

    atomic_write_bytes(weights_path, save_safetensors_bytes(tensors, metadata={"kind": kind, "step": str(step)}))
    atomic_write_bytes(json_path, sidecar_bytes)
    logger.info("Saved checkpoint %s (step %d)", weights_path, step)
    return weights_path


def load_checkpoint(path: str | os.PathLike[str], *, expected_kind: str | None = None) -> Checkpoint:
    """Read a checkpoint without unpickling anything; a folder means its newest checkpoint.

    Raises:
        CheckpointError: when a file is missing, truncated or corrupt, or the kind does not match;
            the message names the file and the fix.
    """
    if Path(path).is_dir():
        path = newest_checkpoint(path)
    weights_path, json_path = checkpoint_paths(path)
    for required in (weights_path, json_path):
        if not required.is_file():
            raise CheckpointError(f"Checkpoint file {required} is missing. Both {weights_path.name} "
                                  f"and {json_path.name} are needed; pick a complete checkpoint.")

    try:
        sidecar = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"Checkpoint metadata {json_path} is corrupt ({error}). "
                              "Restore it from a backup or pick another checkpoint.") from error
    if not isinstance(sidecar, dict) or "kind" not in sidecar or "step" not in sidecar:
        raise CheckpointError(f"{json_path} is not a GAN Studio checkpoint (no 'kind' or 'step').")
    if sidecar.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{json_path} has format version {sidecar['format_version']}, newer than this "
                              f"GAN Studio reads ({FORMAT_VERSION}). Update GAN Studio to load it.")
    if expected_kind is not None and sidecar["kind"] != expected_kind:
        raise CheckpointError(f"{weights_path} contains a {sidecar['kind']!r} model, but a {expected_kind!r} "
                              "model is needed here. Pick a checkpoint of the right kind.")

    try:
        tensors = load_safetensors_bytes(weights_path.read_bytes())
    except (SafetensorError, ValueError, OSError) as error:
        raise CheckpointError(f"Checkpoint weights {weights_path} are truncated or corrupt ({error}). "
                              "Pick an earlier checkpoint or retrain.") from error

    return Checkpoint(
        path=weights_path,
        kind=sidecar["kind"],
        config=sidecar.get("config", {}),
        step=int(sidecar["step"]),
        metrics=sidecar.get("metrics", {}),
        tensors=tensors,
        extra=sidecar.get("extra", {}),
        optimizer_meta=sidecar.get("optimizers", {}),
    )


def average_checkpoints(paths: Sequence[str | os.PathLike[str]], *, expected_kind: str | None = None) -> Checkpoint:
    """Return the last checkpoint of ``paths`` with each floating-point weight averaged over all of them.

    Averaging a few consecutive checkpoints of one run evens out the step-to-step jitter of GAN
    training. The optimizer state is dropped, so the result can be evaluated and exported but not
    resumed. Integer tensors come from the last checkpoint.

    Raises:
        CheckpointError: when ``paths`` is empty, a checkpoint cannot be loaded, or the checkpoints
            do not contain the same weights (names and shapes).
    """
    if not paths:
        raise CheckpointError("No checkpoints to average. Pass at least one checkpoint path.")
    loaded = [load_checkpoint(path, expected_kind=expected_kind) for path in paths]
    last = loaded[-1]
    weights = {key: value for key, value in last.tensors.items() if not key.startswith(f"{_OPTIM_PREFIX}.")}
    sums = {key: value.double() for key, value in weights.items() if value.is_floating_point()}
    for checkpoint in loaded[:-1]:
        for key, value in weights.items():
            other = checkpoint.tensors.get(key)
            if other is None or other.shape != value.shape:
                raise CheckpointError(f"{checkpoint.path} and {last.path} contain different weights ({key}). "
                                      "Average only checkpoints of the same run.")
            if key in sums:
                sums[key] += other.double()
    averaged = {key: (sums[key] / len(loaded)).to(value.dtype) if key in sums else value
                for key, value in weights.items()}
    return replace(last, tensors=averaged, optimizer_meta={},
                   extra={**last.extra, "averaged_checkpoints": [str(item.path) for item in loaded]})


def restore(
    checkpoint: Checkpoint,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
) -> None:
    """Load weights (strictly) and optimizer state from ``checkpoint`` into live objects.

    Raises:
        CheckpointError: when a module's parameter names or shapes differ from the checkpoint,
            naming the file and the first mismatches.
    """
    for name, module in modules.items():
        state = checkpoint.module_state(name)
        expected = module.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        wrong_shape = [key for key in set(expected) & set(state) if expected[key].shape != state[key].shape]
        if missing or unexpected or wrong_shape:
            details = []
            if missing:
                details.append(f"missing {', '.join(missing[:3])}")
            if unexpected:
                details.append(f"unexpected {', '.join(unexpected[:3])}")
            for key in sorted(wrong_shape)[:3]:
                details.append(f"{key}: checkpoint {tuple(state[key].shape)} vs model {tuple(expected[key].shape)}")
            raise CheckpointError(f"{checkpoint.path} does not match the {name!r} network ({'; '.join(details)}). "
                                  "It was saved with a different configuration; use that configuration or retrain.")
        module.load_state_dict(state)

    for name, optimizer in (optimizers or {}).items():
        if name not in checkpoint.optimizer_meta:
            raise CheckpointError(f"{checkpoint.path} has no optimizer state for {name!r}; it cannot be resumed exactly.")
        try:
            optimizer.load_state_dict(_join_optimizer(name, checkpoint.optimizer_meta[name], checkpoint.tensors))
        except (ValueError, KeyError) as error:
            raise CheckpointError(f"{checkpoint.path}: optimizer state for {name!r} does not fit ({error}).") from error
