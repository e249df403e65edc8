"""Live processing from a microphone to a speaker: capture ring, processing thread, playback FIFO.

Three threads take part, and none of them runs torch on the GUI thread:

- The PortAudio input callback only copies samples into a preallocated ring and wakes the
  processing thread.
- The processing thread builds the processor (for voice conversion: loads the model), then reads
  blocks of ``block_s`` from the ring, processes each one and appends the result to the playback
  FIFO.
- The PortAudio output callback copies from the FIFO and counts an underflow when the FIFO runs dry.

A GUI timer publishes ``LiveStats`` a few times a second. The end-to-end latency is measured from
PortAudio's stream timestamps: the time an output sample reaches the DAC minus the time its input
sample left the ADC.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.audio import devices
from desktop_app.audio.capture import SILENCE_DBFS, level_dbfs

logger = logging.getLogger(__name__)

STATS_INTERVAL_MS = 200
CAPTURE_CAPACITY_S = 5.0  # the processing thread may fall this far behind before input is lost
# The minimum silence played ahead of the first processed block. It absorbs the jitter of input
# delivery and of the compute time per block, at the price of the same amount of latency. With 30 ms,
# one 10 s run through the virtual devices had an underflow although no block computed longer than
# 36 ms, so the delivery jitter alone can exceed 30 ms.
DEFAULT_MARGIN_S = 0.05
# When the playback FIFO contains more than this beyond the margin (input and output clocks drift
# apart, or the processing thread caught up after a stall), its oldest samples are dropped. The
# same bound applies to unprocessed input when processing is slower than real time.
MAX_EXTRA_QUEUE_S = 0.25
LATENCY_WINDOW = 50  # output callbacks averaged for the latency read-out
COMPUTE_WINDOW = 50  # blocks averaged for the compute-time read-out
WARM_UP_BLOCKS = 4
# The margin is at least this many times the slowest warm-up block. With the voice converter on 2
# cores shared with other training processes (load average 4 to 5), single blocks took twice the
# mean compute time. Margins of 1 and 1.5 times the slowest warm-up block still let 1 to 7 blocks
# in 55 arrive late; 2 times let none in 3 runs of 10 s.
WARM_UP_MARGIN_FACTOR = 2.0
# Requested PortAudio buffer of each stream. PortAudio's "low" setting (16 ms through the ALSA pulse
# plugin) underran when the processing thread held the GIL; 40 ms did not in a 10 s run with a model.
DEVICE_LATENCY_S = 0.04


class BlockProcessor(Protocol):
    """Turns one mono float32 block into a block of the same length.

    ``output_delay_s`` (optional, 0 when absent) is how far the output lags the input inside
    ``process``, for example a look-ahead; the latency measurement needs it.
    """

    def process(self, block: np.ndarray) -> np.ndarray: ...


ProcessorFactory = Callable[[int], BlockProcessor]  # called with the sample rate in Hz


def block_levels_dbfs(block: np.ndarray) -> tuple[float, float]:
    """Return the (RMS, peak) level of a mono block in dBFS."""
    if not len(block):
        return SILENCE_DBFS, SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))
    return level_dbfs(rms), level_dbfs(float(np.max(np.abs(block))))


class SampleFifo:
    """A single-producer, single-consumer FIFO of mono float32 samples with a fixed capacity.

    The producer calls ``write`` and the consumer calls ``read_into`` and ``discard``. Each side
    moves only its own counter, so no lock is needed under the GIL. A write that does not fit
    raises instead of overwriting.
    """

    def __init__(self, capacity: int) -> None:
        self._data = np.zeros(capacity, dtype=np.float32)
        self._capacity = capacity
        self._written = 0  # total samples written; only the producer changes it
        self._read = 0  # total samples read or discarded; only the consumer changes it

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def available(self) -> int:
        return self._written - self._read

    @property
    def write_count(self) -> int:
        """Samples written so far."""
        return self._written

    @property
    def read_count(self) -> int:
        """Samples consumed so far, including discarded ones."""
        return self._read

    def write(self, samples: np.ndarray) -> None:
        count = len(samples)
        if count > self._capacity - self.available:
            raise OverflowError(f"SampleFifo: {count} samples do not fit ({self.available} of "
                                f"{self._capacity} used).")
        start = self._written % self._capacity
        first = min(count, self._capacity - start)
        self._data[start:start + first] = samples[:first]
        self._data[:count - first] = samples[first:]
        self._written += count

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` samples into ``out``; return how many were copied."""
        count = min(len(out), self.available)
        start = self._read % self._capacity
        first = min(count, self._capacity - start)
        out[:first] = self._data[start:start + first]
        out[first:count] = self._data[:count - first]
        self._read += count
        return count

    def discard(self, count: int) -> int:
        """Skip up to ``count`` samples (consumer side); return how many were skipped."""
        count = min(count, self.available)
        self._read += count
        return count


