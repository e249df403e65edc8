"""Incremental spectrogram for live displays: each pushed block yields only the new STFT columns."""

from __future__ import annotations

import numpy as np
import torch

from engine.audio.features import (
    AMPLITUDE_FLOOR,
    MelConfig,
    amplitude_to_db,
    linear_spectrogram,
    mel_filterbank,
    mel_frequencies_hz,
    mel_spectrogram,
)


class StreamingSpectrogram:
    """Turns audio blocks of any size into dB spectrogram frames, computing each frame once.

    Frames match ``linear_spectrogram`` (or ``mel_spectrogram`` with ``mel_config``) with
    ``center=True``. The start of the signal is reflect-padded like the offline version, and
    ``flush()`` reflect-pads the end, so pushing a whole signal and flushing yields the offline
    frames (``offline_spectrogram_db`` computes them). The first frame is ready after
    n_fft // 2 + 1 samples; each later one after another hop_length samples.

    Values are 20 * log10(magnitude / full_scale), where ``full_scale`` is the magnitude a
    full-scale sine reaches at its bin centre. Unlike ``amplitude_to_db``, ``top_db`` clips to the
    fixed range [-top_db, 0] dB, not relative to the loudest frame, so a display can use fixed
    levels. Mel filters have a unit peak (``norm=None``) to keep that scale.

    Not thread-safe: push from one thread (the GUI timer that drains the recorder's ring buffer).
    """

    def __init__(self, sample_rate_hz: int, n_fft: int = 1024, hop_length: int = 256,
                 n_mels: int | None = None, top_db: float = 80.0) -> None:
        if n_fft < 2 or hop_length <= 0 or hop_length > n_fft:
            raise ValueError(f"StreamingSpectrogram: expected n_fft >= 2 and 0 < hop_length <= n_fft, "
                             f"got n_fft={n_fft}, hop_length={hop_length}.")
        self.sample_rate_hz = int(sample_rate_hz)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.top_db = float(top_db)
        self.mel_config: MelConfig | None = None

        self._window = torch.hann_window(self.n_fft, periodic=True, dtype=torch.float64).numpy()
        self.full_scale = float(self._window.sum() / 2.0)  # |STFT| of a unit sine at its bin centre
        self._filterbank: np.ndarray | None = None  # (freqs, mels)
        if n_mels is not None:
            self.mel_config = MelConfig(sample_rate_hz=self.sample_rate_hz, n_fft=self.n_fft,
                                        hop_length=self.hop_length, win_length=self.n_fft, n_mels=n_mels,
                                        norm=None)
            self._filterbank = mel_filterbank(self.mel_config, dtype=torch.float64).numpy()
        self.reset()

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1 if self._filterbank is None else self._filterbank.shape[1]

    @property
    def frequencies_hz(self) -> np.ndarray:
        """Centre frequency of each output bin in Hz, shaped (bins,)."""
        if self.mel_config is None:
            return np.fft.rfftfreq(self.n_fft, d=1.0 / self.sample_rate_hz)
        return mel_frequencies_hz(self.mel_config).numpy()

    @property
    def frame_hop_s(self) -> float:
        """Time between frames in seconds. Frame t is centred on t * frame_hop_s."""
        return self.hop_length / self.sample_rate_hz

    @property
    def levels_db(self) -> tuple[float, float]:
        """The (min, max) dB range of the output, for fixed image levels."""
        return (-self.top_db, 0.0)

    @property
    def frames_emitted(self) -> int:
        return self._frames_emitted

    def reset(self) -> None:
        """Forget all audio, as if newly created."""
        self._head = np.zeros(0, dtype=np.float64)  # raw samples kept until the start padding is known
        self._buffer: np.ndarray | None = None  # padded signal not yet consumed by a whole frame
        self._tail = np.zeros(0, dtype=np.float64)  # the last raw samples, for the end padding
        self._frames_emitted = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        """Append a block of samples and return the frames it completed.

        Args:
            block: (samples,) or (samples, 1) float samples (full scale at ±1), any length (0 included).

        Returns:
            (new_frames, bins) float32 dB values, possibly with 0 frames.

        Raises:
            ValueError: for a block with more than one channel.
        """
        block = np.asarray(block, dtype=np.float64)
        if block.ndim == 2 and 1 in block.shape:
            block = block.reshape(-1)  # sounddevice delivers mono as (frames, 1)
        if block.ndim != 1:
            raise ValueError(f"StreamingSpectrogram.push expects mono samples shaped (samples,), got {block.shape}. "
                             "Mix the channels to mono first.")
        pad = self.n_fft // 2
        self._remember_tail(block)

        if self._buffer is None:
            # The first frame needs the reflection of samples 1..pad, so wait for pad + 1 samples.
            self._head = np.concatenate([self._head, block])
            if self._head.shape[0] <= pad:
                return self._empty()
            start_padding = self._head[pad:0:-1]
            self._buffer = np.concatenate([start_padding, self._head])
            self._head = np.zeros(0, dtype=np.float64)
        else:
            self._buffer = np.concatenate([self._buffer, block])
        return self._drain()

    def flush(self) -> np.ndarray:
        """Reflect-pad the end of the signal, return the remaining frames, then reset.

        Returns:
            (new_frames, bins) float32 dB values. A signal of pad samples or fewer (pad = n_fft // 2)
            yields no frames, like the offline spectrogram, which rejects it.
        """
        pad = self.n_fft // 2
        if self._buffer is None or self._tail.shape[0] <= pad:
            self.reset()
            return self._empty()
        end_padding = self._tail[-2 : -pad - 2 : -1]
        self._buffer = np.concatenate([self._buffer, end_padding])
        frames = self._drain()
        self.reset()
        return frames

    def _remember_tail(self, block: np.ndarray) -> None:
        keep = self.n_fft // 2 + 1
        self._tail = np.concatenate([self._tail, block])[-keep:]

    def _drain(self) -> np.ndarray:
        assert self._buffer is not None
        available = self._buffer.shape[0]
        if available < self.n_fft:
            return self._empty()
        count = 1 + (available - self.n_fft) // self.hop_length
        windows = np.lib.stride_tricks.sliding_window_view(self._buffer, self.n_fft)[:: self.hop_length][:count]
        magnitude = np.abs(np.fft.rfft(windows * self._window, axis=-1))  # (frames, freqs)
        self._buffer = self._buffer[count * self.hop_length :].copy()
        self._frames_emitted += count
        return self._to_db(magnitude)

    def _to_db(self, magnitude: np.ndarray) -> np.ndarray:
        if self._filterbank is not None:
            magnitude = magnitude @ self._filterbank  # (frames, mels)
        level_db = 20.0 * np.log10(np.maximum(magnitude / self.full_scale, AMPLITUDE_FLOOR))
        return np.clip(level_db, -self.top_db, 0.0).astype(np.float32)

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.bins), dtype=np.float32)


def offline_spectrogram_db(samples: torch.Tensor, streaming: StreamingSpectrogram) -> torch.Tensor:
    """Compute with the offline functions what ``streaming`` yields for a whole signal at once.

    Args:
        samples: (..., samples) audio.
        streaming: supplies the settings (FFT size, hop, mel filters, full scale, top_db).

    Returns:
        (..., frames, bins) float32 dB values, on the same scale and with the same clipping.
    """
    if streaming.mel_config is None:
        magnitude = linear_spectrogram(samples, streaming.n_fft, streaming.hop_length)  # (..., freqs, frames)
    else:
        magnitude = mel_spectrogram(samples, streaming.mel_config)  # (..., mels, frames)
    level_db = amplitude_to_db(magnitude / streaming.full_scale, top_db=None)
    level_db = level_db.clamp(min=-streaming.top_db, max=0.0)
    return level_db.transpose(-1, -2)  # (..., frames, bins)
