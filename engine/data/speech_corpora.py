"""Speech corpora: speakers and their utterances from folders, FSDD and VCC 2016, with splits and statistics.

Listing a corpus reads only file headers (``soundfile``) and a few short probe windows, never whole
files. Files that cannot be used (empty, truncated, not audio, silent) are skipped with one log line
each and listed in ``SpeechCorpus.skipped``. A folder that yields no usable speaker, or fewer
speakers than requested, raises ``CorpusError`` naming the folder and the fix.
"""

from __future__ import annotations

import csv
import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import soundfile
import torch

from engine.audio.io import READABLE_EXTENSIONS, AudioError, wav_data_chunk_frames, load_audio
from engine.audio.pitch import track_f0
from engine.core.jobs import JobError
from engine.core.paths import shared_datasets_dir

logger = logging.getLogger(__name__)

TRANSCRIPTS_FILE = "transcripts.tsv"
FSDD_FOLDER = "fsdd"
VCC2016_FOLDER = "vcc2016_4spk"
VCC2016_SPEAKERS = ("SF1", "SM1", "TF2", "TM3")
FSDD_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Files that belong beside recordings (transcripts, notes, manifests) and are not counted as skipped.
SIDE_FILE_SUFFIXES = (".txt", ".tsv", ".csv", ".json", ".md", ".lab")

# A file counts as silent when every probe window peaks below this level. -60 dBFS matches
# engine.audio.io.require_not_silent. All VCC 2016 and FSDD recordings pass this probe.
SILENCE_THRESHOLD_DBFS = -60.0
# Evenly spaced windows read to detect silence without decoding the whole file: 32 windows of 20 ms
# read at most 0.64 s of audio per file, and hit any stretch of speech longer than the spacing.
# NOTE: a long file whose only speech is shorter than the spacing counts as silent.
PROBE_WINDOWS = 32
PROBE_WINDOW_S = 0.02

# F0 statistics use frames every 10 ms and search 50-500 Hz, which covers adult and child speech.
F0_HOP_S = 0.01
F0_MIN_HZ = 50.0
F0_MAX_HZ = 500.0


class CorpusError(JobError):
    """A speech corpus cannot be used; the message names the folder or file and the fix."""


@dataclass(frozen=True)
class Utterance:
    """One recording of one speaker; ``phonemes`` are IPA tokens with ``WORD_BOUNDARY`` between words."""

    path: Path
    speaker: str
    text: str | None
    phonemes: tuple[str, ...] | None
    duration_s: float
    sample_rate_hz: int
    label: str | None = None  # a class label when the corpus has one (the digit in FSDD)