class BlockMap:
    """The start of each queued block in the playback FIFO and in the input, for the latency measurement.

    Skipped input and dropped output break the one-to-one count between input and output samples,
    so each block records its own pair. The processing thread adds entries and the output
    callback looks them up. An entry is published by the counter after its two values are stored,
    so no lock is needed under the GIL.
    """

    def __init__(self, size: int = 64) -> None:
        self._fifo_starts = np.zeros(size, dtype=np.int64)
        self._input_starts = np.zeros(size, dtype=np.int64)
        self._count = 0

    def add(self, fifo_start: int, input_start: int) -> None:
        slot = self._count % len(self._fifo_starts)
        self._fifo_starts[slot] = fifo_start
        self._input_starts[slot] = input_start
        self._count += 1

    def input_index(self, fifo_index: int) -> int | None:
        """Return the input sample that FIFO sample ``fifo_index`` came from, or None for margin silence."""
        count = self._count
        for back in range(1, min(count, len(self._fifo_starts)) + 1):
            slot = (count - back) % len(self._fifo_starts)
            if self._fifo_starts[slot] <= fifo_index:
                return int(self._input_starts[slot] + fifo_index - self._fifo_starts[slot])
        return None


@dataclass(frozen=True)
class LiveStats:
    """Live stream measurements for the read-outs; times in seconds, None until measured."""

    sample_rate_hz: int
    block_s: float
    blocks: int  # blocks processed so far
    compute_s_mean: float | None  # processing time per block over the last COMPUTE_WINDOW blocks
    compute_s_max: float | None
    latency_s: float | None  # end-to-end, microphone ADC to speaker DAC, mean of recent output callbacks
    latency_s_max: float | None  # the largest measured since the start
    input_latency_s: float  # what PortAudio reports for the device buffers
    output_latency_s: float
    output_underflows: int  # output callbacks that found too few processed samples after the start
    device_underflows: int  # output callbacks that PortAudio flagged with an output underflow
    input_overflows: int
    dropped_s: float  # input or processed audio dropped to keep the latency bounded
    margin_s: float  # silence queued ahead of the first block
    input_levels_dbfs: tuple[float, float]  # (RMS, peak) of the newest input block
    output_levels_dbfs: tuple[float, float]  # (RMS, peak) of the newest processed block
    running_s: float


