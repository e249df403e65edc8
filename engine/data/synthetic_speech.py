"""The built-in speech corpus: project-written sentences spoken by distinct espeak-ng voices.

The corpus is generated on first use by ``SyntheticSpeechJob`` into
``data_dir()/corpora/synthetic_v1``. It contains one folder per speaker of 16 kHz mono WAV files,
a ``transcripts.tsv`` with text and IPA phonemes, and a ``manifest.json``. The manifest is written
last, so a folder without one is an unfinished run. espeak-ng is called as a program (the Debian package
``espeak-ng``). It reports no phoneme timing for its own voices: ``--pho`` prints durations only
for MBROLA voices, so utterances carry the phoneme sequence without times.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from engine.audio.features import SPEECH_MEL
from engine.audio.io import AudioError, load_audio, save_audio
from engine.core.checkpoints import atomic_write_bytes
from engine.core.jobs import CancelToken, EventSink, Finished, JobError, ProgressClock, Sample, Started, run_job
from engine.core.paths import data_dir
from engine.data.speech_corpora import TRANSCRIPTS_FILE, WORD_BOUNDARY, SpeechCorpus, load_speaker_folders

logger = logging.getLogger(__name__)

CORPUS_VERSION = "synthetic_v1"
MANIFEST_FILE = "manifest.json"
ESPEAK_PROGRAM = "espeak-ng"
# One utterance takes espeak-ng well under a second; a call that runs this long has hung.
ESPEAK_TIMEOUT_S = 30.0
# espeak-ng writes near full scale and resampling overshoots it by up to about 0.5 %, so louder
# utterances are scaled down to this peak instead of being clipped when saved as 16-bit PCM.
PEAK_LIMIT = 0.97


class SyntheticSpeechError(JobError):
    """The synthetic corpus cannot be generated or read; the message names what to install or do."""


@dataclass(frozen=True)
class SyntheticVoice:
    """An espeak-ng speaker: a voice with its variant (``en-us+m1``), pitch 0-99 and rate in words per minute."""

    name: str  # the speaker folder name
    voice: str
    pitch: int
    rate_wpm: int
    description: str


# Variants change the formants and voice quality; pitch (-p, default 50) moves F0 and rate (-s,
# default 175) the speaking speed. Each speaker differs from the others on at least two of the three.
# British English is "en" here, because espeak-ng 1.51 ignores a variant appended to the alias "en-gb".
DEFAULT_VOICES = (
    SyntheticVoice("deep_us", "en-us+m2", 10, 140, "deep male voice, US English, slow"),
    SyntheticVoice("low_gb", "en+m1", 25, 160, "low male voice, British English"),
    SyntheticVoice("mid_scot", "en-gb-scotland+m3", 40, 185, "male voice, Scottish English, quick"),
    SyntheticVoice("mid_us", "en-us+m7", 50, 170, "male voice with a rough quality, US English"),
    SyntheticVoice("alto_rp", "en-gb-x-rp+f2", 60, 165, "lower female voice, British RP"),
    SyntheticVoice("soprano_us", "en-us+f1", 75, 175, "female voice, US English"),
    SyntheticVoice("high_gb", "en+f4", 88, 190, "high female voice, British English, quick"),
    SyntheticVoice("child_us", "en-us+f5", 99, 200, "very high, child-like voice, US English, fast"),
)

# Sentences written for this project, each about 2-5 s long at the default rates.
DEFAULT_SENTENCES = (
    "The little boat drifted past the quiet harbour at dawn.",
    "Please bring three bags of fresh oranges from the market.",
    "A cold wind blew across the open fields all night.",
    "She measured the thin copper wire twice before cutting it.",
    "Our neighbour plays the violin every Sunday morning.",
    "The train to the northern coast leaves at half past nine.",
    "Thick fog covered the valley, so the pilots waited.",
    "He wrote the numbers on a yellow card and smiled.",
    "Birds gather near the pond when the weather turns warm.",
    "Could you check whether the kettle is still hot?",
    "The museum opens a new exhibit about ancient ships.",
    "Jasmine found a shiny coin under the wooden bench.",
    "Heavy rain should stop before the evening concert.",
    "Every child in the village learned to swim early.",
    "The judge asked the witness to speak more slowly.",
    "Fresh bread smells wonderful on a frosty winter day.",
    "Turn left at the bridge and follow the river path.",
    "My brother fixed the broken chair with glue and patience.",
    "Voices echoed through the long stone corridor.",
    "The garden needs water, sunlight and a little care.",
)


@dataclass(frozen=True)
class SyntheticSpeechConfig:
    voices: tuple[SyntheticVoice, ...] = DEFAULT_VOICES
    sentences: tuple[str, ...] = DEFAULT_SENTENCES
    sample_rate_hz: int = SPEECH_MEL.sample_rate_hz  # the rate every speech model here reads

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def synthetic_corpus_dir() -> Path:
    """Return the folder of the built-in corpus, ``data_dir()/corpora/synthetic_v1``."""
    return data_dir() / "corpora" / CORPUS_VERSION


def find_espeak() -> str:
    """Return the path of the espeak-ng program.

    Raises:
        SyntheticSpeechError: when espeak-ng is not on the PATH, saying how to install it.
    """
    program = shutil.which(ESPEAK_PROGRAM)
    if program is None:
        raise SyntheticSpeechError(
            "The built-in speech corpus needs the espeak-ng speech synthesizer, which was not found on the "
            "PATH. Install the espeak-ng package (Debian/Ubuntu: sudo apt install espeak-ng; elsewhere "
            "through the system's package manager), or pick a speech corpus folder of your own.")
    return program


def espeak_version(program: str) -> str:
    """Return espeak-ng's version line, such as ``eSpeak NG text-to-speech: 1.51 ...``."""
    completed = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=ESPEAK_TIMEOUT_S,
                               check=False)
    return completed.stdout.strip()


