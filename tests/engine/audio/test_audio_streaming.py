"""The streaming spectrogram yields the offline spectrogram whatever the block sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.audio import StreamingSpectrogram, linear_spectrogram, load_audio, offline_spectrogram_db


def _push_in_random_blocks(streaming: StreamingSpectrogram, samples: np.ndarray, seed: int,
                           max_block: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    outputs, position = [], 0
    while position < samples.shape[0]:
        size = int(rng.integers(0, max_block + 1))
        outputs.append(streaming.push(samples[position : position + size]))
        position += size
    outputs.append(streaming.flush())
    return outputs


@pytest.mark.parametrize("n_fft, hop_length, n_mels", [(1024, 256, None), (512, 160, None), (1024, 256, 80),
                                                       (400, 400, 40)])
def test_random_blocks_equal_offline(n_fft, hop_length, n_mels):
    samples = (0.1 * torch.randn(12345, generator=torch.Generator().manual_seed(0))).numpy()
    streaming = StreamingSpectrogram(16000, n_fft, hop_length, n_mels=n_mels, top_db=80.0)

    outputs = _push_in_random_blocks(streaming, samples, seed=1, max_block=700)

    streamed = np.concatenate(outputs)
    expected = offline_spectrogram_db(torch.from_numpy(samples), streaming).numpy()
    assert streamed.shape == expected.shape == (1 + 12345 // hop_length, streaming.bins)
    assert streamed.dtype == np.float32
    gap_db = float(np.abs(streamed - expected).max())
    assert gap_db < 1e-3, f"streamed frames differ from offline ones by up to {gap_db:.2e} dB"
    for output in outputs:
        assert output.ndim == 2
        assert output.shape[1] == streaming.bins


def test_block_of_one_sample_at_a_time():
    samples = np.sin(2 * np.pi * 440.0 * np.arange(3000) / 8000).astype(np.float32) * 0.5
    streaming = StreamingSpectrogram(8000, 256, 64)

    outputs = [streaming.push(samples[i : i + 1]) for i in range(samples.shape[0])] + [streaming.flush()]

    expected = offline_spectrogram_db(torch.from_numpy(samples), streaming).numpy()
    np.testing.assert_allclose(np.concatenate(outputs), expected, atol=1e-3)
    assert sum(output.shape[0] for output in outputs[:-1]) == 1 + (3000 - 128) // 64


def test_full_scale_sine_reaches_zero_db():
    rate_hz, n_fft = 16000, 1024
    bin_index = 64  # 1 kHz lies on a bin centre
    samples = np.sin(2 * np.pi * bin_index * rate_hz / n_fft * np.arange(rate_hz) / rate_hz).astype(np.float32)
    streaming = StreamingSpectrogram(rate_hz, n_fft, 256)

    frames = streaming.push(samples)

    assert streaming.frequencies_hz[bin_index] == pytest.approx(1000.0)
    assert float(frames[10, bin_index]) == pytest.approx(0.0, abs=0.01)
    assert float(frames.min()) == pytest.approx(-80.0)
    assert streaming.levels_db == (-80.0, 0.0)
    linear = linear_spectrogram(torch.from_numpy(samples), n_fft, 256)
    assert float(linear[bin_index, 10]) == pytest.approx(streaming.full_scale, rel=1e-4)


def test_mel_bins_and_frequencies():
    streaming = StreamingSpectrogram(16000, 1024, 256, n_mels=64)

    assert streaming.bins == 64
    frequencies_hz = streaming.frequencies_hz
    assert frequencies_hz.shape == (64,)
    assert bool(np.all(np.diff(frequencies_hz) > 0))
    assert 0 < frequencies_hz[0] < frequencies_hz[-1] < 8000


def test_short_signal_and_reset():
    streaming = StreamingSpectrogram(16000, 1024, 256)

    assert streaming.push(np.zeros(100, dtype=np.float32)).shape == (0, 513)
    assert streaming.flush().shape == (0, 513)
    assert streaming.frames_emitted == 0

    streaming.push(np.zeros(5000, dtype=np.float32))
    streaming.reset()
    assert streaming.frames_emitted == 0
    assert streaming.flush().shape == (0, 513)


def test_rejects_invalid_settings():
    with pytest.raises(ValueError, match="0 < hop_length <= n_fft"):
        StreamingSpectrogram(16000, 256, 512)


def test_real_speech_streams_like_offline(datasets_dir):
    audio = load_audio(datasets_dir / "fsdd" / "recordings" / "3_jackson_0.wav")
    samples = audio.samples[0].numpy()
    streaming = StreamingSpectrogram(audio.sample_rate_hz, 256, 80, n_mels=40, top_db=70.0)

    streamed = np.concatenate(_push_in_random_blocks(streaming, samples, seed=2, max_block=441))

    expected = offline_spectrogram_db(audio.samples[0], streaming).numpy()
    assert streamed.shape == expected.shape
    gap_db = float(np.abs(streamed - expected).max())
    assert gap_db < 1e-3, f"streamed frames differ from offline ones by up to {gap_db:.2e} dB"
    assert float(streamed.max()) > -30.0, "speech should come within 30 dB of full scale"
    assert not math.isnan(float(streamed.mean()))


def test_push_accepts_column_and_rejects_stereo():
    samples = (0.1 * torch.randn(3000, generator=torch.Generator().manual_seed(3))).numpy()
    by_vector = StreamingSpectrogram(16000, 512, 128)
    by_column = StreamingSpectrogram(16000, 512, 128)

    np.testing.assert_array_equal(by_column.push(samples[:, None]), by_vector.push(samples))
    with pytest.raises(ValueError, match=r"expects mono samples shaped \(samples,\), got \(100, 2\)"):
        by_vector.push(np.zeros((100, 2), dtype=np.float32))
    assert by_vector.frame_hop_s == pytest.approx(0.008)