WORD_BOUNDARY = "|"


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass
class SpeechCorpus:
    """Speakers mapped to their utterances (sorted by path), plus the files skipped while listing."""

    name: str
    root: Path
    speakers: dict[str, list[Utterance]]
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def speaker_names(self) -> list[str]:
        return sorted(self.speakers)

    def utterances(self) -> Iterator[Utterance]:
        """Yield every utterance, speaker by speaker in name order."""
        for speaker in self.speaker_names:
            yield from self.speakers[speaker]

    def __len__(self) -> int:
        return sum(len(items) for items in self.speakers.values())

    @property
    def total_duration_s(self) -> float:
        return sum(utterance.duration_s for utterance in self.utterances())

    def require_speakers(self, count: int) -> SpeechCorpus:
        """Return this corpus, or raise CorpusError when it has fewer than ``count`` speakers."""
        if len(self.speakers) < count:
            found = ", ".join(self.speaker_names) or "none"
            raise CorpusError(
                f"The speech corpus {self.root} needs at least {count} speakers, but it contains "
                f"{len(self.speakers)} ({found}). Add a folder with recordings for each further speaker "
                "inside it, one folder per speaker.")
        return self

    def split(self, seed: int, held_out_fraction: float, *, same_across_speakers: bool = False) -> CorpusSplit:
        """Split each speaker's utterances into train and held-out parts with a fixed seed.

        Each speaker holds out ``round(count * held_out_fraction)`` utterances, at least one when the
        fraction is above 0 and the speaker has two or more, and always keeps one for training. The
        result depends only on the seed, the speaker names and the file paths, not on listing order.

        Args:
            seed: the random seed.
            held_out_fraction: the share of each speaker's utterances held out, in [0, 1).
            same_across_speakers: for parallel corpora (VCC 2016), hold out the same file names for
                every speaker, so held-out sentences are unseen for all of them.

        Raises:
            ValueError: when the fraction is outside [0, 1).
        """
        if not 0.0 <= held_out_fraction < 1.0:
            raise ValueError(f"split: held_out_fraction must be in [0, 1), got {held_out_fraction!r}.")

        shared_order: dict[str, int] = {}
        if same_across_speakers:
            stems = sorted({utterance.path.stem for utterance in self.utterances()})
            random.Random(f"{seed}:all").shuffle(stems)
            shared_order = {stem: rank for rank, stem in enumerate(stems)}

        train: dict[str, list[Utterance]] = {}
        held_out: dict[str, list[Utterance]] = {}
        for speaker in self.speaker_names:
            items = sorted(self.speakers[speaker], key=lambda utterance: str(utterance.path))
            if same_across_speakers:
                items.sort(key=lambda utterance: shared_order[utterance.path.stem])
            else:
                random.Random(f"{seed}:{speaker}").shuffle(items)
            count = _held_out_count(len(items), held_out_fraction)
            held_out[speaker] = sorted(items[:count], key=lambda utterance: str(utterance.path))
            train[speaker] = sorted(items[count:], key=lambda utterance: str(utterance.path))

        return CorpusSplit(
            SpeechCorpus(f"{self.name} (train)", self.root, train),
            SpeechCorpus(f"{self.name} (held out)", self.root, {k: v for k, v in held_out.items() if v}),
        )

    def statistics(self, files_per_speaker: int = 8, seed: int = 0) -> CorpusStatistics:
        """Return per-speaker counts, durations and F0 ranges; see ``corpus_statistics``."""
        return corpus_statistics(self, files_per_speaker=files_per_speaker, seed=seed)


@dataclass(frozen=True)
class CorpusSplit:
    train: SpeechCorpus
    held_out: SpeechCorpus


def _held_out_count(count: int, fraction: float) -> int:
    if fraction == 0.0 or count < 2:
        return 0
    return min(count - 1, max(1, round(count * fraction)))


# -------------------------------------------------------------------------------------- statistics

@dataclass(frozen=True)
class SpeakerStatistics:
    """One speaker's numbers; F0 values are None when no analysed frame was voiced."""

    speaker: str
    utterance_count: int
    total_duration_s: float
    mean_duration_s: float
    f0_files_analysed: int
    f0_median_hz: float | None
    f0_low_hz: float | None  # 5th percentile of voiced frames
    f0_high_hz: float | None  # 95th percentile of voiced frames
    voiced_fraction: float | None


@dataclass(frozen=True)
class CorpusStatistics:
    corpus: str
    root: Path
    speakers: tuple[SpeakerStatistics, ...]
    utterance_count: int
    total_duration_s: float
    skipped_count: int

    def speaker(self, name: str) -> SpeakerStatistics:
        """Return the statistics of speaker ``name``.

        Raises:
            KeyError: naming the speakers present when ``name`` is not one of them.
        """
        for entry in self.speakers:
            if entry.speaker == name:
                return entry
        raise KeyError(f"No speaker {name!r} in {self.corpus}; speakers: {[s.speaker for s in self.speakers]}.")


