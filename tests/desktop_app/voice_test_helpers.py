"""Shared pieces of the Voice tab tests: real VCC 2016 files, a speaker classifier, and waiting helpers."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

import soundfile

from engine.audio.io import load_audio
from engine.voice.data import analyse_file
from engine.voice.evaluate import SpeakerClassifier, reanalysed_log_mel

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
VCC_FOLDER = "vcc2016_4spk"
CLASSIFIER_SPEAKERS = ("SF1", "SM1", "TM3", "TF2")  # TF2 is the speaker the default model has not heard
CLASSIFIER_FILES = slice(60, 72)  # held-in utterances per speaker, by file name order; no test uses them
CLASSIFIER_SEED = 0
SOURCE_SPEAKER = "SF1"
SOURCE_FILE = "100010.wav"  # 4.9 s
TARGET_SPEAKER = "TM3"
NEW_SPEAKER = "TF2"
NEW_SPEAKER_CLIPS = 20


def vcc_files(datasets_dir: Path, speaker: str) -> list[Path]:
    return sorted((datasets_dir / VCC_FOLDER / speaker).glob("*.wav"))


def source_file(datasets_dir: Path) -> Path:
    return datasets_dir / VCC_FOLDER / SOURCE_SPEAKER / SOURCE_FILE


def new_speaker_clips(datasets_dir: Path) -> list[Path]:
    """The 20 shortest TF2 utterances outside the classifier's files (about 27 s together)."""
    held_in = set(vcc_files(datasets_dir, NEW_SPEAKER)[CLASSIFIER_FILES])
    candidates = [path for path in vcc_files(datasets_dir, NEW_SPEAKER) if path not in held_in]
    return sorted(candidates, key=lambda path: soundfile.info(path).frames)[:NEW_SPEAKER_CLIPS]


@functools.lru_cache(maxsize=1)
def speaker_classifier(datasets_dir: Path) -> SpeakerClassifier:
    """The engine's speaker classifier trained on 12 real utterances of each VCC speaker (seed 0)."""
    log_mels = {speaker: [analyse_file(path).log_mel for path in vcc_files(datasets_dir, speaker)[CLASSIFIER_FILES]]
                for speaker in CLASSIFIER_SPEAKERS}
    return SpeakerClassifier(CLASSIFIER_SPEAKERS, seed=CLASSIFIER_SEED).fit(log_mels)


def classify(datasets_dir: Path, path: Path) -> str:
    """Return the speaker the classifier hears in the audio file ``path``."""
    audio = load_audio(path, mono=True, sample_rate_hz=16000)
    return speaker_classifier(datasets_dir).predict(reanalysed_log_mel(audio.samples[0]))


def root_conftest(config) -> ModuleType:
    """Return the test-wide conftest module, which contains ``feed_virtual_mic`` and ``capture_virtual_speaker``."""
    for plugin in config.pluginmanager.get_plugins():
        plugin_file = getattr(plugin, "__file__", None)
        if plugin_file and Path(plugin_file).resolve() == ROOT_CONFTEST:
            return plugin
    raise RuntimeError(f"{ROOT_CONFTEST} is not loaded as a conftest; run pytest from the repository root.")


def record_through_virtual_mic(qtbot, recorder_widget, tools: ModuleType, clip: Path, settle_ms: int = 300) -> None:
    """Record ``clip`` fed into the virtual microphone with a RecorderWidget, from Record to Stop."""
    recorder_widget.device_picker.select_device("virtual_mic")
    assert recorder_widget.start_recording(), recorder_widget.message
    feed = tools.feed_virtual_mic(clip)
    qtbot.waitUntil(lambda: feed.poll() is not None, timeout=30_000)
    assert feed.returncode == 0, f"virtual-audio feed {clip} exited with {feed.returncode}"
    qtbot.wait(settle_ms)  # the last blocks are still on their way through PulseAudio
    with qtbot.waitSignal(recorder_widget.recording_finished, timeout=10_000):
        recorder_widget.stop_recording()
