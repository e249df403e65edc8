"""Train, test and save the bundled sentiment classifier that scores rewrite candidates.

    python -m engine.text_style.default_classifier
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

from engine.core.device import pick_compute
from engine.core.paths import shared_datasets_dir
from engine.data.text_corpora import load_yelp
from engine.text_style.candidates import default_classifier_path
from engine.text_style.evaluate import ClassifierConfig, classifier_accuracy, save_classifier, train_classifier
from engine.text_style.train import describe_hardware

logger = logging.getLogger(__name__)

# Every Yelp sentence has at most 15 tokens, so this limit keeps all of them.
MAX_TOKENS = 15
# Held-out Yelp test sentences per style for the accuracy stored beside the weights.
TEST_PER_STYLE = 2000
# The evaluation classifier's settings. With them, the 46,935 kept n-grams and their weights take
# 1.1 MB on disk. With --min-count 3, 30,581 n-grams take 0.7 MB at 0.1 points less test accuracy.
DEFAULT_CONFIG = ClassifierConfig()


def train_and_save_classifier(config: ClassifierConfig, output: Path, test_per_style: int = TEST_PER_STYLE) -> dict[str, object]:
    """Train a classifier on the Yelp dev files (human-reference sources removed), test it and save it.

    Returns:
        The report stored in the JSON sidecar: accuracy, n-gram count, file size and training time.
    """
    corpus = load_yelp(shared_datasets_dir(), max_tokens=MAX_TOKENS, test_per_style=test_per_style, seed=config.seed)
    started = time.perf_counter()
    classifier = train_classifier(corpus.train, config)
    training_s = time.perf_counter() - started
    accuracy = classifier_accuracy(classifier, corpus.test)
    logger.info("Classifier with %d n-grams: %.2f%% accuracy on %d held-out Yelp test sentences",
                len(classifier.ngram_index), 100 * accuracy, len(corpus.test[0]) + len(corpus.test[1]))

    report: dict[str, object] = {
        "accuracy/test": 100 * accuracy,
        "test_sentences": len(corpus.test[0]) + len(corpus.test[1]),
        "ngrams": len(classifier.ngram_index),
        "training_time_s": round(training_s, 1),
    }
    extra = {
        "style_names": list(corpus.style_names),
        "classifier_config": {key: getattr(config, key) for key in config.__dataclass_fields__},
        "data": f"Yelp sentiment dev files (Shen et al. 2017) minus the 1000 Li et al. (2018) reference sources, "
                f"{len(corpus.train[0])} negative and {len(corpus.train[1])} positive sentences; accuracy on "
                f"{test_per_style} sentences per style sampled (seed {config.seed}) from the Yelp test files",
        "command": "python -m engine.text_style.default_classifier " + " ".join(sys.argv[1:]),
        "hardware": describe_hardware(pick_compute("cpu", "fp32")),
        "report": report,
    }
    path = save_classifier(classifier, output, extra=extra, metrics={"accuracy/test": 100 * accuracy})
    report["size_bytes"] = path.stat().st_size + path.with_suffix(".json").stat().st_size
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the bundled Yelp sentiment classifier and save it.")
    parser.add_argument("--min-count", type=int, default=DEFAULT_CONFIG.min_count,
                        help=f"drop n-grams seen fewer times in training (default {DEFAULT_CONFIG.min_count})")
    parser.add_argument("--out", type=Path, help="checkpoint stem (default resources/models/text_style/yelp_classifier)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = replace(DEFAULT_CONFIG, min_count=args.min_count)
    report = train_and_save_classifier(config, args.out or default_classifier_path())
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
