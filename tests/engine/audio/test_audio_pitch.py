"""F0 tracking: synthetic harmonic tones, noise and silence, frame alignment, and real voices."""

from __future__ import annotations

import math

import pytest
import torch

from engine.audio import SPEECH_MEL, load_audio, mel_spectrogram, track_f0


def _harmonic_tone(f0_hz: float, seconds: float, rate_hz: int = 16000, harmonics: int = 8) -> torch.Tensor:
    """Return a sawtooth-like tone: harmonic k has amplitude 1/k, total peak below 1."""
    t = torch.arange(int(seconds * rate_hz), dtype=torch.float64) / rate_hz
    tone = sum(torch.sin(2 * math.pi * f0_hz * k * t + 0.3 * k) / k for k in range(1, harmonics + 1))
    return (0.3 * tone).float()


@pytest.mark.parametrize("f0_hz", [80.0, 220.0, 450.0])
def test_harmonic_tone_within_two_percent(f0_hz):
    samples = _harmonic_tone(f0_hz, 1.0)

    f0, voiced = track_f0(samples, 16000, hop_length=256)

    inner = slice(4, -4)  # frames whose window lies fully inside the tone
    assert bool(voiced[inner].all()), f"{int((~voiced[inner]).sum())} inner frames unvoiced"
    errors = (f0[inner] / f0_hz - 1).abs()
    assert float(errors.max()) < 0.02, f"largest relative error {float(errors.max()):.4f} at {f0_hz} Hz"
    assert float(f0[voiced].median()) == pytest.approx(f0_hz, rel=0.005)


def test_tone_with_noise_and_missing_fundamental():
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(16000, dtype=torch.float64) / 16000
    # Harmonics 2 to 6 of 220 Hz only: the period is still 1/220 s.
    tone = sum(0.1 * torch.sin(2 * math.pi * 220.0 * k * t) for k in range(2, 7)).float()
    noisy = tone + 0.02 * torch.randn(16000, generator=generator)

    f0, voiced = track_f0(noisy, 16000, hop_length=160)

    assert float(voiced.float().mean()) > 0.9
    assert float(f0[voiced].median()) == pytest.approx(220.0, rel=0.02)


def test_noise_and_silence_are_unvoiced():
    generator = torch.Generator().manual_seed(1)
    noise = 0.1 * torch.randn(16000, generator=generator)
    samples = torch.cat([torch.zeros(8000), noise])

    f0, voiced = track_f0(samples, 16000, hop_length=256)

    voiced_share = float(voiced.float().mean())
    assert voiced_share < 0.05, f"{voiced_share:.1%} of noise and silence frames marked voiced"
    assert bool((f0[~voiced] == 0).all())


def test_frames_align_with_mel_frames():
    for num_samples in (16000, 16100, 16255, 16256):
        samples = _harmonic_tone(150.0, num_samples / 16000)
        f0, voiced = track_f0(samples, 16000, hop_length=SPEECH_MEL.hop_length)
        frames = mel_spectrogram(samples, SPEECH_MEL).shape[-1]
        assert f0.shape == voiced.shape == (frames,), f"{num_samples} samples"
        assert voiced.dtype == torch.bool


def test_tone_onset_is_located():
    """Frame t is centred on sample t * hop: a tone starting at 0.5 s turns voiced near frame 50."""
    samples = torch.cat([torch.zeros(8000), _harmonic_tone(200.0, 0.5)])

    _, voiced = track_f0(samples, 16000, hop_length=160)

    first_voiced = int(voiced.nonzero()[0])
    assert 47 <= first_voiced <= 53, f"first voiced frame {first_voiced}, expected about 50"


def test_batch_equals_per_item():
    batch = torch.stack([_harmonic_tone(120.0, 0.5), _harmonic_tone(300.0, 0.5), torch.zeros(8000)])

    f0, voiced = track_f0(batch, 16000, hop_length=256)

    for index in range(batch.shape[0]):
        single_f0, single_voiced = track_f0(batch[index], 16000, hop_length=256)
        torch.testing.assert_close(f0[index], single_f0)
        assert torch.equal(voiced[index], single_voiced)


def test_invalid_range_raises():
    with pytest.raises(ValueError, match="f0_max_hz <= 2000 Hz"):
        track_f0(torch.zeros(8000), 8000, 80, f0_min_hz=50.0, f0_max_hz=3000.0)
    with pytest.raises(ValueError, match="hop_length must be positive"):
        track_f0(torch.zeros(8000), 8000, 0)


def _median_f0_hz(datasets_dir, speaker: str) -> float:
    medians = []
    for name in ("100001.wav", "100002.wav", "100003.wav"):
        audio = load_audio(datasets_dir / "vcc2016_4spk" / speaker / name)
        f0, voiced = track_f0(audio.samples[0], audio.sample_rate_hz, hop_length=256)
        assert float(voiced.float().mean()) > 0.15, f"{speaker}/{name}: almost no voiced frames"
        medians.append(float(f0[voiced].median()))
    return sorted(medians)[1]


def test_real_female_voice_higher_than_male(datasets_dir):
    female_hz = _median_f0_hz(datasets_dir, "SF1")
    male_hz = _median_f0_hz(datasets_dir, "SM1")

    assert 150.0 < female_hz < 300.0, f"SF1 median F0 {female_hz:.1f} Hz"
    assert 70.0 < male_hz < 160.0, f"SM1 median F0 {male_hz:.1f} Hz"
    assert female_hz > 1.5 * male_hz, f"SF1 {female_hz:.1f} Hz vs SM1 {male_hz:.1f} Hz"


def test_chunked_frames_match_single_pass(monkeypatch):
    import engine.audio.pitch as pitch

    noise = 0.05 * torch.randn(6000, generator=torch.Generator().manual_seed(2))
    samples = torch.cat([_harmonic_tone(130.0, 0.6), noise])
    whole_f0, whole_voiced = track_f0(samples, 16000, hop_length=128)

    monkeypatch.setattr(pitch, "FRAMES_PER_CHUNK", 7)
    chunked_f0, chunked_voiced = track_f0(samples, 16000, hop_length=128)

    torch.testing.assert_close(chunked_f0, whole_f0)
    assert torch.equal(chunked_voiced, whole_voiced)
