"""Pieces shared by the voice pages: a background runner, log-mel display helpers and the voice folders."""

from __future__ import annotations

import logging
import math
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox

from engine.audio.features import SPEECH_MEL, mel_frequencies_hz
from engine.core.jobs import JobError
from engine.core.paths import data_dir
from engine.vocoder import bundled_vocoder_path

logger = logging.getLogger(__name__)

# ln(magnitude) to dB: 20 * log10(e) dB per natural-log unit.
DB_PER_NEPER = 20.0 / math.log(10.0)
MEL_HOP_S = SPEECH_MEL.hop_length / SPEECH_MEL.sample_rate_hz
VOCODER_CHOICES = (("GAN vocoder", "gan"), ("Griffin-Lim", "griffin-lim"))
OPEN_FILTER = "Audio files (*.wav *.flac *.ogg *.mp3);;All files (*)"
SAVE_FILTER = "WAV (*.wav);;FLAC (*.flac)"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def voice_work_dir(kind: str) -> Path:
    """Return (and create) ``<data folder>/voice_tab/<kind>``: trimmed sources, conversions, speaker clips."""
    path = data_dir() / "voice_tab" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def mel_frequencies() -> np.ndarray:
    """Centre frequencies (mels,) in Hz of the SPEECH_MEL bands, for the spectrogram axis."""
    return mel_frequencies_hz(SPEECH_MEL).numpy()


def log_mel_to_display_db(log_mel: np.ndarray) -> np.ndarray:
    """Turn (mels, frames) natural-log mel magnitudes into (frames, mels) dB for SpectrogramView."""
    log_mel = np.asarray(log_mel, dtype=np.float32)
    if log_mel.ndim != 2 or log_mel.shape[0] != SPEECH_MEL.n_mels:
        raise ValueError(f"Expected log-mels shaped ({SPEECH_MEL.n_mels}, frames), got {log_mel.shape}.")
    return np.ascontiguousarray(log_mel.T * DB_PER_NEPER)  # (frames, mels)


def disable_missing_gan_vocoder(combo: QComboBox) -> None:
    """Grey out the "gan" entry of a vocoder combo box when no GAN vocoder is installed, and pick Griffin-Lim."""
    if bundled_vocoder_path().is_file():
        return
    item = combo.model().item(combo.findData("gan"))
    item.setEnabled(False)
    item.setToolTip(f"The GAN vocoder {bundled_vocoder_path().name} is not installed; Griffin-Lim is used.")
    combo.setCurrentIndex(combo.findData("griffin-lim"))


def audio_files_in(folder: Path) -> list[Path]:
    """Return the audio files directly inside ``folder``, sorted by name."""
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith("."))


class _Relay(QObject):
    """Carries a background result to the GUI thread through a queued signal."""

    done = Signal(object, object, object)  # callback, result, error message or None


class BackgroundRunner(QObject):
    """Runs short blocking work (file analysis, speaker samples) on one thread outside the engine worker.

    The engine worker may run a fine-tuning for an hour, and loading a clip must not wait for it.
    ``on_done(result)`` or ``on_error(message)`` run on the GUI thread. A JobError's message is shown
    as is; any other exception is logged and reported with its type.
    """

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._relay = _Relay(self)
        self._relay.done.connect(self._deliver)
        self._closed = False

    def submit(self, work: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None], description: str) -> Future:
        relay = self._relay

        def run() -> None:
            try:
                result = work()
            except JobError as error:
                relay.done.emit(on_error, None, str(error))
            except Exception as error:  # noqa: BLE001 - any failure must reach the user, not vanish in the pool
                logger.exception("%s failed", description)
                relay.done.emit(on_error, None, f"{description} failed: {type(error).__name__}: {error}. "
                                                "See the log for details.")
            else:
                relay.done.emit(on_done, result, None)

        return self._executor.submit(run)

    def shutdown(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _deliver(self, callback: Callable[[Any], None], result: Any, error: str | None) -> None:
        if self._closed:
            return
        callback(error if error is not None else result)
