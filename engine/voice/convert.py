"""Conversion: file in, file out in overlapping chunks, a conversion job, and block-wise streaming.

The pipeline for every input: resample to 16 kHz, analyse (STFT, YIN F0), convert F0 by
log-Gaussian normalisation on the spectrum (``engine.voice.features``), convert the log-mel with
the model, vocode, and resample back to the input's rate. The source F0 statistics come from the
input itself, so any voice can be converted; inputs with too few voiced frames use the average of
the model's speakers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.audio.features import SPEECH_MEL
from engine.audio.io import load_audio, resample, save_audio
from engine.core.jobs import CancelToken, EventSink, Finished, JobError, ProgressClock, Sample, Started
from engine.vocoder import default_vocoder
from engine.vocoder.base import Vocoder
from engine.vocoder.griffin_lim import GriffinLimVocoder
from engine.voice.features import (SAMPLE_RATE_HZ, F0Statistics, analyse, converted_log_mel, f0_ratio,
                                   f0_statistics, magnitude_to_log_mel, numpy_mono, shift_harmonics, to_model_rate)
from engine.voice.voice_model import VoiceModel, load_voice_model

logger = logging.getLogger(__name__)

VOCODERS = ("gan", "griffin-lim")
# Long inputs are converted and vocoded in chunks of about 8 s that overlap by 0.5 s. The overlaps
# are cross-faded linearly, so chunk boundaries are not audible as clicks.
CHUNK_FRAMES = 512
OVERLAP_FRAMES = 32
MAX_STREAM_BLOCK_S = 0.2


def make_vocoder(name: str = "gan") -> Vocoder:
    """Return the named vocoder: the bundled GAN vocoder ("gan") or Griffin-Lim.

    Raises:
        ValueError: for a name not in VOCODERS.
    """
    if name not in VOCODERS:
        raise ValueError(f"Unknown vocoder {name!r}; expected one of {', '.join(VOCODERS)}.")
    if name == "gan":
        # default_vocoder itself falls back to Griffin-Lim, with a logged warning, when the bundled model is missing.
        return default_vocoder()
    return GriffinLimVocoder()


def _chunk_starts(length: int, chunk: int, overlap: int) -> list[int]:
    if length <= chunk:
        return [0]
    starts = list(range(0, length - chunk, chunk - overlap))
    starts.append(length - chunk)
    return starts


def _cross_fade_weights(length: int, overlap: int, first: bool, last: bool) -> torch.Tensor:
    weights = torch.ones(length)
    ramp = torch.linspace(0.0, 1.0, overlap + 2)[1:-1]
    if not first and overlap:
        weights[:overlap] = ramp[:length]
    if not last and overlap:
        weights[-overlap:] = torch.minimum(weights[-overlap:], ramp.flip(0)[-min(overlap, length):])
    return weights


def convert_log_mel_chunked(model: VoiceModel, log_mel: torch.Tensor, target: str, stage: int = 2,
                            chunk_frames: int = CHUNK_FRAMES, overlap_frames: int = OVERLAP_FRAMES) -> torch.Tensor:
    """Convert a (mels, frames) log-mel of any length in overlapping, cross-faded chunks."""
    frames = log_mel.shape[-1]
    starts = _chunk_starts(frames, chunk_frames, overlap_frames)
    total = torch.zeros_like(log_mel)
    weight_sum = torch.zeros(frames)
    for number, start in enumerate(starts):
        piece = model.convert_log_mel(log_mel[:, start:start + chunk_frames], target, stage)
        weights = _cross_fade_weights(piece.shape[-1], overlap_frames, number == 0, number == len(starts) - 1)
        total[:, start:start + piece.shape[-1]] += piece * weights
        weight_sum[start:start + piece.shape[-1]] += weights
    return total / weight_sum.clamp_min(1e-6)


def vocode_chunked(vocoder: Vocoder, log_mel: torch.Tensor, chunk_frames: int = CHUNK_FRAMES,
                   overlap_frames: int = OVERLAP_FRAMES) -> torch.Tensor:
    """Vocode a (mels, frames) log-mel in overlapping chunks cross-faded in the waveform; return (samples,)."""
    hop = SPEECH_MEL.hop_length
    frames = log_mel.shape[-1]
    length = (frames - 1) * hop
    starts = _chunk_starts(frames, chunk_frames, overlap_frames)
    total = torch.zeros(length)
    weight_sum = torch.zeros(length)
    with torch.no_grad():
        for number, start in enumerate(starts):
            audio = vocoder.synthesize(log_mel[:, start:start + chunk_frames]).reshape(-1).float()
            begin = start * hop
            audio = audio[:max(0, min(audio.shape[-1], length - begin))]
            weights = _cross_fade_weights(audio.shape[-1], overlap_frames * hop, number == 0,
                                          number == len(starts) - 1)
            total[begin:begin + audio.shape[-1]] += audio * weights
            weight_sum[begin:begin + audio.shape[-1]] += weights
    return total / weight_sum.clamp_min(1e-6)


@dataclass
class Conversion:
    """Converted audio at the input's rate, with the 16 kHz features before and after conversion."""

    audio: np.ndarray  # (samples,) float32
    sample_rate_hz: int
    source_log_mel: np.ndarray  # (mels, frames)
    converted_log_mel: np.ndarray  # (mels, frames)
    source_f0_hz: np.ndarray  # (frames,), 0 where unvoiced
    converted_f0_hz: np.ndarray  # (frames,), the F0 the converted mel was given
    target: str
    output: Path | None = None


