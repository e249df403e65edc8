"""Tests for the vocoder training job: events, checkpoints, resume, fine-tuning, cancel and bad sources."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.core.checkpoints import load_checkpoint
from engine.core.jobs import CancelToken, CheckpointSaved, Failed, Finished, Metrics, Sample, Started, run_job
from engine.vocoder.default_model import apply_overrides, checkpoint_windows, export_slim, main, window_checkpoint
from engine.vocoder.loading import load_vocoder
from engine.vocoder.train import (CHECKPOINT_KIND, SegmentSampler, VocoderTrainConfig, VocoderTrainJob,
                                  finetune_config)

from vocoder_test_helpers import voiced_tone


def _run(config: VocoderTrainConfig, out: Path, cancel: CancelToken | None = None, **job_options):
    events = []
    validation = [voiced_tone(180.0, seconds=0.5)]
    job = VocoderTrainJob(config, output_dir=out, validation=validation, metrics_every=1, **job_options)
    last = run_job(job, events.append, cancel)
    return job, events, last


def test_job_events_and_checkpoints(tmp_path: Path, tiny_config: VocoderTrainConfig) -> None:
    job, events, last = _run(tiny_config, tmp_path)

    assert isinstance(events[0], Started)
    assert isinstance(last, Finished) and not last.cancelled, last
    metrics = [event for event in events if isinstance(event, Metrics)]
    assert [event.step for event in metrics] == [1, 2, 3, 4]
    assert "loss/d" not in metrics[1].values  # step 2 is still in the warm-up without discriminators
    assert {"loss/d", "loss/adversarial", "loss/feature_matching", "loss/mel", "loss/stft"} <= set(metrics[2].values)
    assert all(torch.isfinite(torch.tensor(list(event.values.values()))).all() for event in metrics)
    assert "validation/mel_l1" in metrics[1].values
    saved = [event.step for event in events if isinstance(event, CheckpointSaved)]
    assert saved == [2, 4]
    samples = [event for event in events if isinstance(event, Sample)]
    assert samples and samples[0].kind == "audio"
    assert samples[0].data["sample_rate_hz"] == 16000

    checkpoint = load_checkpoint(tmp_path, expected_kind=CHECKPOINT_KIND)
    assert checkpoint.step == 4
    assert VocoderTrainConfig.from_json(checkpoint.config) == tiny_config
    assert load_vocoder(tmp_path).synthesize(torch.zeros(80, 5)).shape == (4 * 256,)


def test_resume_continues_from_checkpoint(tmp_path: Path, tiny_config: VocoderTrainConfig) -> None:
    first, _, _ = _run(replace(tiny_config, steps=2), tmp_path / "first")
    assert first.last_checkpoint is not None

    _, events, last = _run(tiny_config, tmp_path / "resumed", resume_from=first.last_checkpoint)
    assert isinstance(last, Finished) and not last.cancelled, last
    assert [event.step for event in events if isinstance(event, Metrics)] == [3, 4]
    assert load_checkpoint(tmp_path / "resumed").step == 4
    # Adam's step counter continues from the first run instead of restarting.
    adam_step = load_checkpoint(tmp_path / "resumed").tensors["optim.generator.0.step"]
    assert adam_step.item() == 4


def test_resume_from_broken_checkpoint_fails_clearly(tmp_path: Path, tiny_config: VocoderTrainConfig) -> None:
    first, _, _ = _run(replace(tiny_config, steps=2), tmp_path / "first")
    weights = first.last_checkpoint
    weights.write_bytes(b"not a safetensors file")
    _, _, last = _run(tiny_config, tmp_path / "resumed", resume_from=weights)
    assert isinstance(last, Failed)
    assert str(weights) in last.message
    assert "truncated or corrupt" in last.message


def test_finetune_starts_from_weights(tmp_path: Path, tiny_config: VocoderTrainConfig, speaker_folder: Path) -> None:
    base, _, _ = _run(replace(tiny_config, steps=2), tmp_path / "base")
    config = finetune_config(replace(tiny_config, steps=2), [str(speaker_folder)], steps=2, keep_built_in=False)
    assert config.adversarial_start_step == 0
    tuned, events, last = _run(config, tmp_path / "tuned", initialize_from=base.last_checkpoint)

    assert isinstance(last, Finished) and not last.cancelled, last
    assert [event.step for event in events if isinstance(event, Metrics)] == [1, 2]
    assert "loss/d" in [event for event in events if isinstance(event, Metrics)][0].values
    checkpoint = load_checkpoint(tmp_path / "tuned")
    assert checkpoint.extra["initialized_from"] == str(base.last_checkpoint)


def test_finetune_config_mixes_built_in_corpora(tiny_config: VocoderTrainConfig) -> None:
    base = VocoderTrainConfig()
    config = finetune_config(base, ["/data/me", "/data/you"], steps=100)
    assert config.sources == ("vcc2016", "fsdd", "synthetic", "/data/me", "/data/you")
    assert sum(config.source_weights[:3]) == pytest.approx(0.5)
    assert config.source_weights[3:] == (0.25, 0.25)
    assert config.steps == 100
    with pytest.raises(ValueError, match="at least one folder"):
        finetune_config(base, [], steps=100)


def test_cancel_before_first_step(tmp_path: Path, tiny_config: VocoderTrainConfig) -> None:
    cancel = CancelToken()
    cancel.cancel()
    _, events, last = _run(tiny_config, tmp_path, cancel=cancel)
    assert isinstance(last, Finished) and last.cancelled
    assert not [event for event in events if isinstance(event, Metrics)]


def test_missing_source_folder_is_reported(tmp_path: Path, tiny_config: VocoderTrainConfig) -> None:
    missing = tmp_path / "no such folder"
    _, _, last = _run(replace(tiny_config, sources=(str(missing),)), tmp_path / "out")
    assert isinstance(last, Failed)
    assert str(missing) in last.message
    assert "one subfolder of audio files per speaker" in last.message


@pytest.mark.parametrize("changes, message", [
    ({"source_weights": (1.0, 2.0)}, "need as many source_weights"),
    ({"segment_samples": 1000}, "multiple of the hop length 256"),
    ({"steps": 0}, "steps must be at least 1"),
])
def test_config_rejects_invalid_values(tiny_config: VocoderTrainConfig, changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(tiny_config, **changes)


def test_segment_sampler_pads_short_utterances_and_limits_peaks() -> None:
    import random

    short = torch.full((100,), 0.9)
    sampler = SegmentSampler([[short]], [1.0], 512, (6.0, 6.0), random.Random(0))
    batch = sampler.batch(4)
    assert batch.shape == (4, 1, 512)
    assert batch.abs().max().item() <= 0.99 + 1e-6
    assert ((batch != 0).sum(dim=-1) == 100).all()


def test_preset_overrides_reach_nested_fields(tiny_config: VocoderTrainConfig) -> None:
    changed = apply_overrides(tiny_config, ["generator.istft_n_fft=1024", "generator.istft_hop=256",
                                            "generator.upsample_rates=[]", "loss_weights.stft=2.5",
                                            "stft_resolutions=[[512, 128], [2048, 512]]", "warmup_learning_rate=5e-4"])
    assert changed.generator.istft_n_fft == 1024
    assert changed.generator.upsample_rates == ()
    assert changed.loss_weights.stft == 2.5
    assert changed.stft_resolutions == ((512, 128), (2048, 512))
    assert changed.warmup_learning_rate == 5e-4
    assert VocoderTrainConfig.from_json(changed.to_json()) == changed


@pytest.mark.parametrize("assignment, message", [
    ("generator.width=3", "Invalid --set 'generator.width=3'"),
    ("steps", "Invalid --set 'steps'"),
    ("generator.istft_hop=100", "must equal hop_length 256"),
])
def test_preset_overrides_reject_unknown_fields_and_bad_values(tiny_config: VocoderTrainConfig, assignment: str,
                                                               message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_overrides(tiny_config, [assignment])


def test_shipping_candidates_average_adversarial_windows(tmp_path: Path, tiny_config: VocoderTrainConfig) -> None:
    _run(replace(tiny_config, steps=6), tmp_path / "run")  # checkpoints at steps 2 (warm-up), 4 and 6
    run = tmp_path / "run"

    assert checkpoint_windows(run, 1) == [[run / "step_000004.safetensors"], [run / "step_000006.safetensors"]]
    assert checkpoint_windows(run, 2) == [[run / "step_000004.safetensors", run / "step_000006.safetensors"]]
    assert checkpoint_windows(run, 5) == checkpoint_windows(run, 2)
    with pytest.raises(ValueError, match="Invalid average 0"):
        checkpoint_windows(run, 0)

    averaged = window_checkpoint(checkpoint_windows(run, 2)[0])
    first, last = (load_checkpoint(run / f"step_00000{step}") for step in (4, 6))
    key = "generator.output_conv.bias"
    assert torch.allclose(averaged.tensors[key], (first.tensors[key] + last.tensors[key]) / 2)
    exported = export_slim(averaged, tmp_path / "shipped", {"note": "test"})
    audio = load_vocoder(exported).synthesize(torch.zeros(1, 80, 6))
    assert audio.shape == (1, 5 * 256)
    assert torch.isfinite(audio).all()
    assert load_checkpoint(exported).tensors[key].dtype == torch.float16


def test_export_of_empty_run_fails_clearly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    threads = torch.get_num_threads()
    try:  # main() sets one torch thread for training, so give the rest of the suite its threads back
        assert main(["--run-dir", str(tmp_path), "--skip-training", "--name", "unused"]) == 1
    finally:
        torch.set_num_threads(threads)
    assert f"{tmp_path} contains no checkpoint" in caplog.text
