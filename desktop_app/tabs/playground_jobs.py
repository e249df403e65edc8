"""Jobs through which the playground tab creates, trains, steps, saves and loads its trainer.

The tab never touches a PlaygroundTrainer: it lives in a ``PlaygroundSession`` that only these
jobs read and write, and jobs run one at a time on the engine worker's thread. Because the worker
is first in, first out, a job queued after a reset uses the new trainer.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from engine.core.checkpoints import CheckpointError
from engine.core.device import Compute
from engine.core.jobs import CancelToken, CheckpointSaved, Event, EventSink, Finished, JobError, Metrics, Sample, Started
from engine.playground.distributions import mode_centers, mode_std
from engine.playground.metrics import modes_covered, sliced_wasserstein
from engine.playground.trainer import (
    SAMPLE_KIND,
    PlaygroundConfig,
    PlaygroundStepJob,
    PlaygroundTrainer,
    PlaygroundTrainJob,
)

logger = logging.getLogger(__name__)

SNAPSHOT_INTERVAL_S = 0.04  # about 25 previews per second; the plot redraws each one it receives
QUALITY_INTERVAL_S = 0.5  # live quality numbers are computed from at most two previews per second
QUALITY_PROJECTIONS = 64
QUALITY_PROJECTION_SEED = 1234  # fixed, so the live numbers change only when the generator does


class PlaygroundSession:
    """The trainer slot shared by the playground jobs; only jobs on the worker thread use it."""

    def __init__(self) -> None:
        self.trainer: PlaygroundTrainer | None = None

    def require_trainer(self) -> PlaygroundTrainer:
        if self.trainer is None:
            raise JobError("The playground has no model yet; press Reset to create one.")
        return self.trainer


def preview_quality(snapshot: Mapping[str, Any], dist: str, custom_points: tuple[tuple[float, float], ...]) -> dict[str, float]:
    """Estimate quality from a preview's real and fake points (a cheap stand-in for ``evaluate``).

    Returns:
        "quality/sliced_wasserstein" in data units, and for mixtures "quality/modes_covered" and
        "quality/modes_total". Preview sets are small (512 points), so the distance is noisier and
        its floor higher than the full evaluation's.
    """
    real = torch.from_numpy(np.asarray(snapshot["real"], dtype=np.float32))
    fake = torch.from_numpy(np.asarray(snapshot["fake"], dtype=np.float32))
    projections = torch.Generator().manual_seed(QUALITY_PROJECTION_SEED)
    values = {"quality/sliced_wasserstein": sliced_wasserstein(real, fake, QUALITY_PROJECTIONS, projections)}
    centers = mode_centers(dist, custom_points)
    spread = mode_std(dist)
    if centers is not None and spread is not None and len(fake):
        coverage = modes_covered(fake, centers, radius=3 * spread)
        values["quality/modes_covered"] = float(coverage.covered)
        values["quality/modes_total"] = float(coverage.total)
    return values


class NewTrainerJob:
    """Builds a fresh trainer from ``config`` in the session and sends its first preview."""

    name = "playground.reset"

    def __init__(self, session: PlaygroundSession, config: PlaygroundConfig, compute: Compute) -> None:
        self.session = session
        self.config = config
        self.compute = compute

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, None, config=self.config.to_dict()))
        trainer = PlaygroundTrainer(self.config, self.compute)
        self.session.trainer = trainer
        sink(Sample(trainer.step, SAMPLE_KIND, trainer.snapshot()))
        sink(Finished({"config": self.config.to_dict(), "step": trainer.step}))


class LoadTrainerJob:
    """Replaces the session's trainer with one loaded from a checkpoint.

    Finished carries its config, step and ``evaluate()`` metrics, so the tab shows the quality of the
    loaded model instead of the model it replaced.
    """

    name = "playground.load"

    def __init__(self, session: PlaygroundSession, path: Path, compute: Compute) -> None:
        self.session = session
        self.path = Path(path)
        self.compute = compute

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, None))
        try:
            trainer = PlaygroundTrainer.load(self.path, self.compute)
        except CheckpointError as error:
            # CheckpointError names the file and what to do, so the user sees its message as is.
            raise JobError(str(error)) from error
        self.session.trainer = trainer
        sink(Sample(trainer.step, SAMPLE_KIND, trainer.snapshot()))
        sink(Finished({"config": trainer.config.to_dict(), "step": trainer.step, "d_updates": trainer.d_updates,
                       "path": str(self.path), **trainer.evaluate()}))


class SaveTrainerJob:
    """Saves the session's trainer to ``path`` (a stem; the .safetensors and .json files sit beside it)."""

    name = "playground.save"

    def __init__(self, session: PlaygroundSession, path: Path) -> None:
        self.session = session
        self.path = Path(path)

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        trainer = self.session.require_trainer()
        sink(Started(self.name, None))
        try:
            weights_path = trainer.save(self.path)
        except OSError as error:
            raise JobError(f"Could not save the playground checkpoint to {self.path}: {error}. "
                           "Choose a writable folder.") from error
        sink(CheckpointSaved(trainer.step, weights_path))
        sink(Finished({"path": str(weights_path), "step": trainer.step}))