def source_statistics(model: VoiceModel, f0_hz: torch.Tensor, voiced: torch.Tensor) -> F0Statistics:
    """Return the input's own log-F0 statistics, or the model's average when it has too few voiced frames."""
    return f0_statistics(f0_hz, voiced) or model.prior_f0


def convert_samples(model: VoiceModel, samples: torch.Tensor, sample_rate_hz: int, target: str,
                    pitch_shift_semitones: float = 0.0, vocoder: Vocoder | None = None, stage: int = 2) -> Conversion:
    """Convert (samples,) or (channels, samples) audio to ``target`` and return it at ``sample_rate_hz``.

    Raises:
        ValueError: for a target speaker the model does not have.
    """
    model.speaker_index(target)
    vocoder = vocoder or GriffinLimVocoder()
    audio_16k = to_model_rate(samples, sample_rate_hz)
    analysis = analyse(audio_16k)
    source = source_statistics(model, analysis.f0_hz, analysis.voiced)
    shifted_mel, converted_f0 = converted_log_mel(analysis, source, model.f0[target], pitch_shift_semitones)
    converted = convert_log_mel_chunked(model, shifted_mel, target, stage)
    audio = vocode_chunked(vocoder, converted)
    if sample_rate_hz != SAMPLE_RATE_HZ:
        audio = resample(audio, SAMPLE_RATE_HZ, sample_rate_hz)
    # The vocoder stops at the last frame centre, up to one hop before the input's end; pad to its length.
    input_length = samples.shape[-1]
    audio = torch.nn.functional.pad(audio[:input_length], (0, max(0, input_length - audio.shape[-1])))
    return Conversion(audio.numpy().astype(np.float32), sample_rate_hz, analysis.log_mel.numpy(), converted.numpy(),
                      analysis.f0_hz.numpy(), converted_f0.numpy(), target)


