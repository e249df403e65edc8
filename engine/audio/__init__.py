"""Floor 1 of the engine: audio files in and out, spectral features, pitch and live spectrograms."""

from __future__ import annotations

from engine.audio.features import (
    SPEECH_MEL,
    MelConfig,
    amplitude_to_db,
    linear_spectrogram,
    log_mel_spectrogram,
    loudness_dbfs,
    mel_filterbank,
    mel_frequencies_hz,
    mel_spectrogram,
    normalize_loudness,
    trim_silence,
)
from engine.audio.io import (
    DEFAULT_MAX_DURATION_S,
    MAX_DURATION_ENV,
    Audio,
    AudioError,
    StreamingWavWriter,
    load_audio,
    max_audio_duration_s,
    require_not_silent,
    resample,
    save_audio,
)
from engine.audio.pitch import track_f0
from engine.audio.streaming import StreamingSpectrogram, offline_spectrogram_db

__all__ = [
    "DEFAULT_MAX_DURATION_S",
    "MAX_DURATION_ENV",
    "SPEECH_MEL",
    "Audio",
    "AudioError",
    "MelConfig",
    "StreamingSpectrogram",
    "StreamingWavWriter",
    "amplitude_to_db",
    "linear_spectrogram",
    "load_audio",
    "log_mel_spectrogram",
    "loudness_dbfs",
    "max_audio_duration_s",
    "mel_filterbank",
    "mel_frequencies_hz",
    "mel_spectrogram",
    "normalize_loudness",
    "offline_spectrogram_db",
    "require_not_silent",
    "resample",
    "save_audio",
    "track_f0",
]