def corpus_statistics(corpus: SpeechCorpus, files_per_speaker: int = 8, seed: int = 0) -> CorpusStatistics:
    """Count each speaker's utterances and duration, and track F0 on a seeded sample of their files.

    F0 comes from ``track_f0`` (YIN) on up to ``files_per_speaker`` files per speaker, pooled over
    voiced frames; the range is the 5th to 95th percentile. Each speaker is logged on one line.
    A file that fails to decode is left out of the F0 sample with one log line.
    """
    entries = []
    for speaker in corpus.speaker_names:
        items = corpus.speakers[speaker]
        sample = sorted(items, key=lambda utterance: str(utterance.path))
        random.Random(f"{seed}:{speaker}:f0").shuffle(sample)
        f0_hz, voiced_frames, total_frames, analysed = _pooled_f0(sample[:files_per_speaker])

        total_s = sum(utterance.duration_s for utterance in items)
        has_f0 = f0_hz.size > 0
        entry = SpeakerStatistics(
            speaker=speaker,
            utterance_count=len(items),
            total_duration_s=total_s,
            mean_duration_s=total_s / len(items) if items else 0.0,
            f0_files_analysed=analysed,
            f0_median_hz=float(np.median(f0_hz)) if has_f0 else None,
            f0_low_hz=float(np.percentile(f0_hz, 5)) if has_f0 else None,
            f0_high_hz=float(np.percentile(f0_hz, 95)) if has_f0 else None,
            voiced_fraction=voiced_frames / total_frames if total_frames else None,
        )
        logger.info("%s / %s: %d utterances, %.1f s, F0 %s (%d files analysed)", corpus.name, speaker,
                    entry.utterance_count, entry.total_duration_s, _format_f0(entry), analysed)
        entries.append(entry)

    return CorpusStatistics(corpus.name, corpus.root, tuple(entries), len(corpus), corpus.total_duration_s,
                            len(corpus.skipped))


def _pooled_f0(utterances: Sequence[Utterance]) -> tuple[np.ndarray, int, int, int]:
    """Return (voiced F0 values in Hz, voiced frame count, frame count, files analysed)."""
    values, voiced_frames, total_frames, analysed = [], 0, 0, 0
    for utterance in utterances:
        try:
            audio = load_audio(utterance.path, mono=True)
        except AudioError as error:
            logger.warning("F0 statistics leave out %s: %s", utterance.path, error)
            continue
        f0_max_hz = min(F0_MAX_HZ, audio.sample_rate_hz / 4)
        hop = max(1, round(F0_HOP_S * audio.sample_rate_hz))
        f0_hz, voiced = track_f0(audio.samples[0], audio.sample_rate_hz, hop, F0_MIN_HZ, f0_max_hz)
        values.append(f0_hz[voiced].numpy())
        voiced_frames += int(voiced.sum())
        total_frames += voiced.numel()
        analysed += 1
    pooled = np.concatenate(values) if values else np.zeros(0, dtype=np.float32)
    return pooled, voiced_frames, total_frames, analysed


def _format_f0(entry: SpeakerStatistics) -> str:
    if entry.f0_median_hz is None:
        return "not measured"
    return f"median {entry.f0_median_hz:.0f} Hz, range {entry.f0_low_hz:.0f}-{entry.f0_high_hz:.0f} Hz"


# ------------------------------------------------------------------------------------------ listing

@dataclass(frozen=True)
class AudioFileInfo:
    """Header facts of a usable audio file."""

    duration_s: float
    sample_rate_hz: int