def synthesize(program: str, voice: SyntheticVoice, text: str, wav_path: Path) -> tuple[str, ...]:
    """Speak ``text`` with ``voice`` into ``wav_path`` (espeak-ng's rate, 22,050 Hz) and return its phonemes.

    Returns:
        IPA phonemes as espeak-ng writes them (stress marks attached to the vowel that follows),
        with WORD_BOUNDARY between words and clauses.

    Raises:
        SyntheticSpeechError: when espeak-ng fails, times out or writes no audio.
    """
    command = [program, "-v", voice.voice, "-p", str(voice.pitch), "-s", str(voice.rate_wpm),
               "-w", str(wav_path), "--ipa", "--sep=_", "--", text]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=ESPEAK_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as error:
        raise SyntheticSpeechError(f"espeak-ng timed out after {ESPEAK_TIMEOUT_S:.0f} s on voice {voice.voice!r}. "
                                   "Check that espeak-ng runs: espeak-ng --version.") from error
    if completed.returncode != 0 or not wav_path.is_file() or wav_path.stat().st_size == 0:
        raise SyntheticSpeechError(
            f"espeak-ng failed with exit status {completed.returncode} for voice {voice.voice!r} "
            f"({completed.stderr.strip() or 'no message'}). Check the voice with: espeak-ng --voices=en, "
            "or reinstall espeak-ng.")

    phonemes: list[str] = []
    for word in completed.stdout.split():
        if phonemes:
            phonemes.append(WORD_BOUNDARY)
        phonemes.extend(symbol for symbol in word.split("_") if symbol)
    return tuple(phonemes)


