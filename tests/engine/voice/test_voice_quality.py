"""Quality of both voice conversion methods on real speech (VCC 2016 and FSDD), judged on vocoded audio.

Small budgets and fixed seeds on the CPU. The F0-only baseline (the input's mel with converted F0,
vocoded) shows that the speaker classifier is not fooled by pitch alone. Models and classifiers are trained once per session and
shared by the tests; every assertion message carries the measured figures and the chance levels.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.core.jobs import Failed, run_job
from engine.data.speech_corpora import load_fsdd, load_vcc2016
from engine.voice.data import held_out_utterances, load_speaker_data, training_files
from engine.voice.evaluate import evaluate_pair, fsdd_benchmark, speaker_classifier_for, vcc_benchmark
from engine.voice.finetune import FineTuneJob
from engine.voice.train import VoiceTrainJob
from engine.voice.voice_model import VoiceConfig, VoiceModel, load_voice_model

VCC_PAIRS = [("SF1", "TM3"), ("TM3", "SF1")]
VCC_FILES_PER_SPEAKER = 60
VCC_UTTERANCES_PER_PAIR = 10
CYCLEGAN_CONFIG = VoiceConfig(method="cyclegan_vc", channels=48, steps=600, crop_frames=32, learning_rate=1e-3,
                              discriminator_learning_rate=5e-4, identity_steps=100, checkpoint_every=600)
MULTI_TARGET_CONFIG = VoiceConfig(method="multi_target", channels=64, steps=600, stage2_steps=300,
                                  checkpoint_every=900)
FSDD_CONFIG = VoiceConfig(method="multi_target", channels=64, steps=800, stage2_steps=300, crop_frames=32,
                          checkpoint_every=1100)


def _train(config: VoiceConfig, files: dict[str, list[Path]], out: Path) -> VoiceModel:
    torch.set_num_threads(1)
    job = VoiceTrainJob(config, files, out, data=load_speaker_data(files))
    result = run_job(job, lambda event: None)
    assert not isinstance(result, Failed), result.message
    return job.result.model


@pytest.fixture(scope="session")
def vcc(datasets_dir):
    return load_vcc2016(datasets_dir / "vcc2016_4spk")


@pytest.fixture(scope="session")
def fsdd(datasets_dir):
    return load_fsdd(datasets_dir / "fsdd")


@pytest.fixture(scope="session")
def cyclegan_model(vcc, tmp_path_factory):
    files = training_files(vcc, ["SF1", "TM3"], VCC_FILES_PER_SPEAKER)
    return _train(CYCLEGAN_CONFIG, files, tmp_path_factory.mktemp("cyclegan"))


@pytest.fixture(scope="session")
def multi_target_model(vcc, tmp_path_factory):
    files = training_files(vcc, ["SF1", "SM1", "TM3"], VCC_FILES_PER_SPEAKER)
    return _train(MULTI_TARGET_CONFIG, files, tmp_path_factory.mktemp("multi_target"))


def _check_vcc(report: dict, method: str) -> None:
    for pair in report["pairs"]:
        figures = json.dumps(pair)
        assert pair["success"] >= 2 * pair["chance"], f"{method}: conversion success below 2x chance: {figures}"
        assert pair["mcd_db"] < pair["source_mcd_db"], f"{method}: MCD not below the unconverted source: {figures}"


def _check_beats_f0_only(report: dict, stage: str) -> None:
    model, baseline = report[stage]["mean"], report["f0_only_baseline"]["mean"]
    assert model["success"] > baseline["success"], (
        f"{stage}: success {model['success']} not above the F0-only baseline {baseline['success']}: {json.dumps(report)}")


def test_cyclegan_vc_converts_vcc(cyclegan_model, vcc):
    report = vcc_benchmark(cyclegan_model, vcc, VCC_PAIRS, VCC_UTTERANCES_PER_PAIR, stages=(0, 2))
    print(json.dumps({name: figures["mean"] for name, figures in report.items()}))
    _check_vcc(report["cyclegan_vc"], "CycleGAN-VC")
    _check_beats_f0_only(report, "cyclegan_vc")


def test_multi_target_converts_vcc(multi_target_model, vcc):
    report = vcc_benchmark(multi_target_model, vcc, VCC_PAIRS, VCC_UTTERANCES_PER_PAIR, stages=(0, 1, 2))
    side_by_side = json.dumps({stage: figures["mean"] for stage, figures in report.items()})
    print(side_by_side)
    for stage in ("stage1", "stage2"):
        _check_vcc(report[stage], f"multi-target {stage} (all stages: {side_by_side})")
        _check_beats_f0_only(report, stage)


def test_multi_target_converts_fsdd(fsdd, tmp_path_factory):
    files = training_files(fsdd, None, VCC_FILES_PER_SPEAKER)
    model = _train(FSDD_CONFIG, files, tmp_path_factory.mktemp("fsdd"))
    report = fsdd_benchmark(model, fsdd, utterances_per_speaker=10)
    side_by_side = json.dumps({stage: figures["mean"] for stage, figures in report.items()})
    print(side_by_side)
    for stage in ("stage1", "stage2"):
        mean = report[stage]["mean"]
        assert mean["success"] >= 2 * mean["success_chance"], f"FSDD {stage} success below 2x chance: {side_by_side}"
        assert mean["digit_accuracy"] >= 5 * mean["digit_chance"], f"FSDD {stage} digits below 5x chance: {side_by_side}"


def test_finetune_learns_unheard_speaker(multi_target_model, vcc, tmp_path):
    base_path = multi_target_model.save(tmp_path / "base", 900)
    tf2_files = training_files(vcc, ["TF2"], 20)["TF2"]
    job = FineTuneJob(base_path, "TF2", tf2_files, tmp_path / "tuned", steps=150, sample_every=150)
    result = run_job(job, lambda event: None)
    assert not isinstance(result, Failed), result.message
    tuned = load_voice_model(job.result_path)
    assert tuned.speakers == ["SF1", "SM1", "TM3", "TF2"]

    classifier = speaker_classifier_for(vcc)
    to_tf2 = evaluate_pair(tuned, held_out_utterances(vcc, "SM1")[:VCC_UTTERANCES_PER_PAIR], "TF2", classifier)
    from_tf2 = evaluate_pair(tuned, held_out_utterances(vcc, "TF2")[:VCC_UTTERANCES_PER_PAIR], "TM3", classifier)
    print(json.dumps({"to_TF2": to_tf2.to_json(), "from_TF2": from_tf2.to_json()}))
    assert to_tf2.success >= 2 * to_tf2.chance, f"SM1 -> fine-tuned TF2: {to_tf2.to_json()}"
    assert from_tf2.success >= 2 * from_tf2.chance, f"unheard TF2 -> TM3: {from_tf2.to_json()}"
