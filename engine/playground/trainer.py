"""The playground GAN: its config, a trainer with single D/G updates and previews, and the jobs that run it."""

from __future__ import annotations

import base64
import dataclasses
import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from engine.core.checkpoints import CheckpointError, checkpoint_paths, load_checkpoint, restore, save_checkpoint
from engine.core.device import Compute, pick_compute
from engine.core.distributed import (SINGLE_PROCESS, DistributedContext, any_rank, barrier, gather_objects,
                                     mean_across_ranks, wrap_module)
from engine.core.jobs import (CancelToken, CheckpointSaved, EventSink, Finished, Metrics, NonFiniteLossError,
                              ProgressClock, Sample, Started, check_finite)
from engine.playground.distributions import DISTRIBUTIONS, mode_centers, mode_std, plot_extent, sample_distribution
from engine.playground.metrics import mmd_rbf, modes_covered, sliced_wasserstein
from engine.playground.models import LOSSES, Discriminator, Generator, build_loss

logger = logging.getLogger(__name__)

CHECKPOINT_KIND = "playground.gan"
SAMPLE_KIND = "playground"

# Independent random streams, so previews and evaluation never shift the training sequence.
_STREAM_DATA, _STREAM_NOISE, _STREAM_PREVIEW, _STREAM_EVAL = 1, 2, 3, 4
EVAL_POINTS = 2048
PREVIEW_ARROWS = 64
# Length of the longest preview arrow as a fraction of the plot width; the others keep their ratios to it.
ARROW_MAX_FRACTION = 0.1


