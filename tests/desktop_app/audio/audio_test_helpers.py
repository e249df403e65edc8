"""Test signals and the analysis used to check what came through the virtual audio devices."""

from __future__ import annotations

import numpy as np
import pytest

TONE_FREQUENCIES_HZ = (440.0, 1000.0)
TONE_AMPLITUDE = 0.4  # per tone, so the sum peaks at 0.8 and never clips
TONE_DURATION_S = 2.0
TONE_RATE_HZ = 16000
EDGE_S = 0.05  # PulseAudio may cut or smear the first and last few milliseconds of a clip


def two_tone(duration_s: float = TONE_DURATION_S, rate_hz: int = TONE_RATE_HZ) -> np.ndarray:
    """Return 440 Hz + 1000 Hz at TONE_AMPLITUDE each, (samples,) float32."""
    time_s = np.arange(int(duration_s * rate_hz)) / rate_hz
    tones = [TONE_AMPLITUDE * np.sin(2 * np.pi * frequency * time_s) for frequency in TONE_FREQUENCIES_HZ]
    return np.sum(tones, axis=0).astype(np.float32)


def spectral_peaks_hz(samples: np.ndarray, rate_hz: int, count: int = 2) -> list[float]:
    """Return the ``count`` strongest spectral peaks (Hz, sorted), refined by parabolic interpolation."""
    window = np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(samples * window))
    bin_hz = rate_hz / len(samples)
    peaks: list[float] = []
    magnitude = spectrum.copy()
    for _ in range(count):
        index = int(np.argmax(magnitude[1:-1])) + 1
        left, centre, right = np.log(spectrum[index - 1:index + 2] + 1e-12)
        offset = 0.5 * (left - right) / (left - 2 * centre + right)
        peaks.append((index + offset) * bin_hz)
        guard = max(3, int(20.0 / bin_hz))  # blank 20 Hz around the peak so its skirt is not picked again
        magnitude[max(0, index - guard):index + guard + 1] = 0.0
    return sorted(peaks)


def windowed_rms(samples: np.ndarray, rate_hz: int, window_s: float = 0.01) -> np.ndarray:
    """Return the RMS of consecutive ``window_s`` windows, (windows,)."""
    size = max(1, int(window_s * rate_hz))
    usable = len(samples) // size * size
    frames = samples[:usable].reshape(-1, size)  # (windows, size)
    return np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))


def locate_clip(recorded: np.ndarray, reference: np.ndarray) -> int:
    """Return the sample offset in ``recorded`` where ``reference`` matches best (cross-correlation by FFT)."""
    size = 1 << int(np.ceil(np.log2(len(recorded) + len(reference))))
    correlation = np.fft.irfft(np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(reference, size)), size)
    return int(np.argmax(correlation[:len(recorded)]))


def assert_contains_two_tone(recorded: np.ndarray, rate_hz: int, duration_s: float) -> None:
    """Check that ``recorded`` (samples,) contains the two-tone clip of ``duration_s``, whole and unchanged.

    The clip is found by cross-correlation. Its body (without EDGE_S at both ends) must show both
    tones and correlate with the reference. The energy envelope must last ``duration_s``.
    """
    reference = two_tone(duration_s=duration_s, rate_hz=rate_hz)
    offset = locate_clip(recorded, reference)
    edge = int(EDGE_S * rate_hz)
    body = recorded[offset + edge: offset + len(reference) - edge]
    assert len(body) == len(reference) - 2 * edge, f"the clip found at {offset / rate_hz:.3f} s is cut off"

    peaks_hz = spectral_peaks_hz(body, rate_hz)
    assert peaks_hz == pytest.approx(list(TONE_FREQUENCIES_HZ), abs=1.0), f"peaks at {peaks_hz} Hz"
    correlation = float(np.corrcoef(body, reference[edge:-edge])[0, 1])
    assert correlation > 0.99, f"correlation with the reference clip is {correlation:.4f}"

    envelope = windowed_rms(recorded, rate_hz)  # 10 ms windows
    loud = np.flatnonzero(envelope > 0.1)
    measured_s = (loud[-1] - loud[0] + 1) * 0.01
    assert measured_s == pytest.approx(duration_s, abs=0.03), f"the tone lasted {measured_s:.3f} s"
    assert len(loud) == loud[-1] - loud[0] + 1, f"the tone has {loud[-1] - loud[0] + 1 - len(loud)} quiet gaps"