def probe_audio_file(path: Path) -> AudioFileInfo:
    """Read the header of ``path`` and a few short windows to check that it is usable speech audio.

    Raises:
        AudioError: when the file is empty, unreadable, truncated, of zero length, or silent in
            every probe window. The message names the file and the problem.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes).")
    try:
        with soundfile.SoundFile(path) as sound_file:
            frames, rate_hz, file_format = sound_file.frames, sound_file.samplerate, sound_file.format
            if frames <= 0:
                raise AudioError(f"{path} contains no samples.")
            if file_format in ("WAV", "WAVEX"):
                # libsndfile shortens a cut-off WAV without an error, so its data chunk is checked here.
                declared, present = wav_data_chunk_frames(path)
                if declared is not None and present < declared:
                    raise AudioError(f"{path} is truncated: its header declares {declared / rate_hz:.2f} s but "
                                     f"only {present / rate_hz:.2f} s are present.")
            peak = _probe_peak(sound_file, frames, rate_hz)
    except soundfile.LibsndfileError as error:
        raise AudioError(f"{path} cannot be decoded as audio ({error}).") from error

    if peak <= 10.0 ** (SILENCE_THRESHOLD_DBFS / 20.0):
        level = "all probed samples are zero" if peak == 0 else f"peak {20 * math.log10(peak):.1f} dBFS"
        raise AudioError(f"{path} is silent ({level}, below {SILENCE_THRESHOLD_DBFS:.0f} dBFS).")
    return AudioFileInfo(frames / rate_hz, rate_hz)


def _probe_peak(sound_file: soundfile.SoundFile, frames: int, rate_hz: int) -> float:
    """Return the peak magnitude over PROBE_WINDOWS evenly spaced windows (the whole file if short)."""
    window = max(1, round(PROBE_WINDOW_S * rate_hz))
    if frames <= window * PROBE_WINDOWS:
        return float(np.abs(sound_file.read(dtype="float32")).max(initial=0.0))
    peak = 0.0
    for start in np.linspace(0, frames - window, PROBE_WINDOWS).astype(np.int64):
        sound_file.seek(int(start))
        block = sound_file.read(window, dtype="float32")
        peak = max(peak, float(np.abs(block).max(initial=0.0)))
    return peak


def _list_speaker_files(folder: Path, skipped: list[SkippedFile]) -> list[tuple[Path, AudioFileInfo]]:
    """Return the usable audio files under ``folder`` (recursively) with their header information."""
    usable = []
    for path in sorted(folder.rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in SIDE_FILE_SUFFIXES:
            continue
        if suffix not in READABLE_EXTENSIONS:
            _skip(skipped, path, f"not an audio file (expected {', '.join(READABLE_EXTENSIONS)})")
            continue
        try:
            usable.append((path, probe_audio_file(path)))
        except AudioError as error:
            _skip(skipped, path, str(error))
    return usable


def _skip(skipped: list[SkippedFile], path: Path, reason: str) -> None:
    logger.warning("Skipping %s: %s", path, reason)
    skipped.append(SkippedFile(path, reason))


# --------------------------------------------------------------------------------------- transcripts

def read_transcripts(tsv_path: Path) -> dict[Path, tuple[str, tuple[str, ...] | None]]:
    """Read a ``file<TAB>text[<TAB>phonemes]`` table; file paths are relative to the table's folder.

    A first row ``file<TAB>text...`` is a header. Phonemes are tokens separated by spaces.

    Raises:
        CorpusError: when the file is not UTF-8 or a row has fewer than two columns.
    """
    table: dict[Path, tuple[str, tuple[str, ...] | None]] = {}
    try:
        lines = tsv_path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise CorpusError(f"The transcript table {tsv_path} is not UTF-8 text ({error}). Save it as UTF-8.") from error
    for number, row in enumerate(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
        if not row or (number == 1 and [cell.lower() for cell in row[:2]] == ["file", "text"]):
            continue
        if len(row) < 2:
            raise CorpusError(f"{tsv_path}, line {number}: expected 'file<TAB>text', got {row!r}. "
                              "Separate the file name and its text with a tab.")
        phonemes = tuple(row[2].split()) if len(row) > 2 and row[2].strip() else None
        table[(tsv_path.parent / row[0]).resolve()] = (row[1].strip(), phonemes)
    return table


def _transcript_for(path: Path, table: Mapping[Path, tuple[str, tuple[str, ...] | None]]
                    ) -> tuple[str | None, tuple[str, ...] | None]:
    entry = table.get(path.resolve())
    if entry is not None:
        return entry
    beside = path.with_suffix(".txt")
    if beside.is_file():
        return beside.read_text(encoding="utf-8", errors="replace").strip(), None
    return None, None


# ------------------------------------------------------------------------------------------- loaders

def load_speaker_folders(
    root: Path | str,
    *,
    name: str | None = None,
    speakers: Iterable[str] | None = None,
    transcripts: Path | str | None = None,
    min_speakers: int = 1,
) -> SpeechCorpus:
    """List a corpus laid out as one folder per speaker, each holding that speaker's audio files.

    Transcripts are optional: a ``.txt`` file beside an audio file, or rows in a ``transcripts.tsv``
    in the root or a speaker folder (``file<TAB>text[<TAB>phonemes]``, paths relative to the table).

    Args:
        root: the corpus folder.
        name: the corpus name shown to the user; the folder name by default.
        speakers: the speaker folders to use; all non-hidden subfolders by default.
        transcripts: an extra transcript table that takes precedence over the automatic ones.
        min_speakers: raise CorpusError when fewer speakers have usable audio.

    Raises:
        CorpusError: when the root is missing or has no speaker folders, a requested speaker folder is
            missing, a speaker folder contains no usable audio, or fewer than ``min_speakers`` remain.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"Speech corpus folder {root} not found. Pick a folder that contains one subfolder "
                          "of audio files per speaker.")
    folders = _speaker_folders(root, speakers)

    table: dict[Path, tuple[str, tuple[str, ...] | None]] = {}
    for tsv_path in [root / TRANSCRIPTS_FILE, *(folder / TRANSCRIPTS_FILE for folder in folders)]:
        if tsv_path.is_file():
            table.update(read_transcripts(tsv_path))
    if transcripts is not None:
        table.update(read_transcripts(Path(transcripts)))

    skipped: list[SkippedFile] = []
    corpus_speakers: dict[str, list[Utterance]] = {}
    for folder in folders:
        files = _list_speaker_files(folder, skipped)
        if not files:
            bad = sum(1 for item in skipped if folder in item.path.parents)
            detail = f"all {bad} files in it were skipped (see the log)" if bad else "it contains no audio files"
            raise CorpusError(f"The speaker folder {folder} has no usable recordings: {detail}. Add WAV, FLAC, "
                              "OGG or MP3 files of this speaker, or remove the folder from the corpus.")
        corpus_speakers[folder.name] = [
            Utterance(path, folder.name, *_transcript_for(path, table), info.duration_s, info.sample_rate_hz)
            for path, info in files
        ]

    corpus = SpeechCorpus(name or root.name, root, corpus_speakers, skipped)
    _log_listing(corpus)
    return corpus.require_speakers(min_speakers)