class _LiveSettingsJob:
    """Applies learning rates and D steps (which need no new model), then runs an engine job.

    The engine job is built inside ``run`` because the session's trainer may change between
    submission and start (a reset queued before this job).
    """

    name = "playground"

    def __init__(self, session: PlaygroundSession, lr_d: float, lr_g: float, d_steps: int) -> None:
        self.session = session
        self.lr_d = lr_d
        self.lr_g = lr_g
        self.d_steps = d_steps

    def _prepared_trainer(self) -> PlaygroundTrainer:
        trainer = self.session.require_trainer()
        if (trainer.config.lr_d, trainer.config.lr_g) != (self.lr_d, self.lr_g):
            trainer.set_lr(self.lr_d, self.lr_g)
        if trainer.config.d_steps != self.d_steps:
            trainer.set_d_steps(self.d_steps)
        return trainer


class TrainJob(_LiveSettingsJob):
    """Trains for ``steps`` generator updates with previews, adding live quality estimates.

    Every ``QUALITY_INTERVAL_S`` seconds the newest preview is also scored with
    ``preview_quality`` and sent as a Metrics event with "quality/..." keys.
    """

    name = "playground.train"

    def __init__(self, session: PlaygroundSession, steps: int, lr_d: float, lr_g: float, d_steps: int) -> None:
        super().__init__(session, lr_d, lr_g, d_steps)
        self.steps = steps

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        trainer = self._prepared_trainer()
        inner = PlaygroundTrainJob(trainer, self.steps, snapshot_interval_s=SNAPSHOT_INTERVAL_S)
        config = trainer.config
        last_quality = -float("inf")

        def forward(event: Event) -> None:
            nonlocal last_quality
            sink(event)
            if isinstance(event, Sample) and event.kind == SAMPLE_KIND:
                now = time.perf_counter()
                if now - last_quality >= QUALITY_INTERVAL_S:
                    last_quality = now
                    sink(Metrics(event.step, preview_quality(event.data, config.dist, config.custom_points)))

        inner.run(forward, cancel)


class StepJob(_LiveSettingsJob):
    """Runs one discriminator ("d") or generator ("g") update and sends the preview after it."""

    name = "playground.step"

    def __init__(self, session: PlaygroundSession, phase: str, lr_d: float, lr_g: float, d_steps: int) -> None:
        super().__init__(session, lr_d, lr_g, d_steps)
        if phase not in ("d", "g"):
            raise ValueError(f"Phase must be 'd' or 'g', got {phase!r}.")
        self.phase = phase

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        trainer = self._prepared_trainer()
        config = trainer.config

        def forward(event: Event) -> None:
            sink(event)
            if isinstance(event, Sample) and event.kind == SAMPLE_KIND:
                sink(Metrics(event.step, preview_quality(event.data, config.dist, config.custom_points)))

        PlaygroundStepJob(trainer, self.phase).run(forward, cancel)