class ConvertJob:
    """Converts one audio file to a target speaker and writes the result at the input's sample rate.

    Once the job has finished, ``result`` is the Conversion (output path, source and converted
    log-mels and F0 tracks). A "voice_conversion" Sample event carries the same arrays.
    """

    name = "voice conversion"

    def __init__(self, source: Path, target_speaker: str, output: Path, model_path: Path | None = None,
                 pitch_shift_semitones: float = 0.0, vocoder: str = "gan", stage: int = 2) -> None:
        self.source = Path(source)
        self.target_speaker = target_speaker
        self.output = Path(output)
        self.model_path = Path(model_path) if model_path is not None else None
        self.pitch_shift_semitones = float(pitch_shift_semitones)
        self.vocoder = vocoder
        self.stage = stage
        self.result: Conversion | None = None

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        from engine.voice.voice_model import default_voice_model_path

        sink(Started(self.name, 3, {"source": str(self.source), "target": self.target_speaker,
                                     "pitch_shift_semitones": self.pitch_shift_semitones, "vocoder": self.vocoder}))
        clock = ProgressClock(3)
        model = load_voice_model(self.model_path or default_voice_model_path())
        try:
            model.speaker_index(self.target_speaker)
        except ValueError as error:
            raise JobError(str(error)) from error
        vocoder = make_vocoder(self.vocoder)
        sink(clock.tick(1))
        audio = load_audio(self.source, mono=True)
        if cancel.cancelled:
            sink(Finished(cancelled=True))
            return
        sink(clock.tick(2))
        conversion = convert_samples(model, audio.samples[0], audio.sample_rate_hz, self.target_speaker,
                                     self.pitch_shift_semitones, vocoder, self.stage)
        save_audio(self.output, torch.from_numpy(conversion.audio)[None], conversion.sample_rate_hz)
        conversion.output = self.output
        self.result = conversion
        sink(clock.tick(3))
        sink(Sample(3, "voice_conversion", {"output": str(self.output), "target": self.target_speaker,
                                            "source_log_mel": conversion.source_log_mel,
                                            "converted_log_mel": conversion.converted_log_mel,
                                            "source_f0_hz": conversion.source_f0_hz,
                                            "converted_f0_hz": conversion.converted_f0_hz}))
        sink(Finished({"output": str(self.output), "target": self.target_speaker,
                       "duration_s": round(len(conversion.audio) / conversion.sample_rate_hz, 3)}))


def speaker_sample(model: VoiceModel, speaker: str, vocoder: Vocoder | None = None) -> tuple[np.ndarray, int]:
    """Return (audio (samples,) float32, 16000): the speaker's stored held-in log-mel, resynthesised.

    Raises:
        ValueError: for an unknown speaker, or a model file without a sample for this speaker.
    """
    model.speaker_index(speaker)
    if speaker not in model.samples:
        raise ValueError(f"{model.path} stores no sample of {speaker!r}. Retrain or fine-tune it with this version.")
    audio = vocode_chunked(vocoder or GriffinLimVocoder(), model.samples[speaker])
    return audio.numpy().astype(np.float32), SAMPLE_RATE_HZ


