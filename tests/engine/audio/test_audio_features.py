"""Spectrograms, decibels, silence trimming and loudness: reference values and batch consistency."""

from __future__ import annotations

import math

import pytest
import torch
import torchaudio

from engine.audio import (
    SPEECH_MEL,
    MelConfig,
    amplitude_to_db,
    linear_spectrogram,
    load_audio,
    log_mel_spectrogram,
    loudness_dbfs,
    mel_filterbank,
    mel_frequencies_hz,
    mel_spectrogram,
    normalize_loudness,
    trim_silence,
)


def _noise(*shape: int, seed: int = 0, scale: float = 0.1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=generator)


def _tone(frequency_hz: float, seconds: float, rate_hz: int = 16000, amplitude: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * rate_hz), dtype=torch.float64) / rate_hz
    return (amplitude * torch.sin(2 * math.pi * frequency_hz * t)).float()


def test_speech_mel_setting():
    settings = (SPEECH_MEL.sample_rate_hz, SPEECH_MEL.n_fft, SPEECH_MEL.hop_length, SPEECH_MEL.n_mels)
    assert settings == (16000, 1024, 256, 80)
    assert SPEECH_MEL.max_frequency_hz == 8000.0
    assert SPEECH_MEL.num_frames(16000) == 63


def test_mel_matches_torchaudio_transform():
    samples = _noise(2, 16000)
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=1024, win_length=1024, hop_length=256, f_min=0.0, f_max=8000.0, n_mels=80,
        power=1.0, norm="slaney", mel_scale="slaney", center=True, pad_mode="reflect")(samples)

    result = mel_spectrogram(samples, SPEECH_MEL)

    assert result.shape == (2, 80, 63)
    torch.testing.assert_close(result, reference, rtol=1e-4, atol=1e-6)


