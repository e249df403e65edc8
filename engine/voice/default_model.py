"""Train, evaluate and save the shipped multi-target voice model (resources/models/voice/).

    python -m engine.voice.default_model --threads 1

Speakers: VCC 2016 SF1, SM1 and TM3, the 6 FSDD speakers and the 8 espeak-ng voices of the
synthetic corpus. VCC 2016 TF2 stays out, so conversion from and fine-tuning on a voice the model
has never heard can be tested with it. ``--evaluate-only CKPT`` evaluates and ships an existing
checkpoint of such a run instead of training.
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

from engine.core.checkpoints import load_checkpoint
from engine.core.jobs import CheckpointSaved, Failed, Metrics, run_job
from engine.data.speech_corpora import load_fsdd, load_vcc2016
from engine.core.paths import shared_datasets_dir
from engine.data.synthetic_speech import ensure_synthetic_corpus, synthetic_corpus_dir
from engine.voice.data import training_files
from engine.voice.evaluate import fsdd_benchmark, vcc_benchmark
from engine.voice.train import VoiceTrainJob
from engine.voice.voice_model import DEFAULT_MODEL_NAME, VoiceConfig, default_voice_model_path, load_voice_model

logger = logging.getLogger(__name__)

VCC_SPEAKERS = ("SF1", "SM1", "TM3")
FSDD_UTTERANCES_PER_SPEAKER = 150  # of about 400 held-in per speaker; more adds little for 6 voices
DEFAULT_CONFIG = VoiceConfig(method="multi_target", channels=96, residual_blocks=3, code_dim=32, embed_dim=64,
                             crop_frames=64, batch_size=16, steps=6000, stage2_steps=3000, learning_rate=5e-4,
                             discriminator_learning_rate=2e-4, checkpoint_every=500, metrics_every=100)
# The command that trained the shipped model; a checkpoint trained by this script records its own command.
TRAIN_COMMAND = "python -m engine.voice.default_model --threads 1"
DATA_DESCRIPTION = ("VCC 2016 training speech of SF1, SM1 and TM3 (held-in 80 %, same sentences held out for "
                    "every speaker), FSDD speakers george, jackson, lucas, nicolas, theo and yweweler (150 held-in "
                    "recordings each), and the 8 voices of the espeak-ng synthetic corpus (held-in 80 %). "
                    "VCC 2016 TF2 is not used.")


def training_file_lists() -> dict[str, list[Path]]:
    """Return the held-in files per speaker of the shipped model's three corpora."""
    files = training_files(load_vcc2016(speakers=("SF1", "SM1", "TF2", "TM3")), VCC_SPEAKERS)
    files.update(training_files(load_fsdd(), max_per_speaker=FSDD_UTTERANCES_PER_SPEAKER))
    files.update(training_files(ensure_synthetic_corpus()))
    return files


def evaluate_model(path: Path) -> dict[str, object]:
    """Score a multi-target model on VCC 2016 (SF1<->TM3 and unseen TF2 -> SF1, TM3) and FSDD.

    Stage 1, stage 2 and the F0-only baseline (stage 0) are reported side by side.
    """
    model = load_voice_model(path)
    vcc = load_vcc2016()
    return {
        "vcc2016": vcc_benchmark(model, vcc, [("SF1", "TM3"), ("TM3", "SF1")], utterances_per_pair=16,
                                 stages=(0, 1, 2)),
        "vcc2016_unseen_source_TF2": vcc_benchmark(model, vcc, [("TF2", "SF1"), ("TF2", "TM3")],
                                                   utterances_per_pair=16, stages=(0, 1, 2)),
        "fsdd": fsdd_benchmark(model, load_fsdd(), utterances_per_speaker=10, stages=(0, 1, 2)),
    }


def _portable(path: str) -> str:
    for root, name in ((shared_datasets_dir(), "shared datasets"), (synthetic_corpus_dir(), "synthetic corpus")):
        if Path(path).is_relative_to(root):
            return f"{name}: {Path(path).relative_to(root)}"
    return path


def ship(checkpoint: Path, output: Path, command: str) -> dict[str, object]:
    """Save ``checkpoint`` as ``output`` with float16 weights and no optimizer state, then evaluate that file.

    The metrics in the JSON are measured on the saved file, so they include the float16 rounding.
    """
    model = load_voice_model(checkpoint)
    step = load_checkpoint(checkpoint).step
    # Training files are named relative to their corpus folders, not by this machine's absolute paths.
    model.extra["sources"] = {speaker: [_portable(path) for path in paths]
                              for speaker, paths in model.extra.get("sources", {}).items()}
    model.extra["sample_sources"] = {speaker: _portable(path)
                                     for speaker, path in model.extra.get("sample_sources", {}).items()}
    for network in model.networks.values():
        network.half()  # halves the file; load_voice_model casts the weights back to float32
    extra = {"name": DEFAULT_MODEL_NAME, "data": DATA_DESCRIPTION, "weights_dtype": "float16",
             "command": model.extra.get("command", TRAIN_COMMAND), "evaluation_command": command}
    model.save(output, step, extra=extra)

    started = time.perf_counter()
    evaluation = evaluate_model(output.with_suffix(".safetensors"))
    extra.update({
        "evaluation": evaluation,
        "evaluation_time_s": round(time.perf_counter() - started, 1),
        "evaluation_note": "Griffin-Lim (32 iterations) vocodes every converted utterance; the audio is analysed "
                           "again before classification and MCD. Chance: success 1/4 (VCC), 1/6 (FSDD); digits 1/10. "
                           "f0_only_baseline converts F0 only and vocodes the input's mel.",
    })
    model.save(output, step, metrics={"vcc2016/stage2/success": evaluation["vcc2016"]["stage2"]["mean"]["success"]},
               extra=extra)
    return evaluation


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the shipped multi-target voice model and save it.")
    parser.add_argument("--steps", type=int, help=f"stage-1 steps (default {DEFAULT_CONFIG.steps})")
    parser.add_argument("--stage2-steps", type=int, help=f"stage-2 steps (default {DEFAULT_CONFIG.stage2_steps})")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/voice_default"), help="folder for checkpoints")
    parser.add_argument("--out", type=Path, help="model stem (default resources/models/voice/default_multi_target)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--evaluate-only", type=Path, metavar="CKPT", help="evaluate and ship this checkpoint")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    output = args.out or default_voice_model_path().with_suffix("")
    command = "python -m engine.voice.default_model " + " ".join(sys.argv[1:] if argv is None else argv)

    checkpoint = args.evaluate_only
    if checkpoint is None:
        config = DEFAULT_CONFIG
        if args.steps is not None:
            config = replace(config, steps=args.steps)
        if args.stage2_steps is not None:
            config = replace(config, stage2_steps=args.stage2_steps)

        def on_event(event: object) -> None:
            if isinstance(event, Metrics):
                logger.info("step %d: %s", event.step, {k: round(v, 3) for k, v in event.values.items()})
            elif isinstance(event, CheckpointSaved):
                logger.info("checkpoint %s", event.path)

        job = VoiceTrainJob(config, training_file_lists(), args.run_dir, extra_metadata={"command": command})
        result = run_job(job, on_event)
        if isinstance(result, Failed) or job.result is None:
            print(getattr(result, "message", "training failed"), file=sys.stderr)
            return 1
        checkpoint = job.result.path
    evaluation = ship(Path(checkpoint), output, command)
    print(json.dumps(evaluation, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
