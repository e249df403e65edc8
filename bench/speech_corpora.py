"""Benchmark listing the real speech corpora, their F0 statistics, and generating the espeak-ng corpus.

Run: .venv/bin/python bench/speech_corpora.py [--f0-files 8] [--threads 1] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.speech_corpora import load_fsdd, load_vcc2016  # noqa: E402
from engine.data.synthetic_speech import SyntheticSpeechConfig, SyntheticSpeechJob  # noqa: E402
from engine.core.jobs import run_job  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--f0-files", type=int, default=8, help="files per speaker for the F0 statistics")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--skip-synthetic", action="store_true", help="do not generate the espeak-ng corpus")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads {args.threads}")

    for loader in (load_vcc2016, load_fsdd):
        start = time.perf_counter()
        corpus = loader()
        listed_s = time.perf_counter() - start
        print(f"{corpus.name}: listed {len(corpus)} files ({corpus.total_duration_s:.0f} s of audio) "
              f"in {listed_s:.2f} s, {len(corpus) / listed_s:.0f} files/s")

        start = time.perf_counter()
        corpus.statistics(files_per_speaker=args.f0_files)
        stats_s = time.perf_counter() - start
        print(f"{corpus.name}: F0 statistics on {args.f0_files} files x {len(corpus.speakers)} speakers "
              f"in {stats_s:.2f} s")

    if not args.skip_synthetic:
        config = SyntheticSpeechConfig()
        with tempfile.TemporaryDirectory() as output_dir:
            start = time.perf_counter()
            result = run_job(SyntheticSpeechJob(config, Path(output_dir)), lambda event: None)
            generated_s = time.perf_counter() - start
        count = len(config.voices) * len(config.sentences)
        print(f"synthetic corpus: {count} utterances in {generated_s:.1f} s "
              f"({count / generated_s:.1f} utterances/s), {result.summary.get('duration_s', 0):.0f} s of audio")


if __name__ == "__main__":
    main()
