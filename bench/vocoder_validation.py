"""Validation PESQ of vocoder checkpoints, the score that picks the shipped checkpoint of a training run.

    .venv/bin/python bench/vocoder_validation.py RUN_DIR_OR_CHECKPOINT [...] [--output scores.json]

Each checkpoint resynthesizes two VCC 2016 validation sentences of each training speaker (SF1, SM1,
TM3). These sentences are held out of training and are not the test sentences of
bench/vocoder_quality.py. The script prints the mean wide-band PESQ and STOI per checkpoint, and
Griffin-Lim's on the same sentences, as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from vocoder_quality import print_report

from engine.vocoder import GriffinLimVocoder, load_vocoder
from engine.vocoder.evaluate import score_set, summarize, validation_utterances


def checkpoints(paths: list[Path]) -> list[Path]:
    """Expand run folders into their step_*.safetensors files, in step order."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.glob("step_*.safetensors")) if path.is_dir() else [path])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="training run folders or checkpoint files")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    utterances = validation_utterances()
    report = {"griffin_lim": summarize(score_set(GriffinLimVocoder(), utterances))}
    for path in checkpoints(args.paths):
        report[str(path)] = summarize(score_set(load_vocoder(path), utterances))
        print(path, json.dumps(report[str(path)]), flush=True)
    print_report(report, args.output)


if __name__ == "__main__":
    main()
