"""Audio file input and output: any supported file to float32 (channels, samples), and back."""

from __future__ import annotations

import functools
import io
import logging
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import soundfile
import torch
import torchaudio.functional as audio_functional

from engine.core.checkpoints import atomic_write_bytes
from engine.core.jobs import JobError

logger = logging.getLogger(__name__)

# Speech clips in GAN Studio last seconds. Ten minutes of 48 kHz stereo is already about 230 MB of
# float32, so a longer file is more likely picked by mistake.
DEFAULT_MAX_DURATION_S = 600.0
MAX_DURATION_ENV = "GAN_STUDIO_MAX_AUDIO_S"

# libsndfile 1.2.2 (bundled with soundfile 0.14) reads all of these, MP3 included. The format is
# detected from the file content, so the extension is only a hint.
READABLE_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
WRITABLE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}

# An MP3 decoder may report a length estimated from the bitrate header. A difference of one MPEG-1
# layer III frame (1152 samples) is normal and does not mean the file was cut off.
_MP3_FRAME_SAMPLES = 1152

# libsndfile command that rewrites the header with the current length (sndfile.h, SFC_UPDATE_HEADER_NOW).
_SFC_UPDATE_HEADER_NOW = 0x1060

PathLike = Union[str, os.PathLike]


class AudioError(JobError):
    """An audio file cannot be used. The message names the file, the problem and what to do."""


@dataclass
class Audio:
    """Decoded audio: float32 samples shaped (channels, samples), full scale at ±1, and their sample rate."""

    samples: torch.Tensor  # (channels, samples), float32
    sample_rate_hz: int
    path: Path | None = None  # the file it came from, None for generated or recorded audio

    def __post_init__(self) -> None:
        if not isinstance(self.samples, torch.Tensor) or self.samples.dim() != 2:
            shape = tuple(self.samples.shape) if hasattr(self.samples, "shape") else type(self.samples).__name__
            raise ValueError(f"Audio.samples must be a 2-D tensor (channels, samples), got {shape}.")
        if self.samples.dtype != torch.float32:
            raise ValueError(f"Audio.samples must be float32, got {self.samples.dtype}.")
        if int(self.sample_rate_hz) != self.sample_rate_hz or self.sample_rate_hz <= 0:
            raise ValueError(f"Audio.sample_rate_hz must be a positive integer, got {self.sample_rate_hz!r}.")
        self.sample_rate_hz = int(self.sample_rate_hz)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate_hz


# ------------------------------------------------------------------------------------------ loading

def max_audio_duration_s() -> float:
    """Return the duration limit for loaded files: ``GAN_STUDIO_MAX_AUDIO_S`` if set, else the default.

    Raises:
        AudioError: when the environment variable is set but is not a positive number.
    """
    value = os.environ.get(MAX_DURATION_ENV)
    if value is None or value.strip() == "":
        return DEFAULT_MAX_DURATION_S
    try:
        limit_s = float(value)
    except ValueError:
        limit_s = float("nan")
    if not limit_s > 0:
        raise AudioError(f"The environment variable {MAX_DURATION_ENV}={value!r} is invalid: expected a positive "
                         "number of seconds (e.g. 1200, or inf for no limit). Fix or unset it.")
    return limit_s


