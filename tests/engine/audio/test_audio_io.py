"""Loading odd and broken audio files, saving atomically, resampling and the streaming WAV writer."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from engine.audio import (
    MAX_DURATION_ENV,
    Audio,
    AudioError,
    StreamingWavWriter,
    load_audio,
    require_not_silent,
    save_audio,
)
from engine.core.jobs import JobError

REPO_ROOT = Path(__file__).resolve().parents[3]


def _tones(rate_hz: int, channels: int, seconds: float = 0.25) -> np.ndarray:
    """Return (samples, channels) float64 sines, a different frequency and level per channel."""
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    columns = [(0.5 - 0.05 * c) * np.sin(2 * np.pi * (220.0 + 110.0 * c) * t) for c in range(channels)]
    return np.stack(columns, axis=1)


def _dominant_frequency_hz(samples: np.ndarray, rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.shape[-1])))
    return float(np.fft.rfftfreq(samples.shape[-1], 1.0 / rate_hz)[spectrum.argmax()])


# Lossless cases: (format, subtype, extension, rate, channels, largest allowed sample error).
LOSSLESS_CASES = [
    ("WAV", "PCM_U8", ".wav", 8000, 1, 1 / 100),
    ("WAV", "PCM_16", ".wav", 11025, 2, 1 / 16000),
    ("WAV", "PCM_24", ".wav", 22050, 1, 1e-6),
    ("WAV", "PCM_32", ".wav", 44100, 2, 1e-7),
    ("WAV", "FLOAT", ".wav", 48000, 1, 1e-7),
    ("WAV", "DOUBLE", ".wav", 96000, 2, 1e-7),
    ("WAV", "PCM_16", ".wav", 16000, 6, 1 / 16000),
    ("WAVEX", "PCM_24", ".wav", 48000, 6, 1e-6),
    ("FLAC", "PCM_S8", ".flac", 8000, 1, 1 / 100),
    ("FLAC", "PCM_16", ".flac", 44100, 2, 1 / 16000),
    ("FLAC", "PCM_24", ".flac", 96000, 6, 1e-6),
]


@pytest.mark.parametrize("file_format, subtype, extension, rate_hz, channels, tolerance", LOSSLESS_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[3]}Hz-{c[4]}ch" for c in LOSSLESS_CASES])
def test_lossless_files_load_exactly(tmp_path, file_format, subtype, extension, rate_hz, channels, tolerance):
    expected = _tones(rate_hz, channels)
    path = tmp_path / f"tone{extension}"
    soundfile.write(path, expected, rate_hz, format=file_format, subtype=subtype)

    audio = load_audio(path)

    assert audio.samples.dtype == torch.float32
    assert tuple(audio.samples.shape) == (channels, expected.shape[0])
    assert audio.sample_rate_hz == rate_hz
    assert audio.channels == channels
    assert audio.path == path
    assert audio.duration_s == pytest.approx(0.25, abs=1 / rate_hz)
    error = float(np.abs(audio.samples.numpy() - expected.T).max())
    assert error <= tolerance, f"{subtype}: largest sample error {error:.2e} exceeds {tolerance:.2e}"


LOSSY_CASES = [("OGG", "VORBIS", ".ogg", 44100, 2), ("OGG", "OPUS", ".ogg", 48000, 1),
               ("MP3", "MPEG_LAYER_III", ".mp3", 16000, 1), ("MP3", "MPEG_LAYER_III", ".mp3", 44100, 2)]


@pytest.mark.parametrize("file_format, subtype, extension, rate_hz, channels", LOSSY_CASES,
                         ids=[f"{c[1]}-{c[3]}Hz-{c[4]}ch" for c in LOSSY_CASES])
def test_lossy_files_keep_pitch_and_level(tmp_path, file_format, subtype, extension, rate_hz, channels):
    expected = _tones(rate_hz, channels, seconds=1.0)
    path = tmp_path / f"tone{extension}"
    soundfile.write(path, expected, rate_hz, format=file_format, subtype=subtype)

    audio = load_audio(path)

    assert audio.sample_rate_hz == rate_hz
    assert audio.channels == channels
    assert abs(audio.samples.shape[1] - expected.shape[0]) <= 2 * 1152, f"length {audio.samples.shape[1]}"
    for channel in range(channels):
        decoded = audio.samples[channel].numpy()
        frequency_hz = _dominant_frequency_hz(decoded, rate_hz)
        assert frequency_hz == pytest.approx(220.0 + 110.0 * channel, abs=2.0), f"channel {channel}"
        level_ratio = np.sqrt(np.mean(decoded**2) / np.mean(expected[:, channel] ** 2))
        assert 0.8 < level_ratio < 1.25, f"channel {channel}: RMS ratio {level_ratio:.3f}"


def test_content_decides_format_not_extension(tmp_path):
    expected = _tones(16000, 1)
    wav_named_flac = tmp_path / "really_a_wav.flac"
    soundfile.write(wav_named_flac, expected, 16000, format="WAV", subtype="PCM_16")
    flac_named_wav = tmp_path / "really_a_flac.wav"
    soundfile.write(flac_named_wav, expected, 16000, format="FLAC", subtype="PCM_16")

    for path in (wav_named_flac, flac_named_wav):
        audio = load_audio(path)
        assert audio.samples.shape == (1, expected.shape[0]), path.name
        assert float(np.abs(audio.samples[0].numpy() - expected[:, 0]).max()) < 1e-4, path.name


def test_mono_mix_averages_channels(tmp_path):
    left = _tones(16000, 1)[:, 0]
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, 0.5 * left], axis=1), 16000, subtype="FLOAT")

    audio = load_audio(path, mono=True)

    assert audio.samples.shape == (1, left.shape[0])
    np.testing.assert_allclose(audio.samples[0].numpy(), 0.75 * left, atol=1e-6)


def test_resample_keeps_tone_frequency(tmp_path):
    source_hz, target_hz = 44100, 16000
    t = np.arange(source_hz) / source_hz
    path = tmp_path / "tone_44k.wav"
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 1000.0 * t), source_hz, subtype="FLOAT")

    audio = load_audio(path, sample_rate_hz=target_hz)

    assert audio.sample_rate_hz == target_hz
    assert audio.samples.shape == (1, target_hz)
    samples = audio.samples[0].numpy()
    assert _dominant_frequency_hz(samples, target_hz) == pytest.approx(1000.0, abs=1.0)
    middle = samples[1000:-1000]  # the filter's edge effects stay out of the comparison
    expected = 0.5 * np.sin(2 * np.pi * 1000.0 * np.arange(target_hz) / target_hz)[1000:-1000]
    error = float(np.abs(middle - expected).max())
    assert error < 2e-3, f"resampled tone deviates by {error:.2e} from the ideal 16 kHz tone"


# ---------------------------------------------------------------------------------- broken files

def _write_truncated(path: Path, file_format: str) -> None:
    buffer_path = path.with_name("complete" + path.suffix)
    soundfile.write(buffer_path, _tones(16000, 1, seconds=2.0), 16000, format=file_format)
    data = buffer_path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("file_format, extension, expected_text", [
    ("WAV", ".wav", "is truncated"),
    ("FLAC", ".flac", "cannot be decoded"),
    ("OGG", ".ogg", "cannot be decoded"),
    ("MP3", ".mp3", "is truncated"),
])
def test_truncated_files_raise(tmp_path, file_format, extension, expected_text):
    path = tmp_path / f"cut{extension}"
    _write_truncated(path, file_format)

    with pytest.raises(AudioError) as raised:
        load_audio(path)

    message = str(raised.value)
    assert expected_text in message
    assert str(path) in message


def test_truncated_wav_message_states_lengths(tmp_path):
    path = tmp_path / "cut.wav"
    _write_truncated(path, "WAV")

    with pytest.raises(AudioError, match=r"declares 2\.00 s of audio but only 1\.00 s are present"):
        load_audio(path)


def _hand_built_wav(samples: np.ndarray, rate_hz: int, declared_frames: int) -> bytes:
    """Return 16-bit mono WAV bytes with an odd-sized chunk before fmt and a chosen data size."""
    pcm = (samples * 32767).astype("<i2").tobytes()
    odd_chunk = b"junk" + struct.pack("<I", 3) + b"abc" + b"\x00"  # 3 bytes plus the pad byte
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate_hz, rate_hz * 2, 2, 16)
    data = b"data" + struct.pack("<I", declared_frames * 2) + pcm
    body = b"WAVE" + odd_chunk + fmt + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_wav_chunks_are_walked_for_truncation(tmp_path):
    samples = _tones(8000, 1)[:, 0]
    complete, cut = tmp_path / "complete.wav", tmp_path / "cut.wav"
    complete.write_bytes(_hand_built_wav(samples, 8000, declared_frames=samples.shape[0]))
    cut.write_bytes(_hand_built_wav(samples, 8000, declared_frames=4 * samples.shape[0]))

    audio = load_audio(complete)
    assert audio.samples.shape == (1, samples.shape[0])
    assert float(np.abs(audio.samples[0].numpy() - samples).max()) < 1e-4
    with pytest.raises(AudioError, match=r"declares 1\.00 s of audio but only 0\.25 s are present"):
        load_audio(cut)


def test_wav_with_placeholder_size_loads(tmp_path):
    """Writers that stream to a pipe leave the data size as 0xFFFFFFFF; such files are read to the end."""
    samples = _tones(8000, 1)[:, 0]
    path = tmp_path / "piped.wav"
    path.write_bytes(_hand_built_wav(samples, 8000, declared_frames=0x7FFFFFFF))
    data = bytearray(path.read_bytes())
    index = data.index(b"data")
    data[index + 4 : index + 8] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))

    assert load_audio(path).samples.shape == (1, samples.shape[0])


@pytest.mark.parametrize("name, content, expected_text", [
    ("empty.wav", b"", "is empty (0 bytes)"),
    ("garbage.wav", b"not audio at all " * 64, "cannot be decoded"),
    ("notes.txt", b"not audio at all " * 64, "The extension '.txt' is not an audio format"),
    ("header_only.wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", "cannot be decoded"),
])
def test_unreadable_files_raise(tmp_path, name, content, expected_text):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(AudioError) as raised:
        load_audio(path)

    assert expected_text in str(raised.value)
    assert str(path) in str(raised.value)


def test_missing_file_and_folder_raise(tmp_path):
    with pytest.raises(AudioError, match="not found") as raised:
        load_audio(tmp_path / "absent.wav")
    assert str(tmp_path / "absent.wav") in str(raised.value)

    with pytest.raises(AudioError, match="is not a file"):
        load_audio(tmp_path)


def test_audio_error_is_a_job_error():
    assert issubclass(AudioError, JobError)


def test_zero_length_audio_raises(tmp_path):
    path = tmp_path / "no_samples.wav"
    soundfile.write(path, np.zeros((0, 1)), 16000)

    with pytest.raises(AudioError, match="contains no samples") as raised:
        load_audio(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_raise(tmp_path, bad_value):
    samples = _tones(16000, 2)
    samples[100, 1] = bad_value
    path = tmp_path / "broken_float.wav"
    soundfile.write(path, samples, 16000, subtype="FLOAT")

    with pytest.raises(AudioError) as raised:
        load_audio(path)

    message = str(raised.value)
    assert "1 NaN or infinite samples" in message
    assert "channel 1 at sample 100" in message
    assert str(path) in message


def test_silent_audio_loads_but_fails_requirement(tmp_path):
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros(8000), 16000)

    audio = load_audio(path)

    assert float(audio.samples.abs().max()) == 0.0
    with pytest.raises(AudioError, match="digital silence") as raised:
        require_not_silent(audio)
    assert str(path) in str(raised.value)


def test_quiet_noise_fails_silence_requirement():
    noise = torch.from_numpy(np.random.default_rng(0).uniform(-1e-4, 1e-4, (1, 8000)).astype(np.float32))
    audio = Audio(noise, 16000)

    with pytest.raises(AudioError, match=r"a peak of -8\d\.\d dBFS, below the -60 dBFS"):
        require_not_silent(audio)
    assert require_not_silent(Audio(noise * 1000, 16000)).samples is not None


def test_over_limit_raises_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "long.wav"
    soundfile.write(path, _tones(8000, 1, seconds=2.0), 8000)

    def fail_read(*args, **kwargs):
        raise AssertionError("the samples were decoded although the header shows the file is too long")

    monkeypatch.setattr(soundfile.SoundFile, "read", fail_read)
    with pytest.raises(AudioError) as raised:
        load_audio(path, max_duration_s=1.5)

    message = str(raised.value)
    assert "lasts 2.0 s, longer than the 1.5 s limit" in message
    assert "max_duration_s" in message
    assert MAX_DURATION_ENV in message
    assert str(path) in message


def test_duration_limit_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "short.wav"
    soundfile.write(path, _tones(8000, 1, seconds=1.0), 8000)

    monkeypatch.setenv(MAX_DURATION_ENV, "0.5")
    with pytest.raises(AudioError, match="longer than the 0.5 s limit"):
        load_audio(path)
    assert load_audio(path, max_duration_s=math.inf).duration_s == pytest.approx(1.0)

    monkeypatch.setenv(MAX_DURATION_ENV, "ten minutes")
    with pytest.raises(AudioError, match=f"{MAX_DURATION_ENV}='ten minutes' is invalid"):
        load_audio(path)


# ------------------------------------------------------------------------------------------ saving

@pytest.mark.parametrize("extension, subtype, tolerance", [
    (".wav", "PCM_16", 1 / 16000), (".flac", "PCM_24", 1e-6), (".wav", "FLOAT", 0.0),
])
def test_save_round_trip(tmp_path, extension, subtype, tolerance):
    samples = torch.from_numpy(_tones(22050, 2).T.astype(np.float32))  # (channels, samples)
    path = tmp_path / "nested" / f"out{extension}"

    save_audio(path, Audio(samples, 22050), subtype=subtype)
    loaded = load_audio(path)

    assert loaded.sample_rate_hz == 22050
    assert loaded.samples.shape == samples.shape
    assert float((loaded.samples - samples).abs().max()) <= tolerance
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "a temporary file was left behind"


def test_save_defaults_to_pcm16_and_clips(tmp_path):
    path = tmp_path / "loud.wav"
    save_audio(path, torch.tensor([0.0, 0.5, 1.5, -2.0]), 8000)

    assert soundfile.info(path).subtype == "PCM_16"
    loaded = load_audio(path).samples[0]
    assert float(loaded.max()) == pytest.approx(1.0, abs=1e-4)
    assert float(loaded.min()) == pytest.approx(-1.0, abs=1e-4)


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "take.wav"
    save_audio(path, np.full(100, 0.25, dtype=np.float32), 8000)
    save_audio(path, np.full(50, -0.25, dtype=np.float32), 8000)

    loaded = load_audio(path)
    assert loaded.samples.shape == (1, 50)
    assert float(loaded.samples.mean()) == pytest.approx(-0.25, abs=1e-4)


@pytest.mark.parametrize("name, audio, rate_hz, kwargs, expected_text", [
    ("out.mp3", torch.zeros(10), 8000, {}, "extension '.mp3' is not supported"),
    ("out.wav", torch.zeros(10), None, {}, "positive integer sample_rate_hz is needed"),
    ("out.wav", torch.zeros(2, 3, 10), 8000, {}, "expected samples shaped"),
    ("out.wav", torch.tensor([0.0, float("nan")]), 8000, {}, "NaN or infinite"),
    ("out.flac", torch.zeros(10), 8000, {"subtype": "FLOAT"}, "does not support the subtype 'FLOAT'"),
    ("out.wav", Audio(torch.zeros(1, 10), 16000), 8000, {}, "differs from the audio's own 16000 Hz"),
])
def test_save_rejects_bad_input(tmp_path, name, audio, rate_hz, kwargs, expected_text):
    path = tmp_path / name
    with pytest.raises(AudioError) as raised:
        save_audio(path, audio, rate_hz, **kwargs)

    assert expected_text in str(raised.value)
    assert str(path) in str(raised.value)
    assert not path.exists()


def test_save_into_unwritable_place_raises(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    path = blocker / "out.wav"

    with pytest.raises(AudioError, match="Check that the folder is writable") as raised:
        save_audio(path, torch.zeros(10), 8000)
    assert str(path) in str(raised.value)


def test_invalid_duration_limit_argument_raises(tmp_path):
    with pytest.raises(ValueError, match="max_duration_s must be positive"):
        load_audio(tmp_path / "any.wav", max_duration_s=0)


# ------------------------------------------------------------------------------ streaming writer

def test_streaming_writer_appends_blocks(tmp_path):
    blocks = [np.full((2, n), 0.1 * (i + 1), dtype=np.float32) for i, n in enumerate([100, 1, 333, 0, 800])]
    path = tmp_path / "recording.wav"

    with StreamingWavWriter(path, 16000, channels=2, subtype="FLOAT") as writer:
        for block in blocks:
            writer.write(block)
        assert writer.frames_written == 1234
    assert writer.closed

    loaded = load_audio(path)
    np.testing.assert_array_equal(loaded.samples.numpy(), np.concatenate(blocks, axis=1))


def test_streaming_writer_rejects_wrong_shape_and_closed(tmp_path):
    writer = StreamingWavWriter(tmp_path / "rec.wav", 16000, channels=2)
    with pytest.raises(AudioError, match=r"expected a block shaped \(samples,\) or \(2, samples\), got \(100, 2\)"):
        writer.write(np.zeros((100, 2), dtype=np.float32))
    writer.close()
    writer.close()
    with pytest.raises(AudioError, match="already closed"):
        writer.write(np.zeros((2, 10), dtype=np.float32))


def _declared_wav_data_bytes(path: Path) -> int:
    data = path.read_bytes()
    index = data.index(b"data")
    return struct.unpack("<I", data[index + 4 : index + 8])[0]


def test_streaming_writer_survives_a_crash(tmp_path):
    """A process killed mid-recording leaves a WAV whose header covers every flushed block."""
    path = tmp_path / "crashed.wav"
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from engine.audio.io import StreamingWavWriter
        writer = StreamingWavWriter({str(path)!r}, 8000, flush_interval_s=0.25)
        block = np.full(1000, 0.5, dtype=np.float32)
        for _ in range(9):
            writer.write(block)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == -9, result.stderr

    # The header was last rewritten at 8000 frames (a flush every 2000); the 1000 after it are on disk.
    assert _declared_wav_data_bytes(path) == 8000 * 2
    loaded = load_audio(path)
    assert loaded.samples.shape == (1, 8000)
    assert float(loaded.samples.min()) == pytest.approx(0.5, abs=1e-4)


# ---------------------------------------------------------------------------------------- real data

def test_real_fsdd_files_load(datasets_dir):
    paths = sorted((datasets_dir / "fsdd" / "recordings").glob("*.wav"))[:5]
    assert len(paths) == 5
    for path in paths:
        audio = load_audio(path)
        assert audio.sample_rate_hz == 8000, path.name
        assert audio.channels == 1, path.name
        assert 0.1 < audio.duration_s < 3.0, f"{path.name}: {audio.duration_s:.2f} s"
        require_not_silent(audio)

        upsampled = load_audio(path, sample_rate_hz=16000)
        assert upsampled.samples.shape[1] == 2 * audio.samples.shape[1], path.name


def test_real_vcc_files_load(datasets_dir):
    for speaker in ("SF1", "SM1", "TF2", "TM3"):
        path = datasets_dir / "vcc2016_4spk" / speaker / "100001.wav"
        audio = load_audio(path, mono=True, sample_rate_hz=22050)
        assert audio.sample_rate_hz == 22050, speaker
        assert 1.0 < audio.duration_s < 15.0, f"{speaker}: {audio.duration_s:.2f} s"
        peak = float(audio.samples.abs().max())
        # Resampling may overshoot full scale slightly on near-clipping recordings (TF2 reaches 1.007).
        assert 0.05 < peak < 1.1, f"{speaker}: peak {peak:.3f}"
