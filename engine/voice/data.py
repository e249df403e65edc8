"""Training data for voice conversion: per-speaker log-mels and F0 statistics, and random crops of them."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import torch

from engine.audio.features import trim_silence
from engine.audio.io import load_audio
from engine.core.jobs import CancelToken, JobError
from engine.data.speech_corpora import SpeechCorpus, Utterance, load_fsdd, load_speaker_folders, load_vcc2016
from engine.voice.features import SAMPLE_RATE_HZ, Analysis, F0Statistics, analyse, pooled_f0_statistics

logger = logging.getLogger(__name__)

DATA_SOURCES = ("vcc2016", "fsdd", "synthetic", "folders")
# Leading and trailing silence quieter than this (relative to the loudest frame) is cut before training.
TRIM_THRESHOLD_DB = -40.0
# Held out of training for evaluation; the same seed and fraction in evaluate.py reproduce the split.
SPLIT_SEED = 0
HELD_OUT_FRACTION = 0.2

# NOTE: the cache lives as long as the process and is never trimmed. It takes about 1.3 MB per
# minute of analysed audio, which suits corpora of up to a few hours.
_cache: dict[str, Analysis] = {}
_cache_lock = threading.Lock()


class VoiceDataError(JobError):
    """Training audio cannot be used; the message names the speaker or file and the fix."""


def analyse_file(path: Path | str) -> Analysis:
    """Load, resample to 16 kHz, trim silence and analyse one file; results are cached per path.

    The cached analysis drops the linear magnitudes to save memory (``magnitude`` is empty).

    Raises:
        AudioError: when the file cannot be decoded.
    """
    key = str(Path(path).resolve())
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    audio = load_audio(path, mono=True, sample_rate_hz=SAMPLE_RATE_HZ)
    samples, _ = trim_silence(audio.samples[0], SAMPLE_RATE_HZ, TRIM_THRESHOLD_DB)
    full = analyse(samples)
    result = Analysis(torch.empty(0), full.log_mel, full.f0_hz, full.voiced)
    with _cache_lock:
        _cache[key] = result
    return result


@dataclass
class SpeakerData:
    """Log-mels of every training speaker, their F0 statistics and the normalisation of the mels."""

    speakers: list[str]
    log_mels: dict[str, list[torch.Tensor]]  # speaker -> [(mels, frames)]
    f0: dict[str, F0Statistics]
    mel_mean: torch.Tensor  # (mels,)
    mel_std: torch.Tensor  # (mels,)
    sources: dict[str, list[str]]  # speaker -> file paths

    def normalised(self, speaker: str) -> list[torch.Tensor]:
        return [(mel - self.mel_mean[:, None]) / self.mel_std[:, None] for mel in self.log_mels[speaker]]


def load_speaker_data(files: Mapping[str, Sequence[Path | str]], cancel: CancelToken | None = None,
                      mel_mean: torch.Tensor | None = None, mel_std: torch.Tensor | None = None) -> SpeakerData:
    """Analyse every file of every speaker and compute F0 statistics and (unless given) mel normalisation.

    Raises:
        VoiceDataError: when a speaker has no files or too little voiced speech.
    """
    log_mels: dict[str, list[torch.Tensor]] = {}
    f0: dict[str, F0Statistics] = {}
    for speaker, paths in files.items():
        if not paths:
            raise VoiceDataError(f"Speaker {speaker!r} has no audio files. Give at least one recording per speaker.")
        analyses = []
        for path in paths:
            if cancel is not None and cancel.cancelled:
                raise VoiceDataError("Loading the training audio was cancelled.")
            analyses.append(analyse_file(path))
        try:
            f0[speaker] = pooled_f0_statistics(analyses)
        except ValueError as error:
            raise VoiceDataError(f"Speaker {speaker!r} ({Path(paths[0]).parent}): {error}") from error
        log_mels[speaker] = [item.log_mel for item in analyses]
        logger.info("Speaker %s: %d files, %d frames, median F0 %.0f Hz", speaker, len(paths),
                    sum(mel.shape[-1] for mel in log_mels[speaker]), f0[speaker].median_hz)

    if mel_mean is None or mel_std is None:
        # Each speaker weighs the same in the normalisation, however much audio it has.
        means = torch.stack([torch.cat(mels, dim=-1).mean(dim=-1) for mels in log_mels.values()])
        squares = torch.stack([torch.cat(mels, dim=-1).pow(2).mean(dim=-1) for mels in log_mels.values()])
        mel_mean = means.mean(dim=0)
        mel_std = (squares.mean(dim=0) - mel_mean.pow(2)).clamp_min(1e-4).sqrt()
    return SpeakerData(list(files), log_mels, f0, mel_mean, mel_std,
                       {speaker: [str(path) for path in paths] for speaker, paths in files.items()})


class CropSampler:
    """Random fixed-length crops from each speaker's utterances joined end to end."""

    def __init__(self, streams: Sequence[torch.Tensor], crop_frames: int, generator: torch.Generator) -> None:
        self.streams = []
        for stream in streams:
            if stream.shape[-1] < crop_frames:
                repeats = crop_frames // stream.shape[-1] + 1
                stream = stream.repeat(1, repeats)
            self.streams.append(stream)
        self.crop_frames = crop_frames
        self.generator = generator

    def sample(self, speaker_index: int, count: int) -> torch.Tensor:
        """Return (count, mels, crop_frames) crops of one speaker's stream."""
        stream = self.streams[speaker_index]
        high = stream.shape[-1] - self.crop_frames + 1
        starts = torch.randint(0, high, (count,), generator=self.generator).tolist()
        return torch.stack([stream[:, start:start + self.crop_frames] for start in starts])

    def batch(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (count, mels, crop_frames) crops of random speakers and their (count,) indices."""
        speakers = torch.randint(0, len(self.streams), (count,), generator=self.generator)
        crops = torch.cat([self.sample(int(index), 1) for index in speakers])
        return crops, speakers


def corpus_for(data: str, folder: Path | None = None) -> SpeechCorpus:
    """Load one of DATA_SOURCES: VCC 2016 and FSDD from the shared data sets, the synthetic corpus, or folders.

    Raises:
        CorpusError: when the corpus cannot be found; ValueError for an unknown name.
    """
    if data == "vcc2016":
        return load_vcc2016(folder)
    if data == "fsdd":
        return load_fsdd(folder)
    if data == "synthetic":
        from engine.data.synthetic_speech import ensure_synthetic_corpus

        return ensure_synthetic_corpus()
    if data == "folders":
        if folder is None:
            raise ValueError("The 'folders' data source needs a folder with one subfolder of recordings per speaker.")
        return load_speaker_folders(folder)
    raise ValueError(f"Unknown voice data source {data!r}; expected one of {', '.join(DATA_SOURCES)}.")


def training_files(corpus: SpeechCorpus, speakers: Sequence[str] | None = None, max_per_speaker: int | None = None,
                   prefix: str = "") -> dict[str, list[Path]]:
    """Return the held-in files per speaker of ``corpus`` (the SPLIT_SEED split), optionally capped evenly.

    Raises:
        VoiceDataError: for a speaker the corpus does not contain.
    """
    parallel = corpus.name.startswith("VCC")
    split = corpus.split(SPLIT_SEED, HELD_OUT_FRACTION, same_across_speakers=parallel)
    chosen = list(speakers) if speakers else corpus.speaker_names
    missing = [name for name in chosen if name not in split.train.speakers]
    if missing:
        raise VoiceDataError(f"Speakers {', '.join(missing)} are not in {corpus.name} ({corpus.root}); it contains "
                             f"{', '.join(corpus.speaker_names)}.")
    files = {}
    for name in chosen:
        items = spread(split.train.speakers[name], max_per_speaker)
        files[prefix + name] = [item.path for item in items]
    return files


def spread(items: Sequence[Utterance], count: int | None) -> list[Utterance]:
    """Return ``count`` items evenly spaced over ``items`` (all when ``count`` is None or larger).

    Corpus listings are sorted by path, and FSDD paths start with the digit, so the first items
    would all be zeros and ones.
    """
    if count is None or count >= len(items):
        return list(items)
    positions = torch.linspace(0, len(items) - 1, count).round().long().tolist()
    return [items[position] for position in positions]


def held_out_utterances(corpus: SpeechCorpus, speaker: str) -> list[Utterance]:
    """Return the held-out utterances of ``speaker`` under the split that ``training_files`` uses."""
    parallel = corpus.name.startswith("VCC")
    split = corpus.split(SPLIT_SEED, HELD_OUT_FRACTION, same_across_speakers=parallel)
    return split.held_out.speakers.get(speaker, [])
