"""Train the shipped default conditional GAN on procedural faces and write it with its evaluation.

    .venv/bin/python -m engine.image.train_default

writes ``resources/models/image/procedural_tag_classifier.{safetensors,json}`` (the judge, unless
it exists and ``--retrain-classifier`` is not given) and ``default_cgan.{safetensors,json}``. The
JSON names the data, the command, the hardware, the training time and the metrics measured on
held-out procedural faces by the procedural tag classifier.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from engine.core.console import ConsoleReporter, run_in_console
from engine.core.device import pick_compute
from engine.core.jobs import Event, Sample
from engine.image.datasets import load_image_data
from engine.image.evaluate import ClassifierConfig, evaluate_generator, load_classifier
from engine.image.generate import ImageGenerator, save_png
from engine.image.runs import default_classifier_path, default_model_path, hardware_description, train_and_save_classifier
from engine.image.train import ImageGanTrainJob, ImageTrainConfig

logger = logging.getLogger(__name__)

# The default model is small (32 channels, 0.54 M generator parameters, 2.2 MB). On a shared
# 2-core AVX512-BF16 CPU with one torch thread it trained at 3 to 6 steps per second. Without the
# mode-seeking term the generator drew one face per tag set (same-tag diversity 0.15 of the real
# images'). With it, eye accuracy needs more steps: 80 % at 3000, 90 % at 4000.
DEFAULT_CONFIG = ImageTrainConfig(model="cgan", dataset="procedural", resolution=32, procedural_faces=20_000,
                                  steps=5500, batch_size=64, g_channels=32, d_channels=32, sample_every=250,
                                  checkpoint_every=500, seed=0)
EVALUATION_COUNT = 2000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the default conditional GAN on procedural faces.")
    parser.add_argument("--steps", type=int, default=DEFAULT_CONFIG.steps, help="training steps")
    parser.add_argument("--output", type=Path, default=default_model_path(), help="model file to write")
    parser.add_argument("--classifier", type=Path, default=default_classifier_path("procedural"),
                        help="procedural tag classifier (trained first when missing)")
    parser.add_argument("--retrain-classifier", action="store_true", help="train the classifier even if it exists")
    parser.add_argument("--classifier-steps", type=int, default=ClassifierConfig().steps, help="classifier training steps")
    parser.add_argument("--work-dir", type=Path, help="checkpoint folder (default: under the user data folder)")
    parser.add_argument("--samples-dir", type=Path, help="save preview grids here")
    parser.add_argument("--resume", type=Path, metavar="CKPT",
                        help="continue a run of this script from its checkpoint; resuming is exact, so the result "
                             "equals one uninterrupted run of --steps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    command = "python -m engine.image.train_default " + " ".join(sys.argv[1:] if argv is None else argv)

    if args.retrain_classifier or not args.classifier.with_suffix(".json").is_file():
        train_and_save_classifier("procedural", args.classifier, ClassifierConfig(steps=args.classifier_steps), command)
    classifier = load_classifier(args.classifier)
    logger.info("Judge: %s, held-out %s", args.classifier, classifier.metrics)

    config = ImageTrainConfig(**{**asdict(DEFAULT_CONFIG), "steps": args.steps,
                                 "output_dir": str(args.work_dir) if args.work_dir else None})
    job = ImageGanTrainJob(config, resume_from=args.resume)
    reporter = ConsoleReporter()

    def sink(event: Event) -> None:
        if isinstance(event, Sample) and args.samples_dir is not None:
            save_png(event.data["grid"], args.samples_dir / f"grid_{event.step:06d}.png", scale=2)
        reporter(event)

    started = time.perf_counter()
    code = run_in_console(job, sink)
    if code != 0 or job.trainer is None:
        return code
    train_s = time.perf_counter() - started

    trainer = job.trainer
    model = ImageGenerator(trainer.ema.model, trainer.gan_config, trainer.vocabulary, config.kind)
    heldout = load_image_data("procedural", config.resolution, split="heldout", procedural_faces=EVALUATION_COUNT)
    metrics = evaluate_generator(model, classifier, heldout, count=EVALUATION_COUNT, seed=0)
    extra = {
        "train_data": f"procedural faces: {config.procedural_faces} at {config.resolution} px, seed {config.seed}",
        "evaluation_data": heldout.description,
        "judge": f"{args.classifier.name} (held-out accuracy {classifier.metrics})",
        "command": command,
        "hardware": hardware_description(pick_compute(config.device, config.precision)),
        "train_time_s": round(train_s, 1),
        "resumed_from": str(args.resume) if args.resume else None,
    }
    path = model.save(args.output, metrics=metrics, extra=extra, step=trainer.step,
                      train_config=trainer.checkpoint_config()["train"])
    logger.info("Wrote %s with %s", path, metrics)
    print({key: round(value, 4) for key, value in metrics.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