class LiveStream(QObject):
    """Runs a ``BlockProcessor`` between an input and an output device until ``stop``.

    ``start`` returns at once; ``started`` follows when the processor is built and the streams run,
    or ``stopped`` with the reason when that fails. Signals are emitted on the GUI thread.
    """

    started = Signal()
    stats_changed = Signal(object)  # LiveStats
    stopped = Signal(str)  # "" after stop(), else why the stream ended

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(STATS_INTERVAL_MS)
        self._timer.timeout.connect(self._poll)
        self._thread: threading.Thread | None = None
        self._quit = threading.Event()
        self._data_ready = threading.Event()
        self._pending: collections.deque[Callable[[BlockProcessor], None]] = collections.deque()
        self._reset_counters(16000, 0.1, DEFAULT_MARGIN_S)
        self._announced_start = False

    # ------------------------------------------------------------------------------ public API

    @property
    def is_running(self) -> bool:
        return self._thread is not None

    @property
    def sample_rate_hz(self) -> int:
        return self._rate_hz

    def start(self, processor_factory: ProcessorFactory, *, input_device: str | int | None = None,
              output_device: str | int | None = None, block_s: float = 0.1, margin_s: float = DEFAULT_MARGIN_S,
              preferred_rate_hz: int = 16000) -> int:
        """Pick a sample rate both devices accept and start the processing thread.

        Args:
            processor_factory: builds the processor for a sample rate; it runs on the processing
                thread, so it may load a model.
            input_device, output_device: names, indexes or None for the defaults.
            block_s: seconds of audio per processed block.
            margin_s: the minimum silence queued ahead of the first block against jitter. The
                warm-up widens it to WARM_UP_MARGIN_FACTOR times the slowest warm-up block. It
                adds to the latency.
            preferred_rate_hz: the rate tried first on both devices.

        Returns:
            The sample rate in Hz.

        Raises:
            AudioDeviceError: PortAudio is missing, a device is missing, or no common rate exists.
            ValueError: ``block_s`` or ``margin_s`` is out of range.
        """
        if self._thread is not None:
            raise RuntimeError("LiveStream.start called while running; call stop() first.")
        if not 0.005 <= block_s <= 1.0 or not 0.0 <= margin_s <= 1.0:
            raise ValueError(f"LiveStream: expected 0.005 <= block_s <= 1 and 0 <= margin_s <= 1, "
                             f"got block_s={block_s}, margin_s={margin_s}.")
        sd = devices.require_backend()
        input_info = devices.find_device(input_device, "input")
        output_info = devices.find_device(output_device, "output")
        rate_hz = devices.pick_rate_hz(input_info, "input", 1, preferred_rate_hz=preferred_rate_hz)
        output_rate_hz = devices.pick_rate_hz(output_info, "output", 1, preferred_rate_hz=rate_hz)
        if output_rate_hz != rate_hz:
            raise devices.AudioDeviceError(
                f"The input {input_info.name!r} runs at {rate_hz} Hz but the output {output_info.name!r} does "
                f"not accept that rate (it offers {output_rate_hz} Hz). Pick devices that share a sample rate.")

        self._reset_counters(rate_hz, block_s, margin_s)
        self._announced_start = False
        self._quit.clear()
        self._data_ready.clear()
        self._pending.clear()
        self._thread = threading.Thread(target=self._run, name="live-processing", daemon=True,
                                        args=(sd, processor_factory, input_info, output_info))
        self._thread.start()
        self._timer.start()
        logger.info("Live stream starting: %s -> %s at %d Hz, blocks of %.0f ms", input_info.name,
                    output_info.name, rate_hz, block_s * 1000)
        return rate_hz

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the streams and the processing thread; emits ``stopped("")`` when something ran."""
        self._finish("", timeout_s)

    def call_in_processing_thread(self, action: Callable[[BlockProcessor], None]) -> None:
        """Run ``action(processor)`` on the processing thread between two blocks (e.g. a new target)."""
        self._pending.append(action)

    def stats(self) -> LiveStats:
        compute = list(self._compute_s)
        latency = list(self._latency_s)
        dropped = self._dropped + self._lost_output + self._skipped_input + self._lost_input
        return LiveStats(
            sample_rate_hz=self._rate_hz, block_s=self._block_frames / self._rate_hz, blocks=self._blocks,
            compute_s_mean=float(np.mean(compute)) if compute else None,
            compute_s_max=float(np.max(compute)) if compute else None,
            latency_s=float(np.mean(latency)) if latency else None,
            latency_s_max=self._latency_s_max, input_latency_s=self._input_latency_s,
            output_latency_s=self._output_latency_s, output_underflows=self._underflows,
            device_underflows=self._device_underflows,
            input_overflows=self._input_overflows, dropped_s=dropped / self._rate_hz,
            margin_s=self._margin_frames / self._rate_hz,
            input_levels_dbfs=self._input_levels, output_levels_dbfs=self._output_levels,
            running_s=(self._stop_time or time.monotonic()) - self._start_time if self._start_time else 0.0)

    # ------------------------------------------------------------------------ processing thread

    def _reset_counters(self, rate_hz: int, block_s: float, margin_s: float) -> None:
        self._rate_hz = rate_hz
        self._block_frames = max(1, round(block_s * rate_hz))
        self._margin_frames = round(margin_s * rate_hz)
        self._capture = SampleFifo(int(CAPTURE_CAPACITY_S * rate_hz))
        self._playback = SampleFifo(self._playback_capacity())
        self._compute_s: collections.deque[float] = collections.deque(maxlen=COMPUTE_WINDOW)
        self._latency_s: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._latency_s_max: float | None = None

        self._blocks = 0
        self._underflows = 0
        self._device_underflows = 0
        self._input_overflows = 0
        self._skip_requested = 0  # samples the processing thread asked the output callback to drop
        self._skip_done = 0  # the part of _skip_requested handled; only the output callback changes it
        self._dropped = 0  # samples the output callback dropped; only it changes this
        self._lost_output = 0  # processed samples the processing thread found no room for
        self._skipped_input = 0  # input samples skipped because processing fell behind
        self._lost_input = 0  # input samples that found the capture ring full
        self._input_levels = (SILENCE_DBFS, SILENCE_DBFS)  # replaced as a whole, so readers see a consistent pair
        self._output_levels = (SILENCE_DBFS, SILENCE_DBFS)

        self._delay_frames = 0  # input-to-output delay inside the processor, set once it is built
        self._captured = 0  # input samples delivered so far; only the input callback changes it
        # (input sample index, its ADC time) from the newest input callback. The newest pair is used,
        # so a drift between the stream clock and the sample count cannot build up.
        self._adc_anchor: tuple[int, float] | None = None
        self._block_map = BlockMap()
        self._playing = False  # True once the first processed samples reached the FIFO

        self._input_latency_s = 0.0
        self._output_latency_s = 0.0
        self._start_time = 0.0
        self._stop_time = 0.0
        self._error = ""
        self._ready = False
        self._ended = False

    def _playback_capacity(self) -> int:
        return self._margin_frames + int(MAX_EXTRA_QUEUE_S * self._rate_hz) + 4 * self._block_frames

    def _run(self, sd, processor_factory: ProcessorFactory, input_info: devices.DeviceInfo,
             output_info: devices.DeviceInfo) -> None:
        threading.current_thread().name = "live-processing"
        input_stream = output_stream = None
        try:
            processor = processor_factory(self._rate_hz)
            self._warm_up(processor)
            self._delay_frames = round(float(getattr(processor, "output_delay_s", 0.0)) * self._rate_hz)
            block_frames = devices.block_frames(self._rate_hz)
            input_stream = sd.InputStream(device=input_info.index, channels=1, samplerate=self._rate_hz,
                                          blocksize=block_frames, dtype="float32", latency=DEVICE_LATENCY_S,
                                          callback=self._on_input)
            output_stream = sd.OutputStream(device=output_info.index, channels=1, samplerate=self._rate_hz,
                                            blocksize=block_frames, dtype="float32", latency=DEVICE_LATENCY_S,
                                            callback=self._on_output)
            self._input_latency_s = float(input_stream.latency)
            self._output_latency_s = float(output_stream.latency)
            devices.register_stream(input_stream)
            devices.register_stream(output_stream)
            input_stream.start()
            output_stream.start()
            self._start_time = time.monotonic()
            self._ready = True
            self._serve(processor)
        except sd.PortAudioError as error:
            self._error = (f"Could not run live audio on {input_info.name!r} -> {output_info.name!r}: {error}. "
                           "Pick other devices or check that they are connected.")
        except Exception as error:  # noqa: BLE001 - any failure must reach the user, not end the thread silently
            logger.exception("Live processing failed")
            self._error = f"Live processing failed: {type(error).__name__}: {error}"
        finally:
            for stream in (input_stream, output_stream):
                if stream is not None:
                    try:
                        stream.abort()
                        stream.close()
                    except sd.PortAudioError as error:
                        logger.warning("Closing a live stream failed: %s", error)
            self._ended = True

    def _warm_up(self, processor: BlockProcessor) -> None:
        """Run a few blocks of quiet noise and widen the margin to the slowest of them.

        The first calls into torch allocate and pick kernels, so they run before the streams open.
        A block is due one block length after the previous one, so a block that computes longer
        than the first one eats into the margin. The slowest warm-up block, times
        WARM_UP_MARGIN_FACTOR, estimates that spread on this machine.
        """
        noise = np.random.default_rng(0).normal(0.0, 0.01, self._block_frames).astype(np.float32)
        times_s = []
        for _ in range(WARM_UP_BLOCKS):
            started = time.perf_counter()
            processor.process(noise)
            times_s.append(time.perf_counter() - started)
        slowest_s = max(times_s[1:])
        self._margin_frames = max(self._margin_frames, round(WARM_UP_MARGIN_FACTOR * slowest_s * self._rate_hz))
        self._playback = SampleFifo(self._playback_capacity())

    def _serve(self, processor: BlockProcessor) -> None:
        block = np.empty(self._block_frames, dtype=np.float32)
        while not self._quit.is_set():
            while self._pending:
                self._pending.popleft()(processor)
            if self._capture.available < self._block_frames:
                self._data_ready.wait(0.05)
                self._data_ready.clear()
                continue
            backlog = self._capture.available - self._block_frames - int(MAX_EXTRA_QUEUE_S * self._rate_hz)
            if backlog > 0:
                # Processing is slower than real time: skip the oldest input so the latency stays bounded.
                self._skipped_input += self._capture.discard(backlog)
            input_start = self._capture.read_count
            self._capture.read_into(block)
            started = time.perf_counter()
            out = np.asarray(processor.process(block.copy()), dtype=np.float32).reshape(-1)
            self._compute_s.append(time.perf_counter() - started)
            self._input_levels = block_levels_dbfs(block)
            self._output_levels = block_levels_dbfs(out)
            if len(out) != self._block_frames:
                raise ValueError(f"The live processor returned {len(out)} samples for a block of "
                                 f"{self._block_frames}; it must return the same length.")
            self._queue_output(out, input_start)
            self._blocks += 1

    def _queue_output(self, out: np.ndarray, input_start: int) -> None:
        if not self._playing:
            self._playback.write(np.zeros(self._margin_frames, dtype=np.float32))
        limit = self._margin_frames + int(MAX_EXTRA_QUEUE_S * self._rate_hz) + self._block_frames
        queued = self._playback.available - (self._skip_requested - self._skip_done)
        excess = queued + len(out) - limit
        if excess > 0:
            # Only the output callback moves the FIFO's read counter, so it performs the skip.
            self._skip_requested += excess
        if self._playback.available + len(out) > self._playback.capacity:
            # The output callback has not run for a while (a device that starts late or stalls).
            self._lost_output += len(out)
            return
        self._block_map.add(self._playback.write_count, input_start)
        self._playback.write(out)
        self._playing = True

    # ------------------------------------------------------------------------- audio callbacks

    def _on_input(self, indata: np.ndarray, frames: int, time_info, status) -> None:
        # PortAudio thread: copy, count and wake the processing thread; nothing else.
        if status.input_overflow:
            self._input_overflows += 1
        adc_s = time_info.inputBufferAdcTime or (time_info.currentTime - self._input_latency_s)
        self._adc_anchor = (self._captured, adc_s)  # one tuple, so the output callback reads a matching pair
        self._captured += frames
        free = self._capture.capacity - self._capture.available
        if frames > free:
            self._lost_input += frames - free
            indata = indata[:free]
        self._capture.write(indata[:, 0])
        self._data_ready.set()

    def _on_output(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        # PortAudio thread: copy processed samples, pad with zeros and count an underflow when short.
        if not self._playing:
            outdata.fill(0.0)
            return
        if self._skip_requested > self._skip_done:
            requested = self._skip_requested
            self._dropped += self._playback.discard(requested - self._skip_done)
            self._skip_done = requested
        start = self._playback.read_count
        copied = self._playback.read_into(outdata[:, 0])
        if copied < frames:
            outdata[copied:, 0] = 0.0
            self._underflows += 1
        if status.output_underflow:
            self._device_underflows += 1
        if self._adc_anchor is not None and copied:
            dac_s = time_info.outputBufferDacTime or (time_info.currentTime + self._output_latency_s)
            input_index = self._block_map.input_index(start)
            if input_index is not None:
                input_index -= self._delay_frames
                anchor_index, anchor_adc_s = self._adc_anchor
                latency_s = dac_s - (anchor_adc_s + (input_index - anchor_index) / self._rate_hz)
                self._latency_s.append(latency_s)
                if self._latency_s_max is None or latency_s > self._latency_s_max:
                    self._latency_s_max = latency_s

    # ------------------------------------------------------------------------------ GUI thread

    def _poll(self) -> None:
        if self._thread is None:
            return
        if self._ready and not self._announced_start:
            self._announced_start = True
            self.started.emit()
        if self._ended:
            self._finish(self._error or "The live stream ended unexpectedly.", 1.0)
            return
        self.stats_changed.emit(self.stats())

    def _finish(self, message: str, timeout_s: float) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._timer.stop()
        self._quit.set()
        self._data_ready.set()
        thread.join(timeout_s)
        self._stop_time = time.monotonic()
        if thread.is_alive():
            logger.error("The live processing thread did not stop within %.0f s", timeout_s)
        final = self.stats()
        if message:
            logger.warning("Live stream stopped: %s", message)
        logger.info("Live stream ran %.1f s: %d blocks, %d output underflows, latency %s s", final.running_s,
                    final.blocks, final.output_underflows,
                    "unmeasured" if final.latency_s is None else f"{final.latency_s:.3f}")
        self.stats_changed.emit(final)
        self.stopped.emit(message)
