"""Quality of the conditional GAN on the real anime faces after the default training length.

    .venv/bin/python bench/image_quality.py [--steps 2000] [--channels 48] [--mode-seeking-weight 0] [--count 1000] [--out DIR]

Trains the cGAN (ImageTrainConfig defaults, dataset "anime", 32 px) on the train split. Then the
shipped anime tag classifier measures it against the held-out split: hair and eye accuracy of
generated images next to the classifier's own held-out accuracy (the ceiling), the classifier
Fréchet distance and the feature diversity ratios. Prints one JSON object and saves a sample grid.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from engine.core.device import pick_compute
from engine.image.datasets import load_image_data
from engine.image.evaluate import evaluate_generator, load_classifier
from engine.image.generate import ImageGenerator, save_png, tile
from engine.image.runs import default_classifier_path, hardware_description
from engine.image.train import GanTrainer, ImageTrainConfig


def main() -> None:
    defaults = ImageTrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=defaults.steps, help="training steps")
    parser.add_argument("--channels", type=int, default=defaults.g_channels, help="generator and discriminator width")
    parser.add_argument("--mode-seeking-weight", type=float, default=defaults.mode_seeking_weight,
                        help="weight of the mode-seeking term (0 turns it off)")
    parser.add_argument("--count", type=int, default=1000, help="generated images to evaluate")
    parser.add_argument("--eval-every", type=int, default=0, help="also evaluate every N steps (0: only at the end)")
    parser.add_argument("--out", type=Path, default=Path("bench_output/image_quality"), help="folder for the sample grid")
    args = parser.parse_args()

    config = ImageTrainConfig(dataset="anime", steps=args.steps, g_channels=args.channels, d_channels=args.channels,
                              mode_seeking_weight=args.mode_seeking_weight)
    compute = pick_compute(config.device, config.precision)
    train = load_image_data("anime", config.resolution, split="train")
    heldout = load_image_data("anime", config.resolution, split="heldout")
    classifier = load_classifier(default_classifier_path("anime"))
    trainer = GanTrainer(config, train, compute)

    history = []
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        trainer.train_step()
        if step == args.steps or (args.eval_every and step % args.eval_every == 0):
            model = ImageGenerator(trainer.ema.model, trainer.gan_config, trainer.vocabulary, config.kind)
            metrics = evaluate_generator(model, classifier, heldout, count=args.count, seed=0)
            history.append({"step": step, "elapsed_s": round(time.perf_counter() - started, 1), **metrics})
            print(json.dumps(history[-1]), flush=True)

    images, _ = model.generate("", seed=0, count=48)
    grid_path = save_png(tile(images, columns=8), args.out / "anime_cgan_samples.png", scale=2)
    print(json.dumps({"result": history[-1], "config": config.non_defaults(), "grid": str(grid_path),
                      "hardware": hardware_description(compute)}, indent=2))


if __name__ == "__main__":
    main()
