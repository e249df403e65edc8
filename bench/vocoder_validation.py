"""Validation PESQ of vocoder checkpoints, the score that picks the shipped checkpoint of a training run.

    .venv/bin/python bench/vocoder_validation.py RUN_DIR_OR_CHECKPOINT [...] [--average K] [--per-speaker N] \
        [--output scores.json]

Each checkpoint resynthesizes N (default two, at most 16) VCC 2016 validation sentences of each
training speaker (SF1, SM1, TM3). These sentences are held out of training and are not the test
sentences of bench/vocoder_quality.py. The script prints the mean wide-band PESQ and STOI per checkpoint, and
Griffin-Lim's on the same sentences, as JSON. With --average K, each run folder is scored as weight
averages of K consecutive checkpoints (the candidates of `default_model --average K`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from vocoder_quality import print_report

from engine.vocoder import GriffinLimVocoder, load_vocoder
from engine.vocoder.default_model import checkpoint_windows, window_checkpoint, window_name
from engine.vocoder.evaluate import score_set, summarize, validation_utterances


def candidates(paths: list[Path], average: int) -> list[list[Path]]:
    """Expand run folders into windows of ``average`` consecutive checkpoints, in step order."""
    found: list[list[Path]] = []
    for path in paths:
        if path.is_dir():
            found.extend(checkpoint_windows(path, average))
        else:
            found.append([path])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="training run folders or checkpoint files")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--average", type=int, default=1, metavar="K",
                        help="score weight averages of K consecutive checkpoints of each run folder (default 1)")
    parser.add_argument("--per-speaker", type=int, default=2, metavar="N",
                        help="validation sentences per training speaker (default 2, at most 16)")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    if args.average < 1 or args.per_speaker < 1:
        parser.error(f"--average and --per-speaker must be at least 1, got {args.average} and {args.per_speaker}")
    torch.set_num_threads(args.threads)

    utterances = validation_utterances(per_speaker=args.per_speaker)
    report = {"griffin_lim": summarize(score_set(GriffinLimVocoder(), utterances))}
    for window in candidates(args.paths, args.average):
        name = str(window[0].parent / window_name(window))
        report[name] = summarize(score_set(load_vocoder(window_checkpoint(window)), utterances))
        print(name, json.dumps(report[name]), flush=True)
    print_report(report, args.output)


if __name__ == "__main__":
    main()