def load_audio(
    path: PathLike,
    *,
    mono: bool = False,
    sample_rate_hz: int | None = None,
    max_duration_s: float | None = None,
) -> Audio:
    """Decode an audio file into float32 samples with full scale at ±1.

    Reads WAV, FLAC, OGG (Vorbis, Opus) and MP3 through libsndfile, at any sample rate and channel
    count, from 8/16/24/32-bit integer or 32/64-bit float samples. The format is detected from the
    content, so a WAV file named ``.flac`` still loads. The duration is checked from the header before
    any sample is decoded, so an oversized file costs no memory.

    Args:
        path: the file to read.
        mono: average all channels into one.
        sample_rate_hz: resample to this rate (``torchaudio.functional.resample``, windowed sinc);
            None keeps the file's rate.
        max_duration_s: reject longer files; None uses ``max_audio_duration_s()``, which reads the
            ``GAN_STUDIO_MAX_AUDIO_S`` environment variable; ``math.inf`` disables the check.

    Returns:
        Audio with samples (channels, samples), or (1, samples) when ``mono``.

    Raises:
        AudioError: the file is missing, empty, unreadable, corrupt or truncated, contains no samples
            or NaN/infinite samples, or is longer than the limit. The message names the file.
    """
    path = Path(path)
    limit_s = max_audio_duration_s() if max_duration_s is None else float(max_duration_s)
    if not limit_s > 0:
        raise ValueError(f"load_audio: max_duration_s must be positive (or math.inf), got {max_duration_s!r}.")
    _check_file_exists(path)

    try:
        with soundfile.SoundFile(path) as sound_file:
            declared_frames = sound_file.frames
            file_rate_hz = sound_file.samplerate
            file_format = sound_file.format
            _check_declared_length(path, declared_frames, file_rate_hz, limit_s)
            interleaved = sound_file.read(dtype="float32", always_2d=True)  # (samples, channels)
    except soundfile.LibsndfileError as error:
        raise AudioError(_unreadable_message(path, error)) from error
    except MemoryError as error:
        raise AudioError(f"{path} is too large to decode in memory. Cut it into shorter files.") from error

    _check_complete(path, file_format, declared_frames, interleaved.shape[0], file_rate_hz)
    samples = torch.from_numpy(np.ascontiguousarray(interleaved.T))  # (channels, samples)
    _check_finite(path, samples)

    if mono and samples.shape[0] > 1:
        samples = samples.mean(dim=0, keepdim=True)  # (1, samples)
    if sample_rate_hz is not None:
        samples = resample(samples, file_rate_hz, sample_rate_hz)
        file_rate_hz = int(sample_rate_hz)
    logger.debug("Loaded %s: %s, %d channels, %d Hz", path, file_format, samples.shape[0], file_rate_hz)
    return Audio(samples.contiguous(), file_rate_hz, path)


def resample(samples: torch.Tensor, from_hz: int, to_hz: int) -> torch.Tensor:
    """Resample (..., samples) from ``from_hz`` to ``to_hz`` with a windowed-sinc filter.

    Raises:
        ValueError: when a rate is not a positive integer.
    """
    for name, rate in (("from_hz", from_hz), ("to_hz", to_hz)):
        if int(rate) != rate or rate <= 0:
            raise ValueError(f"resample: {name} must be a positive integer number of Hz, got {rate!r}.")
    if int(from_hz) == int(to_hz):
        return samples
    return audio_functional.resample(samples, int(from_hz), int(to_hz))


def require_not_silent(audio: Audio, *, threshold_dbfs: float = -60.0) -> Audio:
    """Return ``audio`` unchanged, or raise when its peak stays below ``threshold_dbfs``.

    Callers that need speech (conversion, recognition, recording checks) use this, because
    ``load_audio`` itself accepts silent files.

    Raises:
        AudioError: when the peak level is below the threshold, stating the measured level.
    """
    peak = float(audio.samples.abs().max()) if audio.samples.numel() else 0.0
    peak_dbfs = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    if peak_dbfs < threshold_dbfs:
        source = str(audio.path) if audio.path is not None else "The audio"
        level = "digital silence (all samples are zero)" if peak == 0 else f"a peak of {peak_dbfs:.1f} dBFS"
        raise AudioError(f"{source} is silent: it contains {level}, below the {threshold_dbfs:.0f} dBFS needed. "
                         "Check that the microphone is connected, unmuted and its input level is up, "
                         "or pick a file that contains speech.")
    return audio


def _check_file_exists(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"Audio file {path} not found. Check the path, or pick the file again.")
    if not path.is_file():
        raise AudioError(f"{path} is not a file (it is a folder or a device). Pick an audio file.")
    if path.stat().st_size == 0:
        raise AudioError(f"Audio file {path} is empty (0 bytes). It was probably not written "
                         "completely. Record or export it again.")


