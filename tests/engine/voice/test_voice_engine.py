"""Voice conversion engine: F0 conversion, chunking, training steps, model files, jobs, streaming and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from engine.audio.features import SPEECH_MEL
from engine.audio.pitch import track_f0
from engine.cli import main as cli_main
from engine.core.checkpoints import CheckpointError
from engine.core.jobs import CheckpointSaved, Failed, Finished, Metrics, Progress, Sample, run_job
from engine.vocoder.griffin_lim import GriffinLimVocoder
from engine.voice import (ConvertJob, FineTuneJob, StreamingConverter, VoiceConfig, VoiceTrainJob, convert_samples,
                          installed_voice_models, load_voice_model, speaker_sample, user_voice_models_dir)
from engine.voice.convert import convert_log_mel_chunked, vocode_chunked
from engine.voice.features import F0Statistics, analyse, converted_log_mel, f0_ratio, shift_harmonics

RATE_HZ = 16000
TINY = dict(channels=16, residual_blocks=1, code_dim=8, embed_dim=8, crop_frames=16, batch_size=2,
            checkpoint_every=2, metrics_every=1)


def _vowel(f0_hz: float, seconds: float = 1.0, rate_hz: int = RATE_HZ, seed: int = 0) -> np.ndarray:
    """A harmonic tone with two formant-like peaks, a stand-in for a sung vowel."""
    time_s = np.arange(int(seconds * rate_hz)) / rate_hz
    signal = np.zeros_like(time_s)
    for harmonic in range(1, int(4000 / f0_hz)):
        frequency = harmonic * f0_hz
        gain = math.exp(-((frequency - 700) / 300) ** 2) + 0.5 * math.exp(-((frequency - 1800) / 400) ** 2) + 0.02
        signal += gain * np.sin(2 * np.pi * frequency * time_s + harmonic)
    noise = np.random.default_rng(seed).normal(0, 0.002, signal.shape)
    return (0.3 * signal / np.abs(signal).max() + noise).astype(np.float32)


def _median_f0(samples: torch.Tensor) -> float:
    f0_hz, voiced = track_f0(samples, RATE_HZ, 160, 60.0, 500.0)
    return float(f0_hz[voiced].median())


@pytest.fixture(scope="module")
def speaker_folders(tmp_path_factory) -> dict[str, list[Path]]:
    """Two 'speakers' of synthetic vowels at 110 Hz and 220 Hz, three files each."""
    root = tmp_path_factory.mktemp("speakers")
    files: dict[str, list[Path]] = {}
    for name, f0_hz in (("low", 110.0), ("high", 220.0)):
        (root / name).mkdir()
        files[name] = []
        for index in range(3):
            path = root / name / f"{index}.wav"
            soundfile.write(path, _vowel(f0_hz * (1 + 0.03 * index), seed=index), RATE_HZ)
            files[name].append(path)
    return files


@pytest.fixture(scope="module")
def tiny_model_path(speaker_folders, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_multi")
    job = VoiceTrainJob(VoiceConfig(method="multi_target", steps=2, stage2_steps=2, **TINY), speaker_folders, out)
    result = run_job(job, lambda event: None)
    assert isinstance(result, Finished), result
    return job.result.path


def test_f0_ratio_is_log_gaussian():
    source, target = F0Statistics(math.log(100.0), 0.2), F0Statistics(math.log(200.0), 0.1)
    f0_hz = torch.tensor([100.0, 100.0 * math.exp(0.2), 0.0])
    voiced = torch.tensor([True, True, False])
    ratio = f0_ratio(f0_hz, voiced, source, target, semitones=12.0)
    # mean maps to mean, one source deviation to one target deviation, unvoiced to the mean ratio; +12 semitones doubles
    expected = torch.tensor([4.0, 2.0 * math.exp(0.1) * 2.0 / math.exp(0.2), 4.0])
    assert torch.allclose(ratio, expected, rtol=1e-4), ratio


def test_shift_harmonics_moves_f0_and_keeps_identity():
    samples = torch.from_numpy(_vowel(120.0))
    analysis = analyse(samples)
    unchanged = shift_harmonics(analysis.magnitude, torch.ones(analysis.magnitude.shape[-1]))
    assert torch.allclose(unchanged, analysis.magnitude, rtol=1e-3, atol=1e-5)

    shifted_mel, converted_f0 = converted_log_mel(analysis, F0Statistics(math.log(120.0), 0.1),
                                                  F0Statistics(math.log(180.0), 0.1))
    audio = GriffinLimVocoder(iterations=32).synthesize(shifted_mel)
    measured = _median_f0(audio)
    assert abs(measured - 180.0) < 12.0, f"expected about 180 Hz after conversion, measured {measured:.1f} Hz"
    assert abs(float(converted_f0[analysis.voiced].median()) - 180.0) < 5.0


def test_chunked_conversion_matches_whole(tiny_model_path):
    model = load_voice_model(tiny_model_path)
    log_mel = analyse(torch.from_numpy(_vowel(150.0, seconds=3.0))).log_mel
    whole = model.convert_log_mel(log_mel, "high")
    chunked = convert_log_mel_chunked(model, log_mel, "high", chunk_frames=96, overlap_frames=16)
    assert chunked.shape == whole.shape
    # Instance norms see shorter chunks, so values differ a little, but no chunk is misplaced.
    assert float((chunked - whole).abs().mean()) < 0.25 * float(whole.abs().mean())


def test_chunked_vocoding_has_no_boundary_clicks():
    samples = torch.from_numpy(_vowel(150.0, seconds=3.0))
    log_mel = analyse(samples).log_mel
    audio = vocode_chunked(GriffinLimVocoder(iterations=16), log_mel, chunk_frames=64, overlap_frames=16)
    assert audio.shape[-1] == (log_mel.shape[-1] - 1) * SPEECH_MEL.hop_length
    jumps = audio.diff().abs()
    assert float(jumps.max()) < 4 * float(samples.diff().abs().max()), "a chunk boundary left a jump"


def test_training_events_and_model_file(speaker_folders, tmp_path):
    events = []
    config = VoiceConfig(method="cyclegan_vc", steps=4, identity_steps=2, **TINY)
    job = VoiceTrainJob(config, speaker_folders, tmp_path, extra_metadata={"data": "synthetic vowels"})
    result = run_job(job, events.append)
    assert isinstance(result, Finished)
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [2, 4]
    assert any(isinstance(e, Metrics) and "loss/cycle" in e.values for e in events)
    assert any(isinstance(e, Progress) for e in events)
    assert any(isinstance(e, Sample) and e.kind == "voice_mel" for e in events)

    model = load_voice_model(tmp_path)
    assert model.method == "cyclegan_vc"
    assert model.speakers == ["low", "high"]
    assert model.info.training_data == "synthetic vowels"
    assert set(model.samples) == {"low", "high"}


def test_training_resumes_to_total(speaker_folders, tmp_path):
    config = VoiceConfig(method="multi_target", steps=2, stage2_steps=0, **TINY)
    run_job(VoiceTrainJob(config, speaker_folders, tmp_path), lambda event: None)
    longer = VoiceConfig(method="multi_target", steps=2, stage2_steps=2, **TINY)
    job = VoiceTrainJob(longer, speaker_folders, tmp_path, resume_from=tmp_path / "step_000002")
    result = run_job(job, lambda event: None)
    assert isinstance(result, Finished), result
    assert job.result.step == 4
    assert load_voice_model(tmp_path).extra["stage2_trained"] is True


def test_cyclegan_needs_two_speakers(speaker_folders, tmp_path):
    three = {**speaker_folders, "third": speaker_folders["low"]}
    with pytest.raises(ValueError, match="exactly 2 speakers"):
        VoiceTrainJob(VoiceConfig(method="cyclegan_vc", **TINY), three, tmp_path)


def test_convert_job_keeps_rate_and_length(tiny_model_path, tmp_path):
    source = tmp_path / "input.wav"
    soundfile.write(source, _vowel(130.0, seconds=1.5, rate_hz=22050), 22050)
    events = []
    job = ConvertJob(source, "high", tmp_path / "out.wav", tiny_model_path, pitch_shift_semitones=2.0,
                     vocoder="griffin-lim")
    result = run_job(job, events.append)
    assert isinstance(result, Finished), result
    written, rate_hz = soundfile.read(tmp_path / "out.wav")
    assert rate_hz == 22050
    assert written.shape[0] == int(1.5 * 22050)
    assert job.result.output == tmp_path / "out.wav"
    assert job.result.converted_log_mel.shape[0] == SPEECH_MEL.n_mels
    # The target speaker's F0 (about 230 Hz) plus 2 semitones
    assert 230 < float(np.median(job.result.converted_f0_hz[job.result.converted_f0_hz > 0])) < 290
    assert any(isinstance(e, Sample) and e.kind == "voice_conversion" for e in events)


def test_convert_job_rejects_unknown_speaker(tiny_model_path, tmp_path):
    source = tmp_path / "input.wav"
    soundfile.write(source, _vowel(130.0), RATE_HZ)
    result = run_job(ConvertJob(source, "nobody", tmp_path / "out.wav", tiny_model_path), lambda event: None)
    assert isinstance(result, Failed)
    assert "nobody" in result.message
    assert "low, high" in result.message


def test_load_rejects_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        load_voice_model(tmp_path / "absent.safetensors")


def test_streaming_matches_length_and_latency(tiny_model_path):
    model = load_voice_model(tiny_model_path)
    rate_hz = 48000
    samples = _vowel(140.0, seconds=1.2, rate_hz=rate_hz)
    streamer = StreamingConverter(model, "high", GriffinLimVocoder(iterations=8), rate_hz, block_s=0.1)
    block = int(0.1 * rate_hz)
    outputs = [streamer.process(samples[start:start + block]) for start in range(0, len(samples), block)]
    assert [len(out) for out in outputs] == [len(samples[start:start + block]) for start in range(0, len(samples), block)]
    assert streamer.latency_s == pytest.approx(0.1 + 0.064, abs=1e-3)
    assert len(streamer.block_compute_s) == len(outputs)
    streamer.set_target("low")
    streamer.set_pitch_shift(-3.0)
    assert streamer.process(samples[:block]).shape == (block,)
    with pytest.raises(ValueError, match="block_s"):
        StreamingConverter(model, "high", block_s=0.5)
    with pytest.raises(ValueError, match="nobody"):
        streamer.set_target("nobody")


def test_finetune_adds_speaker_and_keeps_others(tiny_model_path, tmp_path):
    base = load_voice_model(tiny_model_path)
    new_voice = tmp_path / "new_voice"
    new_voice.mkdir()
    for index in range(2):
        soundfile.write(new_voice / f"{index}.wav", _vowel(300.0 + 10 * index, seed=index), RATE_HZ)
    events = []
    job = FineTuneJob(tiny_model_path, "newcomer", [new_voice], tmp_path / "tuned", steps=4, sample_every=2,
                      checkpoint_every=2)
    result = run_job(job, events.append)
    assert isinstance(result, Finished), result
    assert "recommended" in result.summary["warning"]
    assert any(isinstance(e, Sample) and e.kind == "voice_preview" for e in events)

    tuned = load_voice_model(job.result_path)
    assert tuned.speakers == ["low", "high", "newcomer"]
    assert tuned.f0["newcomer"].median_hz > 250
    log_mel = analyse(torch.from_numpy(_vowel(150.0))).log_mel
    assert torch.allclose(tuned.convert_log_mel(log_mel, "high"), base.convert_log_mel(log_mel, "high"), atol=1e-5)

    resumed = FineTuneJob(tiny_model_path, "newcomer", [new_voice], tmp_path / "tuned", steps=6,
                          resume_from=tmp_path / "tuned" / "step_000004")
    assert isinstance(run_job(resumed, lambda event: None), Finished)


def test_speaker_sample_and_model_list(tiny_model_path):
    model = load_voice_model(tiny_model_path)
    audio, rate_hz = speaker_sample(model, "low")
    assert rate_hz == RATE_HZ
    assert audio.dtype == np.float32
    assert audio.shape[0] > RATE_HZ // 2

    saved = model.save(user_voice_models_dir() / "listed_model", 4, extra={"data": "synthetic vowels"})
    listed = {info.path: info for info in installed_voice_models()}
    assert saved in listed
    assert listed[saved].speakers == ["low", "high"]
    assert listed[saved].method == "multi_target"
    assert not listed[saved].shipped
    assert listed[saved].training_data == "synthetic vowels"


def test_convert_samples_downmixes_stereo(tiny_model_path):
    model = load_voice_model(tiny_model_path)
    stereo = torch.from_numpy(np.stack([_vowel(150.0), _vowel(150.0)]))
    conversion = convert_samples(model, stereo, RATE_HZ, "low")
    assert conversion.audio.shape == (RATE_HZ,)


def test_cli_convert_and_speakers(tiny_model_path, tmp_path, capsys):
    folder = tmp_path / "inputs"
    folder.mkdir()
    for index in range(2):
        soundfile.write(folder / f"clip{index}.wav", _vowel(140.0, seconds=0.8), 8000)
    code = cli_main(["voice", "convert", str(folder), "--target", "high", "--out", str(tmp_path / "outs"),
                     "--model", str(tiny_model_path), "--vocoder", "griffin-lim"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == ["clip0.wav", "clip1.wav"]
    assert soundfile.info(tmp_path / "outs" / "clip0.wav").samplerate == 8000

    capsys.readouterr()
    assert cli_main(["voice", "speakers", "--model", str(tiny_model_path)]) == 0
    assert json.loads(capsys.readouterr().out)["speakers"] == ["low", "high"]

    assert cli_main(["voice", "convert", str(folder / "clip0.wav"), "--target", "nobody", "--out",
                     str(tmp_path / "x.wav"), "--model", str(tiny_model_path)]) == 1


def test_cli_train_on_speaker_folders(speaker_folders, tmp_path, capsys):
    root = speaker_folders["low"][0].parent.parent
    code = cli_main(["voice", "train", "--method", "multi_target", "--data", "folders", "--folder", str(root),
                     "--steps", "2", "--stage2-steps", "1", "--channels", "16", "--batch-size", "2",
                     "--out", str(tmp_path / "run")])
    assert code == 0
    model = load_voice_model(tmp_path / "run")
    assert sorted(model.speakers) == ["high", "low"]
    assert model.extra["command"].startswith("gan-studio-cli")
    assert cli_main(["voice", "train", "--method", "cyclegan_vc", "--data", "folders", "--folder", str(root),
                     "--speakers", "low", "missing", "--out", str(tmp_path / "bad")]) == 1
    assert "missing" in capsys.readouterr().err