class StreamingConverter:
    """Converts live audio block by block with a short look-ahead, carrying state between blocks.

    Each call converts a window of recent input (``context_s`` of history, the new block and the
    look-ahead) and keeps only the new part. Output lags input by ``lookahead_s``: the first
    output samples are silence. The last ``crossfade`` samples of each block's output are computed
    ahead and cross-faded with the next block's first samples. The source F0 statistics are
    running values over all voiced frames heard so far, starting from the model's average.
    """

    def __init__(self, model: VoiceModel, target_speaker: str, vocoder: Vocoder | None = None,
                 sample_rate_hz: int = SAMPLE_RATE_HZ, block_s: float = 0.2, lookahead_s: float = 0.064,
                 context_s: float = 0.8, stage: int = 2) -> None:
        if not 0 < block_s <= MAX_STREAM_BLOCK_S:
            raise ValueError(f"block_s must be in (0, {MAX_STREAM_BLOCK_S}] s for live conversion, got {block_s}.")
        if lookahead_s <= 0 or context_s < 0:
            raise ValueError(f"lookahead_s must be positive and context_s not negative, got {lookahead_s} and "
                             f"{context_s}.")
        self.model = model
        self.vocoder = vocoder or GriffinLimVocoder(iterations=16)
        self.sample_rate_hz = int(sample_rate_hz)
        self.block_s = block_s
        self.lookahead_s = lookahead_s
        self.stage = stage
        self._lookahead = max(2, round(lookahead_s * sample_rate_hz))
        self._crossfade = self._lookahead // 2  # the other half is a margin whose samples are discarded
        self._context = round(context_s * sample_rate_hz)
        self._history = np.zeros(0, dtype=np.float32)
        self._history_start = 0  # global index of _history[0]
        self._received = 0
        self._converted_until = 0
        self._tail = np.zeros(0, dtype=np.float32)
        self._pending = np.zeros(self._lookahead, dtype=np.float32)
        self._log_f0_sum = 0.0
        self._log_f0_square_sum = 0.0
        self._voiced_frames = 0
        self.pitch_shift_semitones = 0.0
        self.block_compute_s: list[float] = []
        self.set_target(target_speaker)

    @property
    def latency_s(self) -> float:
        """Algorithmic latency: one block of buffering plus the look-ahead."""
        return self.block_s + self._lookahead / self.sample_rate_hz

    @property
    def last_block_compute_s(self) -> float | None:
        return self.block_compute_s[-1] if self.block_compute_s else None

    def set_target(self, speaker: str) -> None:
        """Switch the target speaker from the next block on; raises ValueError for an unknown speaker."""
        self.model.speaker_index(speaker)
        self.target = speaker

    def set_pitch_shift(self, semitones: float) -> None:
        self.pitch_shift_semitones = float(semitones)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Convert one mono float32 block and return as many output samples (delayed by the look-ahead)."""
        started = time.perf_counter()
        samples = numpy_mono(block).numpy()
        self._history = np.concatenate([self._history, samples])
        self._received += samples.shape[0]
        ready_until = self._received - self._lookahead
        if ready_until > self._converted_until:
            self._pending = np.concatenate([self._pending, self._convert(self._converted_until, ready_until)])
            self._converted_until = ready_until
        keep_from = max(0, self._converted_until - self._context) - self._history_start
        if keep_from > 0:
            self._history = self._history[keep_from:]
            self._history_start += keep_from

        out = self._pending[:samples.shape[0]]
        self._pending = self._pending[samples.shape[0]:]
        if out.shape[0] < samples.shape[0]:
            out = np.concatenate([out, np.zeros(samples.shape[0] - out.shape[0], dtype=np.float32)])
        self.block_compute_s.append(time.perf_counter() - started)
        return out.astype(np.float32)

    def _source_statistics(self) -> F0Statistics:
        if self._voiced_frames < 10:
            return self.model.prior_f0
        mean = self._log_f0_sum / self._voiced_frames
        variance = max(self._log_f0_square_sum / self._voiced_frames - mean * mean, 1e-6)
        return F0Statistics(mean, variance ** 0.5)

    @torch.no_grad()
    def _convert(self, begin: int, end: int) -> np.ndarray:
        """Return converted samples for global indices [begin, end), cross-faded with the previous tail."""
        window_start = max(self._history_start, begin - self._context)
        window = torch.from_numpy(self._history[window_start - self._history_start:])
        audio_16k = to_model_rate(window, self.sample_rate_hz)
        analysis = analyse(audio_16k)

        scale = SAMPLE_RATE_HZ / self.sample_rate_hz
        hop = SPEECH_MEL.hop_length
        first_new = int((begin - window_start) * scale) // hop
        last_new = int((end - window_start) * scale) // hop
        new_f0 = analysis.f0_hz[first_new:last_new][analysis.voiced[first_new:last_new]]
        log_f0 = torch.log(new_f0.double())
        self._log_f0_sum += float(log_f0.sum())
        self._log_f0_square_sum += float(log_f0.pow(2).sum())
        self._voiced_frames += int(log_f0.numel())

        target = self.target
        ratio = f0_ratio(analysis.f0_hz, analysis.voiced, self._source_statistics(), self.model.f0[target],
                         self.pitch_shift_semitones)
        log_mel = magnitude_to_log_mel(shift_harmonics(analysis.magnitude, ratio))
        converted = self.model.convert_log_mel(log_mel, target, self.stage)
        audio = self.vocoder.synthesize(converted).reshape(-1).float()
        if self.sample_rate_hz != SAMPLE_RATE_HZ:
            audio = resample(audio, SAMPLE_RATE_HZ, self.sample_rate_hz)
        audio = torch.nn.functional.pad(audio, (0, max(0, window.shape[0] - audio.shape[0])))

        segment = audio[begin - window_start:end - window_start + self._crossfade].numpy()
        result, previous_tail = segment[:end - begin].copy(), self._tail
        self._tail = segment[end - begin:].copy()
        overlap = min(len(previous_tail), len(result))
        if overlap:
            ramp = np.linspace(0.0, 1.0, overlap + 2, dtype=np.float32)[1:-1]
            result[:overlap] = result[:overlap] * ramp + previous_tail[:overlap] * (1.0 - ramp)
        return result