def _check_declared_length(path: Path, frames: int, rate_hz: int, limit_s: float) -> None:
    if frames <= 0:
        raise AudioError(f"Audio file {path} contains no samples (its header declares a length of 0). "
                         "Record or export it again.")
    duration_s = frames / rate_hz
    if duration_s > limit_s:
        raise AudioError(
            f"Audio file {path} lasts {duration_s:.1f} s, longer than the {limit_s:g} s limit. Cut it into "
            f"shorter files, or raise the limit with load_audio(max_duration_s=...) or the environment "
            f"variable {MAX_DURATION_ENV} (seconds)."
        )


def _unreadable_message(path: Path, error: soundfile.LibsndfileError) -> str:
    detail = str(error).replace(f"Error opening {str(path)!r}: ", "").strip().rstrip(".")
    suffix = path.suffix.lower()
    hint = (f"The extension {suffix!r} is not an audio format GAN Studio reads"
            if suffix not in READABLE_EXTENSIONS else "The file may be corrupt or cut off")
    return (f"Audio file {path} cannot be decoded ({detail}). {hint}; supported formats are "
            f"{', '.join(e.lstrip('.').upper() for e in READABLE_EXTENSIONS)}. "
            "Re-export it in one of these formats or copy it again.")


def _check_complete(path: Path, file_format: str, declared_frames: int, read_frames: int, rate_hz: int) -> None:
    """Raise when the file contains fewer samples than its header declares (cut off while copying)."""
    if file_format in ("WAV", "WAVEX"):
        # libsndfile silently shortens a WAV whose data chunk runs past the end of the file, so the
        # chunk header is compared with the file size here.
        declared_frames, present_frames = wav_data_chunk_frames(path)
        if declared_frames is not None and present_frames < declared_frames:
            _raise_truncated(path, declared_frames / rate_hz, present_frames / rate_hz)
        return
    tolerance = _MP3_FRAME_SAMPLES if file_format == "MPEG" else 0
    if read_frames < declared_frames - tolerance:
        _raise_truncated(path, declared_frames / rate_hz, read_frames / rate_hz)


def _raise_truncated(path: Path, declared_s: float, present_s: float) -> None:
    raise AudioError(f"Audio file {path} is truncated: its header declares {declared_s:.2f} s of audio but "
                     f"only {present_s:.2f} s are present. It was cut off while being copied or written; "
                     "copy or export it again.")


def wav_data_chunk_frames(path: Path) -> tuple[int | None, int]:
    """Return (declared, present) frame counts of a RIFF/WAVE data chunk, with declared None when unknown.

    Writers that stream to a pipe leave the data size as 0 or 0xFFFFFFFF. libsndfile reads such
    files to their end, so their declared length counts as unknown. RF64 and W64 files are not checked.
    """
    file_size = path.stat().st_size
    bytes_per_frame = 0
    with path.open("rb") as handle:
        if handle.read(12)[:4] != b"RIFF":
            return None, 0
        position = 12
        while position + 8 <= file_size:
            handle.seek(position)
            chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
            if chunk_id == b"fmt " and chunk_size >= 16:
                bytes_per_frame = struct.unpack("<12xH", handle.read(14))[0]  # nBlockAlign
            if chunk_id == b"data":
                if bytes_per_frame == 0 or chunk_size in (0, 0xFFFFFFFF):
                    return None, 0
                present_bytes = file_size - position - 8
                return chunk_size // bytes_per_frame, present_bytes // bytes_per_frame
            position += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to an even size
    return None, 0


def _check_finite(path: Path, samples: torch.Tensor) -> None:
    finite = torch.isfinite(samples)
    if bool(finite.all()):
        return
    bad = (~finite).nonzero()
    channel, index = (int(value) for value in bad[0])
    raise AudioError(f"Audio file {path} contains {bad.shape[0]} NaN or infinite samples (the first in channel "
                     f"{channel} at sample {index}). The file is damaged or was written by a program with a "
                     "bug; export it again as integer PCM.")


