"""Resynthesis quality of the bundled GAN vocoder beside Griffin-Lim on held-out VCC 2016 speech.

    .venv/bin/python bench/vocoder_quality.py [--checkpoint CKPT] [--per-speaker 16] [--output report.json]

Both vocoders resynthesize the SPEECH_MEL log-mels of every test sentence of speaker TF2 (never
used in training) and of the training speakers SF1, SM1 and TM3 (sentences held out of training).
Each output is scored against the original with wide-band PESQ and STOI. The script prints the
mean per set and vocoder as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import torch

from engine.vocoder import bundled_vocoder_path
from engine.vocoder.evaluate import evaluate_vocoders


def print_report(report: dict[str, object], output: Path | None) -> None:
    """Print ``report`` as indented JSON, and also write it to ``output`` when one is given."""
    text = json.dumps(report, indent=2)
    print(text)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="GAN vocoder checkpoint (default: the bundled one)")
    parser.add_argument("--per-speaker", type=int, help="test sentences per speaker (default: all 16)")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    checkpoint = args.checkpoint or bundled_vocoder_path()
    started = time.perf_counter()
    report = {"checkpoint": str(checkpoint), **evaluate_vocoders(checkpoint, per_speaker=args.per_speaker),
              "wall_s": round(time.perf_counter() - started, 1), "threads": torch.get_num_threads(),
              "cpu": platform.processor() or platform.machine()}
    print_report(report, args.output)


if __name__ == "__main__":
    main()
