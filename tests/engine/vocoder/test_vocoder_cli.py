"""Tests for ``gan-studio-cli vocoder``: train, resume, finetune, resynthesize and evaluate."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import soundfile

from engine.cli import main
from engine.core.checkpoints import load_checkpoint
from engine.core.jobs import Finished, run_job
from engine.vocoder.train import VocoderTrainConfig, VocoderTrainJob


def _tiny_checkpoint(tiny_config: VocoderTrainConfig, out: Path) -> Path:
    job = VocoderTrainJob(replace(tiny_config, steps=1), output_dir=out, validation=[])
    assert isinstance(run_job(job, lambda event: None), Finished)
    assert job.last_checkpoint is not None
    return job.last_checkpoint


def test_cli_train_and_resume(tmp_path: Path, speaker_folder: Path, capsys) -> None:
    out = tmp_path / "run"
    common = ["--sources", str(speaker_folder), "--batch-size", "1", "--device", "cpu", "--out", str(out)]
    assert main(["vocoder", "train", "--steps", "1", *common]) == 0
    checkpoint = out / "step_000001.safetensors"
    sidecar = json.loads(checkpoint.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["extra"]["command"].startswith("gan-studio-cli")
    assert sidecar["config"]["sources"] == [str(speaker_folder)]
    capsys.readouterr()

    assert main(["vocoder", "train", "--steps", "2", "--resume", str(checkpoint), *common]) == 0
    assert load_checkpoint(out).step == 2


def test_cli_finetune_from_checkpoint(tmp_path: Path, speaker_folder: Path, tiny_config: VocoderTrainConfig,
                                      capsys) -> None:
    base = _tiny_checkpoint(tiny_config, tmp_path / "base")
    out = tmp_path / "tuned"
    assert main(["vocoder", "finetune", str(speaker_folder), "--checkpoint", str(base), "--steps", "1",
                 "--only-mine", "--device", "cpu", "--out", str(out)]) == 0
    tuned = load_checkpoint(out)
    assert tuned.step == 1
    assert tuned.extra["initialized_from"] == str(base)
    assert tuned.config["adversarial_start_step"] == 0
    capsys.readouterr()


def test_cli_finetune_rejects_missing_folder(tmp_path: Path, tiny_config: VocoderTrainConfig, capsys) -> None:
    base = _tiny_checkpoint(tiny_config, tmp_path / "base")
    missing = tmp_path / "nobody"
    assert main(["vocoder", "finetune", str(missing), "--checkpoint", str(base), "--out", str(tmp_path / "t")]) == 1
    error = capsys.readouterr().err
    assert f"Speaker folder {missing} not found" in error


def test_cli_resynthesize_both_vocoders(tmp_path: Path, speaker_folder: Path, tiny_config: VocoderTrainConfig,
                                        capsys) -> None:
    source = speaker_folder / "low" / "0.wav"
    checkpoint = _tiny_checkpoint(tiny_config, tmp_path / "base")
    for vocoder, extra in (("griffin-lim", []), ("gan", ["--checkpoint", str(checkpoint)])):
        output = tmp_path / f"{vocoder}.wav"
        assert main(["vocoder", "resynthesize", str(source), "--output", str(output), "--vocoder", vocoder, *extra]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["vocoder"] == vocoder
        info = soundfile.info(output)
        assert info.samplerate == 16000
        assert abs(info.duration - 1.0) < 0.02


def test_cli_evaluate_prints_both_sets(tmp_path: Path, tiny_config: VocoderTrainConfig, datasets_dir: Path,
                                       capsys) -> None:
    checkpoint = _tiny_checkpoint(tiny_config, tmp_path / "base")
    assert main(["vocoder", "evaluate", "--checkpoint", str(checkpoint), "--per-speaker", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"checkpoint", "unseen_speaker", "unseen_sentences"}
    assert report["unseen_speaker"]["gan"]["utterances"] == 1
    assert report["unseen_sentences"]["griffin_lim"]["utterances"] == 3
    assert report["unseen_speaker"]["griffin_lim"]["pesq_wb"] > 2.0