# ------------------------------------------------------------------------------------------ saving

def save_audio(
    path: PathLike,
    audio: Audio | torch.Tensor | np.ndarray,
    sample_rate_hz: int | None = None,
    *,
    subtype: str = "PCM_16",
) -> Path:
    """Write audio atomically (a temporary file renamed into place) as WAV or FLAC by extension.

    Args:
        path: the target file; its extension (.wav or .flac) picks the format.
        audio: an Audio, or samples shaped (samples,) or (channels, samples) with full scale at ±1.
        sample_rate_hz: required for raw samples; for an Audio it must be None or equal its rate.
        subtype: a libsndfile subtype such as PCM_16, PCM_24, FLOAT. Integer subtypes clip to [-1, 1].

    Returns:
        The path written.

    Raises:
        AudioError: for an unsupported extension or subtype, a missing sample rate, a wrong shape,
            or NaN/infinite samples.
    """
    path = Path(path)
    samples, rate_hz = _samples_for_saving(path, audio, sample_rate_hz)
    file_format = WRITABLE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise AudioError(f"Cannot save {path}: the extension {path.suffix!r} is not supported. "
                         f"Use one of {', '.join(WRITABLE_FORMATS)}.")
    if not soundfile.check_format(file_format, subtype):
        raise AudioError(f"Cannot save {path}: {file_format} does not support the subtype {subtype!r}. "
                         f"Use one of {', '.join(soundfile.available_subtypes(file_format))}.")

    if not subtype.startswith(("FLOAT", "DOUBLE")):
        peak = float(np.abs(samples).max()) if samples.size else 0.0
        if peak > 1.0:
            logger.warning("Clipping %s: peak %.3f is above full scale for %s", path, peak, subtype)
            samples = np.clip(samples, -1.0, 1.0)

    buffer = io.BytesIO()
    soundfile.write(buffer, samples.T, rate_hz, format=file_format, subtype=subtype)  # (samples, channels)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as error:
        raise AudioError(f"Cannot save {path} ({error}). Check that the folder is writable and the disk "
                         "has space.") from error
    return path


def _samples_for_saving(path: Path, audio: Audio | torch.Tensor | np.ndarray,
                        sample_rate_hz: int | None) -> tuple[np.ndarray, int]:
    """Return float32 numpy samples shaped (channels, samples) and the sample rate."""
    if isinstance(audio, Audio):
        if sample_rate_hz is not None and int(sample_rate_hz) != audio.sample_rate_hz:
            raise AudioError(f"Cannot save {path}: sample_rate_hz={sample_rate_hz} differs from the audio's own "
                             f"{audio.sample_rate_hz} Hz. Resample first or omit sample_rate_hz.")
        sample_rate_hz, audio = audio.sample_rate_hz, audio.samples
    if sample_rate_hz is None or int(sample_rate_hz) != sample_rate_hz or sample_rate_hz <= 0:
        raise AudioError(f"Cannot save {path}: a positive integer sample_rate_hz is needed, got {sample_rate_hz!r}.")

    if isinstance(audio, torch.Tensor):
        audio = audio.detach().to("cpu", torch.float32).numpy()
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[np.newaxis, :]  # (1, samples)
    if samples.ndim != 2:
        raise AudioError(f"Cannot save {path}: expected samples shaped (samples,) or (channels, samples), "
                         f"got {samples.shape}.")
    if not np.isfinite(samples).all():
        raise AudioError(f"Cannot save {path}: the samples contain NaN or infinite values. "
                         "Check the model or processing step that produced them.")
    return samples, int(sample_rate_hz)


