"""Microphone recording: a ring buffer filled by the PortAudio callback and drained by a GUI timer.

The callback only copies samples into a preallocated ring buffer. A QTimer on the GUI thread drains
it about 40 times a second. Each tick measures RMS and peak levels and computes only the new
spectrogram columns. It then hands the samples to a small writer thread, which appends them to a
WAV file in the user data folder. The writes have a thread of their own because a write usually takes 0.1 ms but
bench/recorder.py saw single writes take 275 ms on a busy disk, which would freeze the view.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.audio import devices
from engine.audio.io import AudioError, StreamingWavWriter
from engine.audio.streaming import StreamingSpectrogram
from engine.core.paths import data_dir

logger = logging.getLogger(__name__)

DRAIN_INTERVAL_MS = 25  # 40 Hz: above the 30 frames/s a live spectrogram needs to look smooth
RING_CAPACITY_S = 10.0  # the GUI thread may stall this long before samples are lost
# A gap in the input longer than STALL_WARNING_S is reported but the recording goes on, because an
# overloaded machine (load average 14 on 2 cores in bench/recorder.py) delayed the input by 3.6 s
# once. Only a gap of STALL_TIMEOUT_S ends the recording, as a device that vanished without an error.
STALL_WARNING_S = 1.0
STALL_TIMEOUT_S = 15.0
CLIP_THRESHOLD = 0.999  # peaks at or above this fraction of full scale count as clipping
SILENCE_DBFS = -120.0  # level reported for digital silence instead of minus infinity
SPECTROGRAM_WINDOW_S = 0.040  # n_fft = the next power of two: 1024 at 16 kHz, 2048 at 44.1 and 48 kHz
SPECTROGRAM_HOP_S = 0.010  # 100 columns per second
SPECTROGRAM_TOP_DB = 100.0
# Mel bands of the live view; with 2048-point windows every band still covers at least one FFT bin.
LIVE_MELS = 80


def recordings_dir() -> Path:
    """Return the folder where recordings are written, creating it when missing."""
    path = data_dir() / "recordings"
    path.mkdir(parents=True, exist_ok=True)
    return path


def spectrogram_sizes(sample_rate_hz: int) -> tuple[int, int]:
    """Return (n_fft, hop_length) in samples for the live spectrogram at ``sample_rate_hz``."""
    n_fft = 1 << math.ceil(math.log2(sample_rate_hz * SPECTROGRAM_WINDOW_S))
    hop_length = max(1, round(sample_rate_hz * SPECTROGRAM_HOP_S))
    return n_fft, hop_length


def level_dbfs(value: float) -> float:
    """Convert a linear amplitude (1.0 = full scale) to dBFS, floored at SILENCE_DBFS."""
    return SILENCE_DBFS if value <= 10 ** (SILENCE_DBFS / 20) else 20.0 * math.log10(value)


class RingBuffer:
    """A single-producer, single-consumer ring of float32 frames (frames, channels).

    The audio thread calls ``write`` and the GUI thread calls ``read_available``. Each side only
    moves its own counter, and the writer publishes its counter after the copy, so no lock is
    needed under the GIL. When the reader falls more than ``capacity`` frames behind, the oldest
    frames are lost and counted in ``lost_frames``.
    """

    def __init__(self, capacity_frames: int, channels: int) -> None:
        self._data = np.zeros((capacity_frames, channels), dtype=np.float32)
        self._capacity = capacity_frames
        self._written = 0  # total frames written; only the audio thread changes it
        self._read = 0  # total frames read; only the GUI thread changes it
        self.lost_frames = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def write(self, block: np.ndarray) -> None:
        """Copy ``block`` (frames, channels) in; blocks longer than the capacity keep their tail."""
        frames = len(block)
        if frames > self._capacity:
            block = block[-self._capacity:]
            frames = self._capacity
        start = self._written % self._capacity
        first = min(frames, self._capacity - start)
        self._data[start:start + first] = block[:first]
        if first < frames:
            self._data[:frames - first] = block[first:]
        self._written += frames

    def read_available(self) -> np.ndarray:
        """Return a copy of every frame written since the last call, (frames, channels)."""
        written = self._written
        available = written - self._read
        if available > self._capacity:
            self.lost_frames += available - self._capacity
            self._read = written - self._capacity
            available = self._capacity
        start = self._read % self._capacity
        first = min(available, self._capacity - start)
        out = np.empty((available, self._data.shape[1]), dtype=np.float32)
        out[:first] = self._data[start:start + first]
        out[first:] = self._data[:available - first]
        self._read = written
        return out


class WavWriterThread:
    """Appends blocks to a StreamingWavWriter on a thread of its own, so a slow disk does not block the GUI.

    When a write fails, ``error`` is set and later blocks are dropped. ``close`` writes what is
    queued, closes the file and joins the thread.
    """

    def __init__(self, writer: StreamingWavWriter) -> None:
        self._writer = writer
        self._queue: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
        self.error: AudioError | None = None
        self._thread = threading.Thread(target=self._run, name="recording-writer", daemon=True)
        self._thread.start()

    def put(self, block: np.ndarray) -> None:
        """Queue ``block`` (channels, frames) for writing; the queue is unbounded, so this does not wait."""
        self._queue.put(block)

    def close(self, timeout_s: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.error("The writer of %s did not finish within %.0f s; the file may miss its end",
                         self._writer.path, timeout_s)

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                break
            if self.error is not None:
                continue
            try:
                self._writer.write(block)
            except AudioError as error:
                logger.error("Writing %s failed: %s", self._writer.path, error)
                self.error = error
        self._writer.close()


@dataclass(frozen=True)
class RecordingResult:
    """The outcome of a finished recording: its file, length and loss counters."""

    path: Path
    duration_s: float
    sample_rate_hz: int
    channels: int
    input_overflows: int  # PortAudio callbacks flagged with input overflow
    lost_frames: int  # frames dropped because the GUI thread did not drain the ring in time
    input_gaps: int  # times no audio arrived for more than STALL_WARNING_S
    longest_gap_s: float
    message: str  # "" after a normal stop; otherwise why the recording ended early


class Recorder(QObject):
    """Records one input device to a WAV file while publishing levels and spectrogram columns.

    Signals carry plain Python and NumPy values and are emitted on the GUI thread.
    """

    levels_changed = Signal(float, float, bool)  # rms_dbfs, peak_dbfs, clipped
    columns_ready = Signal(object)  # np.ndarray (new_frames, bins) in dB
    elapsed_changed = Signal(float)  # seconds recorded so far
    started = Signal(object)  # Path of the file being written
    stopped = Signal(object)  # RecordingResult
    warning = Signal(str)  # a problem that does not stop the recording; "" when it is over

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self._sd = None  # the sounddevice module while a stream is open
        self._stream = None
        self._ring: RingBuffer | None = None
        self._writer: WavWriterThread | None = None
        self._spectrogram: StreamingSpectrogram | None = None
        self._path: Path | None = None
        self._device_name = ""
        self._sample_rate_hz = 0
        self._channels = 1
        self._frames_recorded = 0
        self._input_overflows = 0
        self._stream_finished = False
        self._last_data_time = 0.0
        self._gap_reported = False
        self._input_gaps = 0
        self._longest_gap_s = 0.0

    # ------------------------------------------------------------------------------ properties

    @property
    def is_recording(self) -> bool:
        return self._stream is not None

    @property
    def sample_rate_hz(self) -> int:
        return self._sample_rate_hz

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def elapsed_s(self) -> float:
        return self._frames_recorded / self._sample_rate_hz if self._sample_rate_hz else 0.0

    @property
    def input_overflows(self) -> int:
        return self._input_overflows

    @property
    def frequencies_hz(self) -> np.ndarray:
        """Centre frequency of each spectrogram bin (bins,); empty before the first start."""
        if self._spectrogram is None:
            return np.zeros(0)
        return np.asarray(self._spectrogram.frequencies_hz, dtype=np.float64)

    @property
    def hop_s(self) -> float:
        return spectrogram_sizes(self._sample_rate_hz)[1] / self._sample_rate_hz if self._sample_rate_hz else 0.0

    # ---------------------------------------------------------------------------------- control

    def start(self, device: str | int | None = None, *, channels: int = 1, n_mels: int | None = LIVE_MELS,
              path: Path | None = None) -> Path:
        """Open ``device`` (None = default input) and start recording to ``path`` (default: a new file).

        Args:
            device: a device name, a PortAudio index or None for the default input.
            channels: channels to record; the meter and spectrogram use their mean.
            n_mels: mel bands of the live spectrogram, or None for a linear frequency axis.
            path: the WAV file to write; by default ``recordings/recording-<time>.wav`` in the data folder.

        Returns:
            The path of the WAV file being written.

        Raises:
            AudioDeviceError: PortAudio is missing, the device is not found or cannot be opened.
        """
        if self._stream is not None:
            raise RuntimeError("Recorder.start called while already recording; call stop() first.")
        sd = devices.require_backend()
        info = devices.find_device(device, "input")
        channels = max(1, min(channels, info.max_input_channels))
        rate_hz = devices.pick_rate_hz(info, "input", channels)
        self._path = path or _new_recording_path()
        self._reset(info.name, rate_hz, channels, n_mels)

        try:
            stream = sd.InputStream(device=info.index, channels=channels, samplerate=rate_hz,
                                    blocksize=devices.block_frames(rate_hz), dtype="float32", latency="high",
                                    callback=self._on_audio, finished_callback=self._on_stream_finished)
            stream.start()
        except sd.PortAudioError as error:
            self._writer.close()
            self._path.unlink(missing_ok=True)  # an empty WAV file would only clutter the recordings
            raise devices.AudioDeviceError(f"Could not open the input device {info.name!r} at {rate_hz} Hz: "
                                           f"{error}. Pick another device or check that it is connected.") from error
        self._sd = sd
        self._stream = stream
        devices.register_stream(stream)
        self._last_data_time = time.monotonic()
        self._timer.start()
        logger.info("Recording from %s at %d Hz, %d channel(s) into %s", info.name, rate_hz, channels, self._path)
        self.started.emit(self._path)
        return self._path

    def stop(self) -> RecordingResult | None:
        """Stop recording, write the last samples and close the file; returns None when idle."""
        return self._finish("")

    # ----------------------------------------------------------------------------------- internals

    def _reset(self, device_name: str, rate_hz: int, channels: int, n_mels: int | None) -> None:
        n_fft, hop_length = spectrogram_sizes(rate_hz)
        self._device_name = device_name
        self._sample_rate_hz = rate_hz
        self._channels = channels
        self._frames_recorded = 0
        self._input_overflows = 0
        self._stream_finished = False
        self._gap_reported = False
        self._input_gaps = 0
        self._longest_gap_s = 0.0
        self._ring = RingBuffer(int(RING_CAPACITY_S * rate_hz), channels)
        self._spectrogram = StreamingSpectrogram(rate_hz, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                                                 top_db=SPECTROGRAM_TOP_DB)
        self._writer = WavWriterThread(StreamingWavWriter(self._path, rate_hz, channels))

    def _on_audio(self, indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        # Runs on the PortAudio thread: copy and count only, with no lock, no logging and no file I/O.
        if status.input_overflow:
            self._input_overflows += 1
        self._ring.write(indata)

    def _on_stream_finished(self) -> None:
        # Runs on the PortAudio thread when the stream ends for any reason, including stop().
        self._stream_finished = True

    def _drain(self) -> None:
        if self._stream is None:
            return
        block = self._ring.read_available()  # (frames, channels)
        now = time.monotonic()
        if len(block):
            self._end_gap(now)
            self._last_data_time = now
            self._consume(block)

        if self._writer.error is not None:
            self._finish(f"{self._writer.error} The recording stopped; the audio written before is kept.")
            return

        if self._stream_finished:
            self._finish(f"The input device {self._device_name!r} stopped delivering audio (disconnected?). "
                         f"The {self.elapsed_s:.1f} s recorded so far are kept.")
        elif now - self._last_data_time > STALL_TIMEOUT_S:
            self._finish(f"No audio arrived from {self._device_name!r} for {STALL_TIMEOUT_S:.0f} s "
                         f"(disconnected?). The {self.elapsed_s:.1f} s recorded so far are kept.")
        elif now - self._last_data_time > STALL_WARNING_S and not self._gap_reported:
            self._gap_reported = True
            self._input_gaps += 1
            self.warning.emit(f"No audio from {self._device_name!r} for over {STALL_WARNING_S:.0f} s; still "
                              "recording. The machine may be overloaded or the device disconnected.")

    def _end_gap(self, now: float) -> None:
        gap_s = now - self._last_data_time
        if self._gap_reported:
            self._gap_reported = False
            logger.warning("No input from %s for %.1f s", self._device_name, gap_s)
            self.warning.emit("")
        if gap_s > STALL_WARNING_S:
            self._longest_gap_s = max(self._longest_gap_s, gap_s)

    def _consume(self, block: np.ndarray) -> None:
        self._writer.put(block.T)  # (channels, frames), the engine's audio layout
        self._frames_recorded += len(block)

        mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]  # (frames,)
        peak = float(np.max(np.abs(mono)))
        rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
        clipped = bool(np.max(np.abs(block)) >= CLIP_THRESHOLD)
        self.levels_changed.emit(level_dbfs(rms), level_dbfs(peak), clipped)

        columns = self._spectrogram.push(np.ascontiguousarray(mono, dtype=np.float32))
        if len(columns):
            self.columns_ready.emit(columns)
        self.elapsed_changed.emit(self.elapsed_s)

    def _finish(self, message: str) -> RecordingResult | None:
        stream, self._stream = self._stream, None
        if stream is None:
            return None
        self._timer.stop()
        try:
            stream.stop()
            stream.close()
        except self._sd.PortAudioError as error:
            # A vanished device can fail to close; the samples are already in the ring.
            logger.warning("Closing the input stream of %s failed: %s", self._device_name, error)
            message = message or f"The input device {self._device_name!r} failed while stopping: {error}."
        rest = self._ring.read_available()
        if len(rest):
            self._consume(rest)
        self._writer.close()
        if self._writer.error is not None:
            message = message or f"{self._writer.error} The audio written before the error is kept."


        result = RecordingResult(path=self._path, duration_s=self.elapsed_s, sample_rate_hz=self._sample_rate_hz,
                                 channels=self._channels, input_overflows=self._input_overflows,
                                 lost_frames=self._ring.lost_frames, input_gaps=self._input_gaps,
                                 longest_gap_s=self._longest_gap_s, message=message)
        if message:
            logger.warning("Recording ended early: %s", message)
        logger.info("Recorded %.2f s into %s (%d input overflows, %d frames lost)", result.duration_s,
                    result.path, result.input_overflows, result.lost_frames)
        self.stopped.emit(result)
        return result


def _new_recording_path() -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = recordings_dir()
    path = folder / f"recording-{stamp}.wav"
    suffix = 1
    while path.exists():
        suffix += 1
        path = folder / f"recording-{stamp}-{suffix}.wav"
    return path