def _speaker_folders(root: Path, speakers: Iterable[str] | None) -> list[Path]:
    if speakers is None:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise CorpusError(f"The speech corpus folder {root} contains no speaker folders. Put each speaker's "
                              f"recordings in a subfolder named after the speaker (e.g. {root / 'alice'}).")
        return folders
    folders = [root / speaker for speaker in speakers]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        raise CorpusError(f"Speaker folders not found: {', '.join(missing)}. Check the speaker names or the "
                          "corpus folder.")
    return folders


def _log_listing(corpus: SpeechCorpus) -> None:
    logger.info("Listed speech corpus %s at %s: %d speakers, %d utterances, %.1f s, %d files skipped",
                corpus.name, corpus.root, len(corpus.speakers), len(corpus), corpus.total_duration_s,
                len(corpus.skipped))


def load_vcc2016(root: Path | str | None = None, *, speakers: Sequence[str] = VCC2016_SPEAKERS,
                 min_speakers: int = 1) -> SpeechCorpus:
    """List the Voice Conversion Challenge 2016 training data (one folder per speaker, no transcripts).

    The corpus is parallel: a file name is the same sentence for every speaker, which
    ``SpeechCorpus.split(..., same_across_speakers=True)`` uses.

    Raises:
        CorpusError: as ``load_speaker_folders``.
    """
    root = Path(root) if root is not None else shared_datasets_dir() / VCC2016_FOLDER
    return load_speaker_folders(root, name="VCC 2016", speakers=speakers, min_speakers=min_speakers)