class StreamingWavWriter:
    """Appends float32 blocks to a WAV file as they arrive, keeping the header current.

    The header is rewritten every ``flush_interval_s`` of audio, so a crash or power loss leaves a
    playable file that is missing at most that much audio at its end. The recorder writes through
    this class from a worker thread; it is not thread-safe by itself.

    Blocks are shaped (samples,) for mono or (channels, samples). sounddevice delivers
    (frames, channels) arrays: pass ``block.T``.
    """

    def __init__(self, path: PathLike, sample_rate_hz: int, channels: int = 1, *,
                 subtype: str = "PCM_16", flush_interval_s: float = 1.0) -> None:
        self.path = Path(path)
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = int(channels)
        self.frames_written = 0
        self._flush_interval_frames = max(1, int(flush_interval_s * self.sample_rate_hz))
        self._frames_since_flush = 0
        if self.channels < 1 or self.sample_rate_hz <= 0:
            raise AudioError(f"Cannot record to {self.path}: expected channels >= 1 and a positive sample rate, "
                             f"got channels={channels}, sample_rate_hz={sample_rate_hz}.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: soundfile.SoundFile | None = soundfile.SoundFile(
                self.path, "w", samplerate=self.sample_rate_hz, channels=self.channels,
                format="WAV", subtype=subtype)
        except (soundfile.LibsndfileError, OSError) as error:
            raise AudioError(f"Cannot open {self.path} for recording ({error}). Check that the folder is "
                             "writable and the disk has space.") from error

    @property
    def duration_s(self) -> float:
        return self.frames_written / self.sample_rate_hz

    def write(self, block: np.ndarray | torch.Tensor) -> None:
        """Append one block of float32 samples (full scale at ±1), shaped (samples,) or (channels, samples).

        Raises:
            AudioError: when the writer is closed, the block has the wrong shape, or the disk write fails.
        """
        if self._file is None:
            raise AudioError(f"Cannot write to {self.path}: the recording was already closed.")
        if isinstance(block, torch.Tensor):
            block = block.detach().cpu().numpy()
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1:
            block = block[np.newaxis, :]  # (1, samples)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise AudioError(f"Cannot write to {self.path}: expected a block shaped (samples,) or "
                             f"({self.channels}, samples), got {block.shape}. sounddevice delivers "
                             "(frames, channels) arrays: pass block.T.")
        try:
            self._file.write(np.ascontiguousarray(block.T))  # (samples, channels), as libsndfile expects
        except (soundfile.LibsndfileError, OSError) as error:
            raise AudioError(f"Writing the recording {self.path} failed ({error}). Check free disk space.") from error
        self.frames_written += block.shape[1]
        self._frames_since_flush += block.shape[1]
        if self._frames_since_flush >= self._flush_interval_frames:
            self.flush()

    def flush(self) -> None:
        """Write buffered samples to disk and update the header to the current length."""
        if self._file is None:
            return
        self._file.flush()
        _update_header_now(self._file)
        self._frames_since_flush = 0

    def close(self) -> None:
        """Finish the file. Calling it again does nothing."""
        if self._file is not None:
            self._file.close()
            self._file = None
            logger.info("Closed recording %s (%.2f s)", self.path, self.duration_s)

    @property
    def closed(self) -> bool:
        return self._file is None

    def __enter__(self) -> StreamingWavWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _update_header_now(sound_file: soundfile.SoundFile) -> None:
    """Ask libsndfile to rewrite the WAV header with the current length.

    soundfile 0.14 has no public wrapper for ``sf_command``, so this uses its private ``_snd`` and
    ``_file`` handles. Without them, readers that trust the header see a length of 0 after a crash,
    although libsndfile itself still reads such a file to its end.
    """
    try:
        command = soundfile._snd.sf_command  # type: ignore[attr-defined]
        handle = sound_file._file  # type: ignore[attr-defined]
        null = soundfile._ffi.NULL  # type: ignore[attr-defined]
    except AttributeError:
        _warn_header_update_unavailable()
        return
    command(handle, _SFC_UPDATE_HEADER_NOW, null, 0)


@functools.cache
def _warn_header_update_unavailable() -> None:
    logger.warning("soundfile %s has no sf_command, so recordings get a complete WAV header only when "
                   "closed", soundfile.__version__)