def test_linear_spectrogram_peak_at_tone():
    magnitude = linear_spectrogram(_tone(1000.0, 0.5), n_fft=512, hop_length=128)

    assert magnitude.shape == (257, 1 + 8000 // 128)
    peak_bin = int(magnitude[:, 10].argmax())
    assert peak_bin == 32, f"1 kHz tone peaks at bin {peak_bin} ({peak_bin * 16000 / 512:.0f} Hz)"
    # A sine of amplitude a on a bin centre has |STFT| = a * sum(window) / 2 = 0.5 * 256 / 2.
    assert float(magnitude[32, 10]) == pytest.approx(64.0, rel=1e-3)


@pytest.mark.parametrize("name", ["linear", "mel", "log_mel", "db", "loudness", "normalize"])
def test_batch_equals_per_item(name):
    batch = torch.stack([_noise(1, 8000, seed=1), _noise(1, 8000, seed=2, scale=0.01), _tone(300.0, 0.5)[None]])

    def apply(x: torch.Tensor) -> torch.Tensor:
        if name == "linear":
            return linear_spectrogram(x, 512, 128)
        if name == "mel":
            return mel_spectrogram(x, SPEECH_MEL)
        if name == "log_mel":
            return log_mel_spectrogram(x, SPEECH_MEL)
        if name == "db":
            return amplitude_to_db(linear_spectrogram(x, 512, 128), top_db=60.0)
        if name == "loudness":
            return loudness_dbfs(x)
        return normalize_loudness(x, -20.0)

    batched = apply(batch)  # batch: (3, 1, samples)
    for index in range(batch.shape[0]):
        torch.testing.assert_close(batched[index], apply(batch[index]), rtol=1e-5, atol=1e-5,
                                   msg=lambda m: f"{name}, item {index}: {m}")


def test_amplitude_to_db_clips_per_item():
    spec = torch.tensor([[[1.0, 1e-8]], [[1e-3, 1e-9]]])  # (batch 2, freqs 1, frames 2)

    result = amplitude_to_db(spec, top_db=40.0)

    torch.testing.assert_close(result, torch.tensor([[[0.0, -40.0]], [[-60.0, -100.0]]]))
    torch.testing.assert_close(amplitude_to_db(spec, top_db=None)[0, 0, 1], torch.tensor(-100.0))


def test_log_mel_floor():
    log_mel = log_mel_spectrogram(torch.zeros(4000), SPEECH_MEL)
    assert float(log_mel.min()) == pytest.approx(math.log(1e-5), rel=1e-5)


@pytest.mark.parametrize("mel_scale", ["slaney", "htk"])
def test_mel_frequencies_match_filter_peaks(mel_scale):
    config = MelConfig(norm=None, mel_scale=mel_scale)
    bin_hz = 16000 / 1024

    centres_hz = mel_frequencies_hz(config)
    peaks_hz = mel_filterbank(config).argmax(dim=0).double() * bin_hz

    assert centres_hz.shape == (80,)
    assert bool((centres_hz[1:] > centres_hz[:-1]).all())
    # The sampled triangles peak at the FFT bin nearest their centre, or its neighbour when asymmetric.
    gap_hz = float((peaks_hz - centres_hz).abs().max())
    assert gap_hz < bin_hz, f"filter peaks are up to {gap_hz:.1f} Hz off the computed centres"


@pytest.mark.parametrize("kwargs, expected_text", [
    ({"win_length": 2048}, "win_length (2048) must not exceed n_fft (1024)"),
    ({"f_max_hz": 9000.0}, "f_max_hz <= 8000 Hz"),
    ({"hop_length": 0}, "must be positive"),
])
def test_mel_config_rejects_invalid(kwargs, expected_text):
    with pytest.raises(ValueError) as raised:
        MelConfig(**kwargs)
    assert expected_text in str(raised.value)


def test_spectrogram_rejects_too_short_input():
    with pytest.raises(ValueError, match="has 300 samples, fewer than the 513 needed"):
        mel_spectrogram(torch.zeros(300), SPEECH_MEL)


def test_trim_silence_finds_tone():
    rate_hz = 16000
    silence_before, tone, silence_after = 0.5, _tone(440.0, 1.0), 0.7
    samples = torch.cat([torch.zeros(int(silence_before * rate_hz)), tone, torch.zeros(int(silence_after * rate_hz))])
    samples = samples + _noise(samples.shape[0], scale=1e-4)  # a noise floor 70 dB below the tone

    trimmed, (start, end) = trim_silence(samples, rate_hz, threshold_db=-40.0, frame_s=0.025, pad_s=0.05)

    tone_start, tone_end = 8000, 24000
    pad, frame = 800, 400
    assert tone_start - pad - frame <= start <= tone_start - pad, f"start {start}"
    assert tone_end + pad <= end <= tone_end + pad + frame, f"end {end}"
    torch.testing.assert_close(trimmed, samples[start:end])


def test_trim_silence_keeps_channels_aligned():
    left = torch.cat([torch.zeros(4000), _tone(440.0, 0.25), torch.zeros(8000)])
    right = torch.cat([torch.zeros(8000), _tone(440.0, 0.25), torch.zeros(4000)])
    stereo = torch.stack([left, right])

    trimmed, (start, end) = trim_silence(stereo, 16000, pad_s=0.0)

    assert trimmed.shape == (2, end - start)
    assert 3600 <= start <= 4000, f"start {start} should follow the left channel"
    assert 12000 <= end <= 12400, f"end {end} should follow the right channel"


def test_trim_silence_of_silence_is_empty():
    trimmed, span = trim_silence(torch.zeros(2, 1000), 16000)
    assert span == (0, 0)
    assert trimmed.shape == (2, 0)


def test_normalize_loudness_hits_target():
    samples = _noise(1, 16000, seed=3, scale=0.01)

    result = normalize_loudness(samples, -23.0, peak_limit_dbfs=None)

    level_db = float(loudness_dbfs(result))
    assert level_db == pytest.approx(-23.0, abs=0.01), f"normalised level {level_db:.3f} dBFS"
    measured_rms_db = 20 * math.log10(float(result.pow(2).mean().sqrt()))
    assert measured_rms_db == pytest.approx(-23.0, abs=0.01)


def test_normalize_loudness_keeps_stereo_balance():
    stereo = torch.stack([_tone(200.0, 0.5, amplitude=0.02), _tone(300.0, 0.5, amplitude=0.01)])

    result = normalize_loudness(stereo, -20.0)

    ratio = float(result[0].abs().max() / result[1].abs().max())
    assert ratio == pytest.approx(2.0, rel=1e-3)
    assert float(loudness_dbfs(result)) == pytest.approx(-20.0, abs=0.01)


def test_normalize_loudness_respects_peak_limit():
    spiky = torch.zeros(16000)
    spiky[::400] = 0.1  # a very high crest factor: reaching -10 dBFS RMS would clip

    result = normalize_loudness(spiky, -10.0, peak_limit_dbfs=-1.0)

    peak_dbfs = 20 * math.log10(float(result.abs().max()))
    assert peak_dbfs == pytest.approx(-1.0, abs=1e-3)
    assert float(loudness_dbfs(result)) < -10.0


def test_normalize_loudness_leaves_silence():
    silence = torch.zeros(1, 100)
    torch.testing.assert_close(normalize_loudness(silence), silence)


def test_features_on_real_speech(datasets_dir):
    audio = load_audio(datasets_dir / "vcc2016_4spk" / "SF1" / "100002.wav")

    mel = log_mel_spectrogram(audio.samples, SPEECH_MEL)
    trimmed, (start, end) = trim_silence(audio.samples, audio.sample_rate_hz)

    assert mel.shape == (1, 80, SPEECH_MEL.num_frames(audio.num_samples))
    assert bool(torch.isfinite(mel).all())
    assert 0 < end - start <= audio.num_samples
    kept = (end - start) / audio.num_samples
    assert 0.5 < kept <= 1.0, f"trimming kept {kept:.0%} of the utterance"


def test_trim_silence_rejects_invalid_settings():
    with pytest.raises(ValueError, match="expected threshold_db <= 0"):
        trim_silence(torch.zeros(100), 16000, threshold_db=10.0)


def test_mel_filterbank_rejects_empty_filters():
    config = MelConfig(sample_rate_hz=8000, n_fft=256, hop_length=64, win_length=256, n_mels=128, mel_scale="htk")
    with pytest.raises(ValueError, match=r"mel filters contain no FFT bin, because the bins are 31\.2 Hz apart"):
        mel_spectrogram(torch.zeros(1000), config)