def load_fsdd(root: Path | str | None = None, *, min_speakers: int = 1) -> SpeechCorpus:
    """List the Free Spoken Digit Dataset: ``{digit}_{speaker}_{index}.wav`` files under ``recordings/``.

    The text of each utterance is the digit's word ("seven") and its label the digit ("7"). Labels
    come from ``labels.tsv`` when present, otherwise from the file names.

    Raises:
        CorpusError: when the folder contains no FSDD recordings, or fewer than ``min_speakers`` speakers.
    """
    root = Path(root) if root is not None else shared_datasets_dir() / FSDD_FOLDER
    recordings = root / "recordings" if (root / "recordings").is_dir() else root
    if not recordings.is_dir():
        raise CorpusError(f"FSDD folder {root} not found. Pick the folder that contains recordings/ "
                          "(files named digit_speaker_index.wav).")
    skipped: list[SkippedFile] = []
    listed = _fsdd_labels(root / "labels.tsv") if (root / "labels.tsv").is_file() else None

    speakers: dict[str, list[Utterance]] = {}
    for path in sorted(recordings.glob("*")):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() in SIDE_FILE_SUFFIXES:
            continue
        parsed = listed.pop(path.resolve(), None) if listed is not None else _parse_fsdd_name(path)
        if parsed is None:
            _skip(skipped, path, "not listed in labels.tsv" if listed is not None
                  else "name does not match digit_speaker_index.wav")
            continue
        digit, speaker = parsed
        try:
            info = probe_audio_file(path)
        except AudioError as error:
            _skip(skipped, path, str(error))
            continue
        speakers.setdefault(speaker, []).append(
            Utterance(path, speaker, FSDD_WORDS[int(digit)], None, info.duration_s, info.sample_rate_hz, digit))
    for missing in sorted(listed or {}):
        _skip(skipped, missing, "listed in labels.tsv but not found")

    if not speakers:
        raise CorpusError(f"No FSDD recordings found in {recordings}. Expected WAV files named "
                          "digit_speaker_index.wav, such as 7_jackson_32.wav.")
    corpus = SpeechCorpus("FSDD", root, speakers, skipped)
    _log_listing(corpus)
    return corpus.require_speakers(min_speakers)


def _fsdd_labels(tsv_path: Path) -> dict[Path, tuple[str, str]]:
    with tsv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if rows and not {"path", "digit", "speaker"} <= set(rows[0]):
        raise CorpusError(f"{tsv_path} must have the columns path, digit and speaker; it has "
                          f"{', '.join(rows[0])}. Fix the header or delete the file to label by file name.")
    return {(tsv_path.parent / row["path"]).resolve(): (row["digit"], row["speaker"]) for row in rows}


def _parse_fsdd_name(path: Path) -> tuple[str, str] | None:
    parts = path.stem.split("_")
    if len(parts) != 3 or not (parts[0].isdigit() and len(parts[0]) == 1 and parts[2].isdigit()):
        return None
    return parts[0], parts[1]


def utterance_tensor(utterance: Utterance, sample_rate_hz: int | None = None) -> torch.Tensor:
    """Decode one utterance to mono float32 samples shaped (1, samples), resampled when a rate is given.

    Raises:
        AudioError: when the file cannot be decoded.
    """
    return load_audio(utterance.path, mono=True, sample_rate_hz=sample_rate_hz).samples
