"""Clip playback through PortAudio with a position report for the play cursor."""

from __future__ import annotations

import logging

import numpy as np
import torch
import torchaudio
from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.audio import devices

logger = logging.getLogger(__name__)

# PortAudio's ALSA backend closes a stream without draining the pulse plugin's buffer, so the last
# output latency of audio is lost (30-240 ms with PortAudio 19.6 and PulseAudio 16). Silence
# appended to every clip absorbs that cut.
TAIL_PADDING_S = 0.25
POSITION_INTERVAL_MS = 33  # about 30 cursor updates per second


class Player(QObject):
    """Plays one clip at a time on an output device and reports the play position.

    ``position_changed`` carries seconds into the clip, corrected by the stream's output latency.
    ``finished`` carries "" when the clip ended or stop() was called, otherwise why playback broke off.
    """

    position_changed = Signal(float)
    finished = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(POSITION_INTERVAL_MS)
        self._timer.timeout.connect(self._poll)
        self._sd = None
        self._stream = None
        self._frames = np.zeros((0, 1), dtype=np.float32)  # the padded clip, (frames, channels)
        self._clip_frames = 0
        self._cursor_frames = 0  # frames handed to PortAudio so far; only the audio thread changes it
        self._rate_hz = 0
        self._latency_s = 0.0
        self._stream_finished = False
        self._stopped_by_user = False
        self._device_name = ""

    @property
    def is_playing(self) -> bool:
        return self._stream is not None

    @property
    def position_s(self) -> float:
        """Seconds of the clip heard so far (frames sent minus the output latency), clamped to the clip."""
        if not self._rate_hz:
            return 0.0
        heard_s = self._cursor_frames / self._rate_hz - self._latency_s
        return float(min(max(heard_s, 0.0), self._clip_frames / self._rate_hz))

    @property
    def sample_rate_hz(self) -> int:
        return self._rate_hz

    def play(self, samples: np.ndarray | torch.Tensor, sample_rate_hz: int, device: str | int | None = None) -> None:
        """Start playing ``samples`` (channels, samples) float32 on ``device`` (None = default output).

        The clip is resampled when the device rejects its rate, and mixed down to mono when the
        device has fewer channels than the clip. Any clip already playing is stopped first.

        Raises:
            AudioDeviceError: PortAudio is missing, or the device is not found or cannot be opened.
            ValueError: ``samples`` is not a 2-D (channels, samples) array.
        """
        self.stop()
        sd = devices.require_backend()
        clip = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
        if clip.ndim != 2:
            raise ValueError(f"Expected audio shaped (channels, samples), got shape {clip.shape}.")
        clip = clip.astype(np.float32, copy=False)

        info = devices.find_device(device, "output")
        if clip.shape[0] > info.max_output_channels:
            clip = clip.mean(axis=0, keepdims=True)  # (1, samples)
        channels = clip.shape[0]
        rate_hz = devices.pick_rate_hz(info, "output", channels, preferred_rate_hz=sample_rate_hz)
        if rate_hz != sample_rate_hz:
            logger.info("Resampling playback from %d Hz to %d Hz for %s", sample_rate_hz, rate_hz, info.name)
            clip = torchaudio.functional.resample(torch.from_numpy(clip), sample_rate_hz, rate_hz).numpy()

        padding = np.zeros((int(TAIL_PADDING_S * rate_hz), channels), dtype=np.float32)
        self._frames = np.ascontiguousarray(np.concatenate([clip.T, padding]))  # (frames, channels)
        self._clip_frames = clip.shape[1]
        self._cursor_frames = 0
        self._rate_hz = rate_hz
        self._stream_finished = False
        self._stopped_by_user = False
        self._device_name = info.name
        self._sd = sd  # the callback raises sd.CallbackStop, so set before the stream opens

        try:
            stream = sd.OutputStream(device=info.index, channels=channels, samplerate=rate_hz,
                                     blocksize=devices.block_frames(rate_hz), dtype="float32",
                                     callback=self._on_audio, finished_callback=self._on_stream_finished)
            self._latency_s = float(stream.latency)
            stream.start()
        except sd.PortAudioError as error:
            raise devices.AudioDeviceError(f"Could not open the output device {info.name!r} at {rate_hz} Hz: "
                                           f"{error}. Pick another device or check that it is connected.") from error
        self._stream = stream
        devices.register_stream(stream)
        self._timer.start()
        logger.info("Playing %.2f s on %s at %d Hz", self._clip_frames / rate_hz, info.name, rate_hz)

    def stop(self) -> None:
        """Stop playback at once; emits ``finished("")`` when something was playing."""
        if self._stream is None:
            return
        self._stopped_by_user = True
        self._close("")

    def _on_audio(self, outdata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        # Runs on the PortAudio thread: copy the next slice, pad with zeros at the end.
        start = self._cursor_frames
        chunk = self._frames[start:start + frames]
        outdata[:len(chunk)] = chunk
        outdata[len(chunk):] = 0.0
        self._cursor_frames = start + len(chunk)
        if len(chunk) < frames:
            raise self._sd.CallbackStop

    def _on_stream_finished(self) -> None:
        self._stream_finished = True

    def _poll(self) -> None:
        if self._stream is None:
            return
        self.position_changed.emit(self.position_s)
        if not self._stream_finished:
            return
        if self._cursor_frames >= len(self._frames):
            self._close("")
        else:
            played_s = self._cursor_frames / self._rate_hz
            self._close(f"Playback on {self._device_name!r} stopped after {played_s:.1f} s: "
                        "the device stopped accepting audio (disconnected?).")

    def _close(self, message: str) -> None:
        stream, self._stream = self._stream, None
        self._timer.stop()
        try:
            if self._stopped_by_user:
                stream.abort()
            stream.close()
        except self._sd.PortAudioError as error:
            logger.warning("Closing the output stream of %s failed: %s", self._device_name, error)
        if message:
            logger.warning("%s", message)
        else:
            self.position_changed.emit(self.position_s)
        self.finished.emit(message)