class SyntheticSpeechJob:
    """Generate the synthetic corpus into a folder, one utterance per step; cancel works between utterances."""

    name = "synthetic speech corpus"

    def __init__(self, config: SyntheticSpeechConfig = SyntheticSpeechConfig(), output_dir: Path | None = None
                 ) -> None:
        self.config = config
        self.output_dir = Path(output_dir) if output_dir is not None else synthetic_corpus_dir()

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        program = find_espeak()
        version = espeak_version(program)
        total = len(self.config.voices) * len(self.config.sentences)
        sink(Started(self.name, total, {"output_dir": str(self.output_dir), **self.config.to_dict()}))
        clock = ProgressClock(total)
        (self.output_dir / MANIFEST_FILE).unlink(missing_ok=True)  # the folder is unfinished until the end

        entries: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="espeak-") as temp_dir:
            for voice in self.config.voices:
                for index, text in enumerate(self.config.sentences):
                    cancel.wait_if_paused()
                    if cancel.cancelled:
                        logger.info("Synthetic corpus cancelled after %d of %d utterances", len(entries), total)
                        sink(Finished({"utterances": len(entries)}, cancelled=True))
                        return
                    entries.append(self._make_utterance(program, voice, index, text, Path(temp_dir)))
                    sink(clock.tick(len(entries)))
                    if index == 0:
                        sink(Sample(len(entries), "audio_file", {"path": entries[-1]["file"], "speaker": voice.name}))

        self._write_tables(entries, version)
        duration_s = sum(entry["duration_s"] for entry in entries)
        logger.info("Generated the synthetic corpus in %s: %d utterances, %.1f s", self.output_dir, total, duration_s)
        sink(Finished({"utterances": len(entries), "speakers": len(self.config.voices), "duration_s": duration_s,
                       "output_dir": str(self.output_dir)}))

    def _make_utterance(self, program: str, voice: SyntheticVoice, index: int, text: str, temp_dir: Path
                        ) -> dict[str, Any]:
        raw_path = temp_dir / "utterance.wav"
        phonemes = synthesize(program, voice, text, raw_path)
        try:
            audio = load_audio(raw_path, mono=True, sample_rate_hz=self.config.sample_rate_hz)
        except AudioError as error:
            raise SyntheticSpeechError(f"espeak-ng wrote audio that cannot be read for voice {voice.voice!r}: "
                                       f"{error}") from error
        peak = float(audio.samples.abs().max())
        if peak > PEAK_LIMIT:
            audio.samples.mul_(PEAK_LIMIT / peak)
        relative = Path(voice.name) / f"{voice.name}_{index:03d}.wav"
        save_audio(self.output_dir / relative, audio)
        return {"file": relative.as_posix(), "speaker": voice.name, "voice": voice.voice, "text": text,
                "phonemes": " ".join(phonemes), "duration_s": audio.duration_s}

    def _write_tables(self, entries: list[dict[str, Any]], version: str) -> None:
        rows = ["file\ttext\tphonemes"] + [f"{e['file']}\t{e['text']}\t{e['phonemes']}" for e in entries]
        atomic_write_bytes(self.output_dir / TRANSCRIPTS_FILE, ("\n".join(rows) + "\n").encode("utf-8"))
        manifest = {
            "version": CORPUS_VERSION,
            "generator": version,
            "config": self.config.to_dict(),
            "phoneme_format": f"IPA from espeak-ng --ipa, tokens separated by spaces, {WORD_BOUNDARY!r} between words",
            "phoneme_timing": None,
            "phoneme_timing_note": "espeak-ng reports phoneme durations (--pho) only for MBROLA voices",
            "utterances": entries,
        }
        atomic_write_bytes(self.output_dir / MANIFEST_FILE, json.dumps(manifest, indent=1).encode("utf-8"))


def read_manifest(output_dir: Path) -> Mapping[str, Any] | None:
    """Return the manifest of a finished corpus in ``output_dir``, or None when there is none."""
    path = Path(output_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        logger.warning("Ignoring the unreadable manifest %s (%s); the corpus is generated again", path, error)
        return None


def is_generated(config: SyntheticSpeechConfig = SyntheticSpeechConfig(), output_dir: Path | None = None) -> bool:
    """Return True when ``output_dir`` contains a finished corpus made with ``config``."""
    manifest = read_manifest(Path(output_dir) if output_dir is not None else synthetic_corpus_dir())
    return manifest is not None and manifest.get("config") == json.loads(json.dumps(config.to_dict()))


def load_synthetic_corpus(output_dir: Path | None = None) -> SpeechCorpus:
    """List a generated synthetic corpus as a SpeechCorpus with text and phonemes.

    Raises:
        SyntheticSpeechError: when the folder contains no finished corpus.
    """
    output_dir = Path(output_dir) if output_dir is not None else synthetic_corpus_dir()
    if read_manifest(output_dir) is None:
        raise SyntheticSpeechError(f"No finished synthetic corpus in {output_dir} (its {MANIFEST_FILE} is missing). "
                                   "Generate it with SyntheticSpeechJob or ensure_synthetic_corpus().")
    return load_speaker_folders(output_dir, name="Synthetic speech (espeak-ng)")


def ensure_synthetic_corpus(
    config: SyntheticSpeechConfig = SyntheticSpeechConfig(),
    output_dir: Path | None = None,
    sink: EventSink | None = None,
    cancel: CancelToken | None = None,
) -> SpeechCorpus:
    """Return the synthetic corpus, generating it first when it is missing or was made with another config.

    Raises:
        SyntheticSpeechError: when espeak-ng is missing or fails, or the generation was cancelled.
    """
    output_dir = Path(output_dir) if output_dir is not None else synthetic_corpus_dir()
    if not is_generated(config, output_dir):
        result = run_job(SyntheticSpeechJob(config, output_dir), sink or (lambda event: None), cancel)
        if isinstance(result, Finished) and result.cancelled:
            raise SyntheticSpeechError(f"Generating the synthetic corpus in {output_dir} was cancelled. "
                                       "Start it again to finish it.")
        if not isinstance(result, Finished):
            raise SyntheticSpeechError(result.message)
    return load_synthetic_corpus(output_dir)
