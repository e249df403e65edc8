"""Recorder tests with real audio: a two-tone clip fed into the virtual microphone is recorded back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_test_helpers import TONE_DURATION_S, TONE_FREQUENCIES_HZ, assert_contains_two_tone, two_tone

pytestmark = pytest.mark.audio


def _record_while_feeding(qtbot, recorder, audio_tools, wav: Path, device: str, **start_options):
    recorder.start(device, **start_options)
    feed = audio_tools.feed_virtual_mic(wav)
    qtbot.waitUntil(lambda: feed.poll() is not None, timeout=15000)
    assert feed.returncode == 0, f"virtual-audio feed {wav} exited with {feed.returncode}"
    qtbot.wait(300)  # the last blocks are still on their way through PulseAudio
    with qtbot.waitSignal(recorder.stopped, timeout=5000) as stopped:
        recorder.stop()
    return stopped.args[0]


def test_recording_contains_fed_clip(qtbot, virtual_audio, audio_tools, two_tone_wav):
    from desktop_app.audio.capture import Recorder, recordings_dir

    recorder = Recorder()
    columns: list[np.ndarray] = []
    recorder.columns_ready.connect(columns.append)
    levels: list[tuple[float, float, bool]] = []
    recorder.levels_changed.connect(lambda rms, peak, clipped: levels.append((rms, peak, clipped)))

    result = _record_while_feeding(qtbot, recorder, audio_tools, two_tone_wav, "virtual_mic", n_mels=None)

    assert result.message == ""
    assert result.path.parent == recordings_dir(), f"recording written to {result.path}"
    recorded, rate_hz = soundfile.read(result.path, dtype="float32")
    assert rate_hz == result.sample_rate_hz
    assert len(recorded) == pytest.approx(result.duration_s * rate_hz, abs=1)

    assert_contains_two_tone(recorded, rate_hz, TONE_DURATION_S)

    spectrogram = np.concatenate(columns)  # (frames, bins)
    frequencies_hz = recorder.frequencies_hz
    loud_frames = spectrogram[spectrogram.max(axis=1) > -20.0]
    strongest_hz = sorted(float(f) for f in frequencies_hz[np.argsort(loud_frames.mean(axis=0))[-2:]])
    bin_hz = float(frequencies_hz[1] - frequencies_hz[0])
    assert strongest_hz == pytest.approx(list(TONE_FREQUENCIES_HZ), abs=bin_hz), f"live columns peak at {strongest_hz}"
    assert len(spectrogram) == pytest.approx(result.duration_s / recorder.hop_s, abs=3)
    assert max(peak for _, peak, _ in levels) == pytest.approx(20 * np.log10(0.8), abs=1.0)


def test_recording_through_pulse_device(qtbot, virtual_audio, audio_tools, tmp_path):
    from desktop_app.audio.capture import Recorder

    wav = tmp_path / "short.wav"
    soundfile.write(wav, two_tone(duration_s=1.0), 16000, subtype="FLOAT")
    result = _record_while_feeding(qtbot, Recorder(), audio_tools, wav, "pulse")

    assert result.message == ""
    recorded, rate_hz = soundfile.read(result.path, dtype="float32")
    assert_contains_two_tone(recorded, rate_hz, 1.0)


def test_lost_stream_keeps_recording(qtbot, virtual_audio, audio_tools, two_tone_wav):
    """When PortAudio ends the stream on its own (device unplugged), the file so far is kept."""
    from desktop_app.audio.capture import Recorder

    recorder = Recorder()
    recorder.start("virtual_mic")
    feed = audio_tools.feed_virtual_mic(two_tone_wav)
    qtbot.waitUntil(lambda: recorder.elapsed_s > 1.0, timeout=10000)
    with qtbot.waitSignal(recorder.stopped, timeout=5000) as stopped:
        recorder._stream.abort()  # what PortAudio does when the device goes away mid-stream
    feed.wait(timeout=10)
    result = stopped.args[0]

    assert not recorder.is_recording
    assert "stopped delivering audio" in result.message
    assert "kept" in result.message
    recorded, rate_hz = soundfile.read(result.path, dtype="float32")
    assert len(recorded) / rate_hz == pytest.approx(result.duration_s, abs=0.01)
    assert len(recorded) / rate_hz > 0.9, f"only {len(recorded) / rate_hz:.2f} s kept"


@pytest.mark.audio
def test_server_loss_keeps_recording(qtbot, virtual_audio, audio_tools, two_tone_wav):
    """Stopping the sound server mid-recording ends the recording with a message and keeps the file."""
    from desktop_app.audio.capture import Recorder

    tool = ["bash", str(audio_tools.VIRTUAL_AUDIO_TOOL)]
    recorder = Recorder()
    recorder.start("virtual_mic")
    feed = audio_tools.feed_virtual_mic(two_tone_wav)
    try:
        qtbot.waitUntil(lambda: recorder.elapsed_s > 1.0, timeout=10000)
        with qtbot.waitSignal(recorder.stopped, timeout=20000) as stopped:
            subprocess.run([*tool, "stop"], check=True, timeout=60)
    finally:
        feed.wait(timeout=10)
        subprocess.run([*tool, "start"], check=True, capture_output=True, timeout=60)
    result = stopped.args[0]

    assert not recorder.is_recording
    assert "virtual_mic" in result.message
    assert "kept" in result.message
    recorded, rate_hz = soundfile.read(result.path, dtype="float32")
    assert len(recorded) / rate_hz == pytest.approx(result.duration_s, abs=0.01)
    assert len(recorded) / rate_hz > 0.9, f"only {len(recorded) / rate_hz:.2f} s kept"
    assert np.abs(recorded).max() > 0.5, "the kept part does not contain the fed tone"


@pytest.mark.audio
def test_file_readable_while_recording(qtbot, virtual_audio, audio_tools, two_tone_wav):
    """The WAV header is kept current, so a crash mid-recording leaves a readable file."""
    from desktop_app.audio.capture import Recorder

    recorder = Recorder()
    path = recorder.start("virtual_mic")
    feed = audio_tools.feed_virtual_mic(two_tone_wav)
    qtbot.waitUntil(lambda: recorder.elapsed_s > 1.6, timeout=10000)
    info = soundfile.info(path)
    recorder.stop()
    feed.wait(timeout=10)
    assert info.frames / info.samplerate >= 1.0, f"only {info.frames / info.samplerate:.2f} s readable mid-recording"


def test_writer_thread_keeps_audio_after_error(tmp_path):
    from desktop_app.audio.capture import WavWriterThread
    from engine.audio.io import StreamingWavWriter

    path = tmp_path / "broken.wav"
    writer = WavWriterThread(StreamingWavWriter(path, 16000, channels=1))
    writer.put(np.full((1, 1600), 0.5, dtype=np.float32))
    writer.put(np.zeros((2, 1600), dtype=np.float32))  # wrong channel count: the write fails
    writer.put(np.full((1, 1600), 0.25, dtype=np.float32))  # dropped after the error
    writer.close()
    assert writer.error is not None
    assert "(1, samples)" in str(writer.error)
    samples, _ = soundfile.read(path, dtype="float32")
    assert len(samples) == 1600
    assert np.allclose(samples, 0.5, atol=1e-4)


def test_ring_buffer_wraps_and_counts_losses():
    from desktop_app.audio.capture import RingBuffer

    ring = RingBuffer(capacity_frames=8, channels=1)
    ring.write(np.arange(5, dtype=np.float32)[:, None])
    assert ring.read_available()[:, 0].tolist() == [0, 1, 2, 3, 4]
    ring.write(np.arange(5, 11, dtype=np.float32)[:, None])  # wraps around the end
    assert ring.read_available()[:, 0].tolist() == [5, 6, 7, 8, 9, 10]
    ring.write(np.arange(20, dtype=np.float32)[:, None])  # more than the capacity: only the tail stays
    assert ring.read_available()[:, 0].tolist() == list(range(12, 20))
    assert ring.read_available().shape == (0, 1)
    ring.write(np.ones((6, 1), dtype=np.float32))
    ring.write(np.full((6, 1), 2.0, dtype=np.float32))  # the reader fell 12 frames behind a ring of 8
    assert ring.read_available()[:, 0].tolist() == [1, 1, 2, 2, 2, 2, 2, 2]
    assert ring.lost_frames == 4


def test_level_dbfs_floor_and_full_scale():
    from desktop_app.audio.capture import SILENCE_DBFS, level_dbfs

    assert level_dbfs(1.0) == 0.0
    assert level_dbfs(0.5) == pytest.approx(-6.02, abs=0.01)
    assert level_dbfs(0.0) == SILENCE_DBFS