@dataclass(frozen=True)
class PlaygroundConfig:
    """Everything that defines a playground run; saved in every checkpoint."""

    dist: str = "ring"
    loss: str = "nonsaturating"
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    d_steps: int = 1  # discriminator updates per generator update
    noise_dim: int = 2
    batch_size: int = 256  # per process, so a distributed step uses batch_size * world_size points
    hidden: int = 128
    seed: int = 0
    custom_points: tuple[tuple[float, float], ...] = ()
    # Adam's beta1 = 0.5 instead of the default 0.9, the usual choice for GANs: with less momentum
    # the alternating updates of the two networks overshoot less.
    beta1: float = 0.5
    beta2: float = 0.999
    # Gradient-penalty weight for "wgan-gp". With 10, the usual value for images, ring runs (seeds 0
    # and 1, d_steps 2) covered no mode after 1500 steps, while with 0.1 both covered all 8 by step 1000.
    gp_weight: float = 0.1

    def __post_init__(self) -> None:
        DISTRIBUTIONS.get(self.dist)  # raises ValueError listing the valid names
        LOSSES.get(self.loss)
        for name in ("lr_d", "lr_g", "beta2"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
        if not 0 <= self.beta1 < 1 or not 0 < self.beta2 < 1:
            raise ValueError(f"Adam betas must be in [0, 1); got beta1={self.beta1}, beta2={self.beta2}.")
        for name in ("d_steps", "noise_dim", "batch_size", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
        if self.gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {self.gp_weight}.")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}.")
        if self.dist == "custom":
            mode_centers("custom", self.custom_points)  # raises ValueError without valid points

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; custom points become lists."""
        values = dataclasses.asdict(self)
        values["custom_points"] = [list(point) for point in self.custom_points]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PlaygroundConfig:
        """Build a config from ``to_dict()`` output; missing keys take their defaults.

        Raises:
            ValueError: for unknown keys or invalid values.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown playground config keys {unknown}; expected some of {sorted(known)}.")
        values = dict(values)
        if "custom_points" in values:
            values["custom_points"] = tuple(tuple(float(v) for v in point) for point in values["custom_points"])
        return cls(**values)


def _stream_generator(seed: int, stream: int, rank: int = 0) -> torch.Generator:
    """Return a CPU generator for one random stream of one rank, derived from the run seed."""
    state = np.random.SeedSequence([seed, stream, rank]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator()
    generator.manual_seed(int(state[0]) << 32 | int(state[1]))
    return generator


def _encode_state(generator: torch.Generator) -> str:
    return base64.b64encode(generator.get_state().numpy().tobytes()).decode("ascii")


def _decode_state(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)


def _grad_norm(module: torch.nn.Module) -> float:
    squares = [param.grad.detach().float().pow(2).sum() for param in module.parameters() if param.grad is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


class PlaygroundTrainer:
    """Owns the generator, the discriminator, their optimizers and random streams for one run.

    Computation runs in fp32 whatever precision ``compute`` names. Under bf16 autocast the
    generator's last layer would output bf16 points, spaced 2**-7 (about 0.008) apart for coordinates
    in [1, 2), which is a sixth of a ring mode's standard deviation. The gradient penalty's double
    backward would run in bf16 as well. The speed gain is small in absolute terms:
    bench/playground_steps.py measured 1.2 to 1.6 times more steps per second with bf16 autocast on
    one thread of a CPU with native bf16, where fp32 already ran 75 to 170 steps per second.

    Methods must be called from one thread at a time: the thread running a job, or between jobs.

    In a distributed run (``distributed.enabled``) both networks are wrapped in
    DistributedDataParallel; every rank draws its own data and noise, and ``train_step`` returns
    metrics averaged over ranks.
    """

    def __init__(self, config: PlaygroundConfig, compute: Compute | None = None,
                 distributed: DistributedContext | None = None) -> None:
        self.config = config
        self.compute = compute or pick_compute("cpu", "fp32")
        self.distributed = distributed or SINGLE_PROCESS
        self.device = self.compute.device
        self.loss_fn = build_loss(config.loss, config.gp_weight)

        # The same seed on every rank gives identical initial weights (DDP also broadcasts rank 0's).
        # fork_rng leaves the caller's global random state as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.generator = Generator(config.noise_dim, config.hidden).to(self.device)
            self.discriminator = Discriminator(config.hidden).to(self.device)
        if self.distributed.enabled and config.loss == "wgan-gp":
            # The penalty's double backward yields the last layer's (1, hidden) weight gradient with
            # strides (1, 1), so DDP warns that it must copy it into its bucket. The copy only costs
            # time on a 128-value tensor, so this one message is silenced.
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        self._generator_ddp = wrap_module(self.generator, self.distributed)
        self._discriminator_ddp = wrap_module(self.discriminator, self.distributed)
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=(config.beta1, config.beta2))
        self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d,
                                            betas=(config.beta1, config.beta2))

        rank = self.distributed.rank
        self.data_rng = _stream_generator(config.seed, _STREAM_DATA, rank)
        self.noise_rng = _stream_generator(config.seed, _STREAM_NOISE, rank)

        self.step = 0  # generator updates done
        self.d_updates = 0
        self.last_phase = "init"
        self.last_metrics: dict[str, float] = {}
        self.last_checkpoint: Path | None = None
        self.extra_metadata: dict[str, Any] = {}  # JSON-ready values saved with every checkpoint (command, ...)
        self._preview_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    # ---------------------------------------------------------------------------------- updates

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.noise_dim, generator=self.noise_rng).to(self.device)

    def _real(self, n: int) -> torch.Tensor:
        return sample_distribution(self.config.dist, n, self.data_rng, self.config.custom_points).to(self.device)

    def step_d(self) -> dict[str, float]:
        """Run one discriminator update with the generator fixed; return its metrics."""
        started = time.perf_counter()
        batch = self.config.batch_size
        real = self._real(batch)
        with torch.no_grad():
            fake = self._generator_ddp(self._noise(batch))

        self.optimizer_d.zero_grad(set_to_none=True)
        result = self.loss_fn.discriminator_loss(self._discriminator_ddp, real, fake, self.noise_rng)
        result.loss.backward()
        grad_norm = _grad_norm(self.discriminator)
        self.optimizer_d.step()

        self.d_updates += 1
        self.last_phase = "d"
        values = {"loss/d": float(result.loss.detach()), "grad_norm/d": grad_norm, **result.extras,
                  "time/step_d": time.perf_counter() - started}
        return mean_across_ranks(values, self.distributed)

    def step_g(self) -> dict[str, float]:
        """Run one generator update with the discriminator fixed; return its metrics."""
        started = time.perf_counter()
        self.optimizer_g.zero_grad(set_to_none=True)
        fake = self._generator_ddp(self._noise(self.config.batch_size))
        # The discriminator also receives gradients here (and DDP averages them); they are
        # discarded because the next step_d starts with zero_grad.
        loss = self.loss_fn.generator_loss(self._discriminator_ddp(fake))
        loss.backward()
        grad_norm = _grad_norm(self.generator)
        self.optimizer_g.step()

        self.step += 1
        self.last_phase = "g"
        values = {"loss/g": float(loss.detach()), "grad_norm/g": grad_norm, "time/step_g": time.perf_counter() - started}
        return mean_across_ranks(values, self.distributed)

    def train_step(self) -> dict[str, float]:
        """Run ``d_steps`` discriminator updates, then one generator update.

        Returns:
            "loss/d" (the last D update), "loss/g", "d/real_score", "d/fake_score", "grad_norm/d",
            "grad_norm/g", "time/step" in seconds, and "loss/gp", "d/wasserstein" for wgan-gp.
        """
        started = time.perf_counter()
        values: dict[str, float] = {}
        for _ in range(self.config.d_steps):
            values.update(self.step_d())
        values.update(self.step_g())
        values.pop("time/step_d")
        values.pop("time/step_g")
        values["time/step"] = time.perf_counter() - started
        self.last_phase = "train"
        self.last_metrics = values
        return values

    def set_lr(self, lr_d: float, lr_g: float) -> None:
        """Change both learning rates from the next update on (the config is updated too)."""
        self.config = dataclasses.replace(self.config, lr_d=lr_d, lr_g=lr_g)
        for group in self.optimizer_d.param_groups:
            group["lr"] = lr_d
        for group in self.optimizer_g.param_groups:
            group["lr"] = lr_g

    def set_d_steps(self, d_steps: int) -> None:
        """Change how many discriminator updates train_step runs per generator update."""
        self.config = dataclasses.replace(self.config, d_steps=d_steps)

    def parameters_finite(self) -> bool:
        """Return True when every weight of both networks is finite."""
        modules = (self.generator, self.discriminator)
        return all(bool(torch.isfinite(param).all()) for module in modules for param in module.parameters())

    # --------------------------------------------------------------------------------- previews

    def _preview_inputs(self, n_points: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return fixed (noise, real points) for previews, so frames differ only by training."""
        if n_points not in self._preview_cache:
            rng = _stream_generator(self.config.seed, _STREAM_PREVIEW)
            noise = torch.randn(n_points, self.config.noise_dim, generator=rng)
            real = sample_distribution(self.config.dist, n_points, rng, self.config.custom_points)
            self._preview_cache = {n_points: (noise.to(self.device), real)}
        return self._preview_cache[n_points]

    def _scores_to_display(self, scores: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(scores) if self.loss_fn.score_is_logit else scores

    def snapshot(self, n_points: int = 512, grid_size: int = 64, phase: str | None = None) -> dict[str, Any]:
        """Draw a preview of the current state for the playground plot.

        Returns:
            A dict of plain values and C-contiguous float32 NumPy arrays:
            "real" (n_points, 2) and "fake" (n_points, 2) points, from fixed noise and data;
            "d_grid" (grid_size, grid_size): the discriminator over the plot window, row i at
            y = ymin + i * (ymax - ymin) / (grid_size - 1), column j likewise along x;
            "d_grid_label": "P(real) = sigmoid(D(x))" or "critic score D(x)";
            "extent" (4,): xmin, xmax, ymin, ymax;
            "arrows_from" / "arrows_to" (M, 2): the first M fake points and where a step along
            minus the gradient of G's loss with respect to each point would move it; the longest
            arrow is ARROW_MAX_FRACTION of the plot width, the rest to scale;
            "arrows_max_grad_norm": the largest of those gradient norms before scaling;
            "step", "d_updates", "phase" ("init", "d", "g" or "train", or ``phase``), "dist", "loss".
        """
        noise, real = self._preview_inputs(n_points)
        extent = plot_extent(self.config.dist, self.config.custom_points)
        with torch.no_grad():
            fake = self.generator(noise)
            xs = torch.linspace(extent[0], extent[1], grid_size, device=self.device)
            ys = torch.linspace(extent[2], extent[3], grid_size, device=self.device)
            grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # each (grid_size, grid_size), rows along y
            grid_points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)  # (grid_size**2, 2)
            d_grid = self._scores_to_display(self.discriminator(grid_points)).reshape(grid_size, grid_size)

        arrows_from = fake[:PREVIEW_ARROWS].detach().clone().requires_grad_(True)
        g_loss = self.loss_fn.generator_loss(self.discriminator(arrows_from))
        (gradient,) = torch.autograd.grad(g_loss, arrows_from)  # touches no parameter .grad
        norms = gradient.norm(dim=1)
        max_norm = float(norms.max()) if len(norms) else 0.0
        scale = ARROW_MAX_FRACTION * (extent[1] - extent[0]) / max_norm if max_norm > 0 else 0.0
        arrows_to = arrows_from.detach() - gradient * scale

        def as_array(tensor: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(tensor.detach().float().cpu().numpy(), dtype=np.float32)

        return {
            "real": as_array(real),
            "fake": as_array(fake),
            "d_grid": as_array(d_grid),
            "d_grid_label": "P(real) = sigmoid(D(x))" if self.loss_fn.score_is_logit else "critic score D(x)",
            "extent": np.asarray(extent, dtype=np.float32),
            "arrows_from": as_array(arrows_from),
            "arrows_to": as_array(arrows_to),
            "arrows_max_grad_norm": max_norm,
            "step": self.step,
            "d_updates": self.d_updates,
            "phase": phase or self.last_phase,
            "dist": self.config.dist,
            "loss": self.config.loss,
        }

    # ------------------------------------------------------------------------------- evaluation

    def evaluate(self, n_points: int = EVAL_POINTS) -> dict[str, float]:
        """Measure sample quality on fixed evaluation noise and data (the same on every call and rank).

        Returns:
            "quality/sliced_wasserstein" (data units, lower is better) and
            "quality/sliced_wasserstein_floor" (the same measure between two real samples),
            "quality/mmd"; for mixtures also "quality/modes_covered", "quality/modes_total" and
            "quality/high_quality" (fraction of samples within 3 standard deviations of a mode).
        """
        rng = _stream_generator(self.config.seed, _STREAM_EVAL)
        points = self.config.custom_points
        real = sample_distribution(self.config.dist, n_points, rng, points)
        real_again = sample_distribution(self.config.dist, n_points, rng, points)
        noise = torch.randn(n_points, self.config.noise_dim, generator=rng).to(self.device)
        with torch.no_grad():
            fake = self.generator(noise).float().cpu()

        if not bool(torch.isfinite(fake).all()):
            raise NonFiniteLossError(f"The generator produces NaN or infinite points at step {self.step}; "
                                     "lower the learning rate, then resume from an earlier checkpoint or restart.")
        projection_seed = rng.initial_seed() + 1
        metrics = {
            "quality/sliced_wasserstein": sliced_wasserstein(real, fake, 128, torch.Generator().manual_seed(projection_seed)),
            "quality/sliced_wasserstein_floor": sliced_wasserstein(real, real_again, 128,
                                                                   torch.Generator().manual_seed(projection_seed)),
            "quality/mmd": mmd_rbf(real[:1024], fake[:1024]),
        }
        centers = mode_centers(self.config.dist, points)
        if centers is not None:
            coverage = modes_covered(fake, centers, radius=3 * mode_std(self.config.dist))
            metrics["quality/modes_covered"] = float(coverage.covered)
            metrics["quality/modes_total"] = float(coverage.total)
            metrics["quality/high_quality"] = coverage.high_quality
        return metrics

    # ------------------------------------------------------------------------------ checkpoints

    def save(self, path: str | Path) -> Path:
        """Save weights, optimizers, counters and every rank's random state; return the weights path.

        In a distributed run every rank must call this (it gathers random states); rank 0 writes.
        """
        rng_states = gather_objects((_encode_state(self.data_rng), _encode_state(self.noise_rng)), self.distributed)
        extra = {
            **self.extra_metadata,
            "d_updates": self.d_updates,
            "rng": {"world_size": self.distributed.world_size,
                    "data": [state[0] for state in rng_states],
                    "noise": [state[1] for state in rng_states]},
            "hardware": {"device": str(self.device), "precision": "fp32", "world_size": self.distributed.world_size},
        }
        weights_path = checkpoint_paths(path)[0]
        if self.distributed.is_main:
            save_checkpoint(
                path, kind=CHECKPOINT_KIND, config=self.config.to_dict(), step=self.step,
                modules={"generator": self.generator, "discriminator": self.discriminator},
                optimizers={"generator": self.optimizer_g, "discriminator": self.optimizer_d},
                metrics=self.last_metrics, extra=extra)
        barrier(self.distributed)
        self.last_checkpoint = weights_path
        return weights_path

    @classmethod
    def load(cls, path: str | Path, compute: Compute | None = None,
             distributed: DistributedContext | None = None) -> PlaygroundTrainer:
        """Rebuild a trainer from a checkpoint so that training continues exactly where it stopped.

        The random streams continue exactly when the world size matches the saving run's. With
        another world size they are reseeded from (seed, step, rank) and a warning is logged.

        Raises:
            CheckpointError: when the files are missing, corrupt, of another kind, or do not fit.
        """
        checkpoint = load_checkpoint(path, expected_kind=CHECKPOINT_KIND)
        try:
            config = PlaygroundConfig.from_dict(checkpoint.config)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{checkpoint.path} has an invalid playground config ({error}). "
                                  "Pick another checkpoint or retrain.") from error
        trainer = cls(config, compute, distributed)
        restore(checkpoint, {"generator": trainer.generator, "discriminator": trainer.discriminator},
                {"generator": trainer.optimizer_g, "discriminator": trainer.optimizer_d})
        trainer.step = checkpoint.step
        trainer.d_updates = int(checkpoint.extra.get("d_updates", checkpoint.step * config.d_steps))
        trainer.last_metrics = dict(checkpoint.metrics)
        trainer.last_checkpoint = checkpoint.path
        trainer._restore_rng(checkpoint.extra.get("rng", {}), checkpoint.path)
        return trainer

    def _restore_rng(self, saved: Mapping[str, Any], source: Path) -> None:
        rank, world_size = self.distributed.rank, self.distributed.world_size
        if saved.get("world_size") == world_size and len(saved.get("data", ())) == world_size:
            try:
                self.data_rng.set_state(_decode_state(saved["data"][rank]))
                self.noise_rng.set_state(_decode_state(saved["noise"][rank]))
                return
            except (ValueError, RuntimeError, KeyError, IndexError) as error:
                raise CheckpointError(f"{source} has a corrupt random-number state ({error}). "
                                      "Pick another checkpoint or retrain.") from error
        logger.warning("%s was saved by %s process(es) but this run has %d; data and noise are reseeded, "
                       "so training continues but not bit for bit.", source, saved.get("world_size", "?"), world_size)
        self.data_rng = _stream_generator(self.config.seed + self.step, _STREAM_DATA, rank)
        self.noise_rng = _stream_generator(self.config.seed + self.step, _STREAM_NOISE, rank)


# ------------------------------------------------------------------------------------------ jobs

def checkpoint_stem(directory: Path, step: int) -> Path:
    """Return the checkpoint stem for ``step`` inside ``directory`` (``step_000500``)."""
    return Path(directory) / f"step_{step:06d}"


class PlaygroundTrainJob:
    """Trains a PlaygroundTrainer for ``steps`` generator updates, streaming metrics and previews.

    Events: Started; Metrics every ``metrics_every`` steps; Progress and a Sample(kind="playground")
    at most every ``snapshot_interval_s`` seconds (None: no previews); CheckpointSaved every
    ``checkpoint_every`` steps and at the end when ``checkpoint_dir`` is set; then Finished whose
    summary contains evaluate()'s metrics. Cancel and pause are checked before every step.
    """

    name = "playground.train"

    def __init__(self, trainer: PlaygroundTrainer, steps: int, snapshot_interval_s: float | None = 0.04,
                 metrics_every: int = 10, checkpoint_dir: str | Path | None = None,
                 checkpoint_every: int = 500) -> None:
        if steps < 0 or metrics_every < 1 or checkpoint_every < 1:
            raise ValueError(f"Expected steps >= 0, metrics_every >= 1 and checkpoint_every >= 1; got "
                             f"{steps}, {metrics_every} and {checkpoint_every}.")
        self.trainer = trainer
        self.steps = steps
        self.snapshot_interval_s = snapshot_interval_s
        self.metrics_every = metrics_every
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every

    def _save(self, sink: EventSink) -> None:
        trainer = self.trainer
        if self.checkpoint_dir is None:
            return
        stem = checkpoint_stem(self.checkpoint_dir, trainer.step)
        if trainer.last_checkpoint == checkpoint_paths(stem)[0]:
            return  # this step is already saved
        if not trainer.parameters_finite():
            raise NonFiniteLossError(
                f"Training stopped at step {trainer.step}: the weights became NaN or infinite, so no checkpoint "
                f"was written. The last good checkpoint is kept at {trainer.last_checkpoint}. "
                "Lower the learning rate or change the loss, then resume or restart.")
        path = trainer.save(stem)
        sink(CheckpointSaved(trainer.step, path))

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        trainer = self.trainer
        context = trainer.distributed
        target = trainer.step + self.steps
        sink(Started(self.name, self.steps, config=trainer.config.to_dict()))
        clock = ProgressClock(self.steps)
        interval_s = self.snapshot_interval_s if self.snapshot_interval_s is not None else 0.1
        last_emit = -math.inf
        cancelled = False

        while trainer.step < target:
            cancel.wait_if_paused()
            if any_rank(cancel.cancelled, context):
                cancelled = True
                break
            values = trainer.train_step()
            check_finite(trainer.step, values, trainer.last_checkpoint)

            if trainer.step % self.metrics_every == 0:
                sink(Metrics(trainer.step, values))
            now = time.perf_counter()
            if now - last_emit >= interval_s:
                last_emit = now
                sink(clock.tick(self.steps - (target - trainer.step)))
                if self.snapshot_interval_s is not None and context.is_main:
                    sink(Sample(trainer.step, SAMPLE_KIND, trainer.snapshot()))
            if trainer.step % self.checkpoint_every == 0:
                self._save(sink)

        done = self.steps - (target - trainer.step)
        sink(clock.tick(done))
        self._save(sink)
        if self.snapshot_interval_s is not None and context.is_main:
            sink(Sample(trainer.step, SAMPLE_KIND, trainer.snapshot()))
        summary: dict[str, Any] = {"step": trainer.step, "steps_run": done, **trainer.evaluate()}
        if trainer.last_checkpoint is not None:
            summary["checkpoint"] = str(trainer.last_checkpoint)
        sink(Finished(summary, cancelled=cancelled))


class PlaygroundStepJob:
    """Runs a single discriminator ("d") or generator ("g") update, for stepping by hand."""

    name = "playground.step"

    def __init__(self, trainer: PlaygroundTrainer, phase: str) -> None:
        if phase not in ("d", "g"):
            raise ValueError(f"Phase must be 'd' (discriminator) or 'g' (generator), got {phase!r}.")
        self.trainer = trainer
        self.phase = phase

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        trainer = self.trainer
        sink(Started(self.name, 1, config=trainer.config.to_dict()))
        values = trainer.step_d() if self.phase == "d" else trainer.step_g()
        check_finite(trainer.step, values, trainer.last_checkpoint)
        sink(Metrics(trainer.step, values))
        sink(Sample(trainer.step, SAMPLE_KIND, trainer.snapshot(phase=self.phase)))
        sink(Finished(dict(values)))
