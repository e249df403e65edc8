"""Train, evaluate and ship the bundled GAN vocoder (resources/models/vocoder/).

    OMP_NUM_THREADS=1 python -m engine.vocoder.default_model --run-dir /tmp/vocoder_run --time-limit-min 40

Run it again with the same --run-dir to resume training from the newest checkpoint there, or with
--skip-training to export a finished run again. --continue-from starts a new run from the weights of
an exported model (the bundled one, say) with fresh optimizers and no warm-up, so a model can be
trained further after its run folder is gone. --average K ships the weight average of K consecutive
checkpoints, chosen like a single one.

The run trains on VCC 2016 speakers SF1, SM1 and TM3 (held-out sentences excluded), FSDD and the
espeak-ng corpus, and keeps speaker TF2 out. It then writes the generator and discriminators in
float16 with a JSON sidecar. The sidecar names the data, the command, the hardware, the steps and
the wall time, and gives the held-out PESQ and STOI beside Griffin-Lim's.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch

from engine.core.checkpoints import (Checkpoint, CheckpointError, average_checkpoints, load_checkpoint, restore,
                                     save_checkpoint)
from engine.core.jobs import CheckpointSaved, Metrics
from engine.core.paths import resources_dir
from engine.vocoder.gan_vocoder import Discriminators, Generator
from engine.vocoder.train import (CHECKPOINT_KIND, HELD_OUT_VCC_SPEAKER, TRAINING_VCC_SPEAKERS, VocoderTrainConfig,
                                  train_vocoder)

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "istft_hifigan_16k"
# The network and loss weights are VocoderTrainConfig's defaults, which the bundled model has. The
# bundled model was trained in stages, each a run of this script with --set overrides: warm-up at a
# higher learning rate, then at a lower one, then adversarial steps, last at a generator rate of 2e-4.
# Its JSON and docs/benchmarks.md give the commands. A warm-up step (mel, STFT and phase losses) took
# about 0.3 s on one CPU thread, an adversarial step about 0.9 s.
# NOTE: the one-run schedule below (adversarial terms from step 1500) was not run with this network.
DEFAULT_PRESET = VocoderTrainConfig(steps=10000, adversarial_start_step=1500, checkpoint_every=500,
                                    sample_every=500, device="cpu", precision="fp32")


def apply_overrides(config: VocoderTrainConfig, assignments: Sequence[str]) -> VocoderTrainConfig:
    """Return ``config`` with each ``NAME=VALUE`` assignment applied.

    NAME is a field of the config. A nested field is written ``generator.FIELD``,
    ``discriminator.FIELD`` or ``loss_weights.FIELD``. VALUE is parsed as JSON (``1024``, ``[2, 2]``,
    ``true``), or kept as text when it is not valid JSON.

    Raises:
        ValueError: for an unknown field or a missing ``=``; the config's own checks raise for bad values.
    """
    values = config.to_json()
    for assignment in assignments:
        name, separator, text = assignment.partition("=")
        section, dot, field_name = name.rpartition(".")
        target = values.get(section) if dot else values
        if not separator or not isinstance(target, dict) or field_name not in target:
            raise ValueError(f"Invalid --set {assignment!r}: use NAME=VALUE with NAME a field of the training config "
                             f"({', '.join(sorted(values))}) or SECTION.FIELD for generator, discriminator or loss_weights.")
        try:
            target[field_name] = json.loads(text)
        except json.JSONDecodeError:
            target[field_name] = text
    return VocoderTrainConfig.from_json(values)


def default_model_path(name: str = DEFAULT_MODEL_NAME) -> Path:
    """Return the checkpoint stem of the bundled vocoder."""
    return resources_dir() / "models" / "vocoder" / name


def export_slim(checkpoint: Checkpoint, output: Path, metadata: dict[str, object]) -> Path:
    """Write the generator and discriminators of ``checkpoint`` in float16, without optimizer state.

    float16 halves the file. The evaluation that goes into the JSON runs on the exported weights.
    """
    config = VocoderTrainConfig.from_json(checkpoint.config)
    generator = Generator(config.generator)
    discriminators = Discriminators(config.discriminator)
    restore(checkpoint, {"generator": generator, "discriminators": discriminators})
    generator.half()
    discriminators.half()
    return save_checkpoint(output, kind=CHECKPOINT_KIND, config=checkpoint.config, step=checkpoint.step,
                           modules={"generator": generator, "discriminators": discriminators},
                           metrics=checkpoint.metrics, extra={**checkpoint.extra, **metadata})


def checkpoint_windows(run_dir: Path, average: int) -> list[list[Path]]:
    """Return the checkpoints of ``run_dir`` that may be shipped, in windows of ``average`` consecutive ones.

    Only adversarially trained checkpoints count, unless the run never reached its adversarial start
    step. A run with fewer checkpoints than ``average`` gives one window of all of them.

    Raises:
        ValueError: when ``average`` is below 1 or the folder contains no checkpoint.
    """
    if average < 1:
        raise ValueError(f"Invalid average {average}: average at least 1 checkpoint.")
    candidates = []
    for weights in sorted(run_dir.glob("step_*.safetensors")):
        checkpoint = load_checkpoint(weights, expected_kind=CHECKPOINT_KIND)
        config = VocoderTrainConfig.from_json(checkpoint.config)
        candidates.append((weights, checkpoint.step > config.adversarial_start_step))
    if any(adversarial for _, adversarial in candidates):
        candidates = [(weights, adversarial) for weights, adversarial in candidates if adversarial]
    paths = [weights for weights, _ in candidates]
    if not paths:
        raise ValueError(f"{run_dir} contains no checkpoint; train first.")
    if len(paths) <= average:
        return [paths]
    return [paths[end - average:end] for end in range(average, len(paths) + 1)]


def window_checkpoint(window: Sequence[Path]) -> Checkpoint:
    """Load the checkpoint of a one-checkpoint window, or the weight average of a longer one."""
    if len(window) == 1:
        return load_checkpoint(window[0], expected_kind=CHECKPOINT_KIND)
    return average_checkpoints(window, expected_kind=CHECKPOINT_KIND)


def window_name(window: Sequence[Path]) -> str:
    """Return the file name of a one-checkpoint window, or the first and last names of a longer one."""
    return window[0].name if len(window) == 1 else f"mean of {window[0].name} to {window[-1].name}"


def select_by_validation(run_dir: Path, average: int = 1, per_speaker: int = 2) -> tuple[Checkpoint, dict[str, object]]:
    """Return the checkpoint (or mean of ``average`` consecutive ones) with the best mean validation PESQ.

    The score is over ``per_speaker`` validation sentences of each training speaker (16 exist). These
    sentences are held out of training and are not the test sentences of
    ``evaluate.py``, so choosing by them leaves the reported test scores unbiased.
    """
    from engine.vocoder.evaluate import score_set, summarize, validation_utterances
    from engine.vocoder.loading import load_vocoder

    utterances = validation_utterances(per_speaker=per_speaker)
    scores: dict[str, float] = {}
    windows = {window_name(window): window for window in checkpoint_windows(run_dir, average)}
    for name, window in windows.items():
        scores[name] = summarize(score_set(load_vocoder(window_checkpoint(window)), utterances))["pesq_wb"]
        logger.info("validation PESQ of %s: %.3f", name, scores[name])
    best = max(scores, key=scores.__getitem__)
    rule = "best mean wide-band PESQ on the VCC validation sentences"
    if average > 1:
        rule += f", over weight averages of {average} consecutive checkpoints"
    return window_checkpoint(windows[best]), {"rule": rule, "shipped": best, "validation_utterances": len(utterances),
                                              "validation_pesq_wb": scores}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train and ship the bundled GAN vocoder.")
    parser.add_argument("--run-dir", type=Path, required=True, help="folder for the training checkpoints")
    parser.add_argument("--time-limit-min", type=float, default=62.0,
                        help="stop training after this many minutes and ship the last checkpoint (default %(default)s)")
    parser.add_argument("--steps", type=int, default=DEFAULT_PRESET.steps, help="total training steps")
    parser.add_argument("--skip-training", action="store_true", help="export a checkpoint of --run-dir without training")
    parser.add_argument("--select", choices=("last", "validation"), default="validation",
                        help="ship the last checkpoint, or the adversarially trained checkpoint with the best "
                             "PESQ on the validation sentences (default %(default)s)")
    parser.add_argument("--training-wall-time-s", type=float,
                        help="with --skip-training: the wall time the training took, for the JSON sidecar")
    parser.add_argument("--continue-from", type=Path,
                        help="start from the weights of this exported model, adversarially from the first step; "
                             "its training history goes into the new JSON")
    parser.add_argument("--average", type=int, default=1, metavar="K",
                        help="ship the weight average of K consecutive checkpoints instead of one (default %(default)s)")
    parser.add_argument("--validation-per-speaker", type=int, default=2, metavar="N",
                        help="validation sentences per training speaker that choose the checkpoint (default %(default)s, "
                             "at most 16)")
    parser.add_argument("--name", default=DEFAULT_MODEL_NAME, help="file name of the shipped model, without suffix")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one setting of the preset, e.g. --set generator.istft_n_fft=1024 (repeatable)")
    args = parser.parse_args(argv)
    if args.average < 1:
        parser.error(f"--average must be at least 1, got {args.average}")
    if args.validation_per_speaker < 1:
        parser.error(f"--validation-per-speaker must be at least 1, got {args.validation_per_speaker}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)

    command = " ".join(["python -m engine.vocoder.default_model"] + list(sys.argv[1:] if argv is None else argv))
    time_limit_s = args.time_limit_min * 60 if args.time_limit_min > 0 else None
    config = replace(DEFAULT_PRESET, steps=args.steps, time_limit_s=time_limit_s)
    history: list[dict[str, object]] = []
    if args.continue_from is not None:
        config = replace(config, adversarial_start_step=0)
        earlier = load_checkpoint(args.continue_from, expected_kind=CHECKPOINT_KIND)
        history = list(earlier.extra.get("history", []))
        history.append({key: earlier.extra.get(key) for key in ("command", "training_commands", "steps",
                                                                  "training_wall_time_s", "hardware")})
        if history[-1]["steps"] is None:  # a training checkpoint rather than an exported model
            history[-1].update(steps=earlier.step, checkpoint=str(args.continue_from))
    # Applied last, so that --set adversarial_start_step=N also holds for a run with --continue-from.
    try:
        config = apply_overrides(config, args.set)
    except ValueError as error:
        parser.error(str(error))
    wall_s = None
    if not args.skip_training:
        started = time.perf_counter()

        def on_event(event: object) -> None:
            if isinstance(event, Metrics) and (event.step % 100 == 0 or "validation/mel_l1" in event.values):
                logger.info("step %d: %s", event.step, {key: round(value, 4) for key, value in event.values.items()})
            elif isinstance(event, CheckpointSaved):
                logger.info("checkpoint %s", event.path)

        resume = args.run_dir if any(args.run_dir.glob("*.json")) else None
        initialize = args.continue_from if resume is None else None
        if resume is not None and args.continue_from is not None:
            logger.info("Resuming the run in %s; --continue-from %s is ignored because the run already started",
                        args.run_dir, args.continue_from)
        train_vocoder(config, output_dir=args.run_dir, resume_from=resume, initialize_from=initialize,
                      on_event=on_event, extra_metadata={"command": command, "history": history})
        wall_s = time.perf_counter() - started

    # Imported here so that training starts even while the evaluation code is being changed.
    from engine.vocoder.evaluate import evaluate_vocoders

    try:
        if args.select == "validation":
            trained, selection = select_by_validation(args.run_dir, args.average, args.validation_per_speaker)
        else:
            window = checkpoint_windows(args.run_dir, args.average)[-1]
            trained, selection = window_checkpoint(window), {"rule": "last checkpoint", "shipped": window_name(window)}
    except (ValueError, CheckpointError) as error:
        logger.error("Export of %s failed: %s", args.run_dir, error)
        return 1
    output = default_model_path(args.name)
    metadata: dict[str, object] = {
        "training_data": {
            "vcc2016": f"speakers {', '.join(TRAINING_VCC_SPEAKERS)}, training sentences only; "
                       f"speaker {HELD_OUT_VCC_SPEAKER} and the held-out sentences were never used",
            "fsdd": "all six speakers, 95% of the recordings (resampled from 8 kHz to 16 kHz)",
            "synthetic": "the espeak-ng corpus: 8 voices x 20 sentences",
        },
        "command": trained.extra.get("command", command),  # the command that trained it
        "export_command": command,
        "steps": trained.step,
        # Earlier stages when this run continued from an exported model: their commands and steps.
        "history": trained.extra.get("history", history),
        "checkpoint_selection": selection,
        "training_wall_time_s": wall_s if wall_s is not None else args.training_wall_time_s,
    }
    export_slim(trained, output, metadata)
    report = evaluate_vocoders(output)
    metadata["metrics_held_out"] = report
    exported = export_slim(trained, output, metadata)
    logger.info("Shipped %s: %s", exported, json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
