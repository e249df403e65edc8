"""Tests for the espeak-ng corpus: generation, distinct speakers, phonemes, caching and cancel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.core.jobs import CancelToken, Finished, Progress, Started, run_job
from engine.core.paths import data_dir
from engine.data.speech_corpora import WORD_BOUNDARY, utterance_tensor
from engine.data.synthetic_speech import (
    PEAK_LIMIT,
    DEFAULT_SENTENCES,
    DEFAULT_VOICES,
    MANIFEST_FILE,
    SyntheticSpeechConfig,
    SyntheticSpeechError,
    SyntheticSpeechJob,
    ensure_synthetic_corpus,
    find_espeak,
    is_generated,
    load_synthetic_corpus,
    synthetic_corpus_dir,
)

# Every default voice speaks one sentence: 8 utterances keep generation to a few seconds.
SMALL_CONFIG = SyntheticSpeechConfig(sentences=DEFAULT_SENTENCES[:1])


@pytest.fixture(scope="module")
def generated():
    events = []
    corpus = ensure_synthetic_corpus(SMALL_CONFIG, sink=events.append)
    return corpus, events


def test_generated_in_user_data_folder(generated) -> None:
    corpus, events = generated
    assert corpus.root == synthetic_corpus_dir() == data_dir() / "corpora" / "synthetic_v1"
    assert (corpus.root / MANIFEST_FILE).is_file()
    assert isinstance(events[0], Started) and events[0].total_steps == 8
    assert [e.step for e in events if isinstance(e, Progress)] == list(range(1, 9))
    assert isinstance(events[-1], Finished) and not events[-1].cancelled


def test_speakers_utterances_and_phonemes(generated) -> None:
    corpus, _ = generated
    assert corpus.speaker_names == sorted(voice.name for voice in DEFAULT_VOICES)
    assert len(corpus) == 8
    assert corpus.skipped == []
    for utterance in corpus.utterances():
        assert utterance.sample_rate_hz == 16000
        assert utterance.text == DEFAULT_SENTENCES[0]
        assert utterance.phonemes is not None and len(utterance.phonemes) > 20
        assert utterance.phonemes.count(WORD_BOUNDARY) == len(DEFAULT_SENTENCES[0].split()) - 1
        assert 1.0 < utterance.duration_s < 8.0, f"{utterance.path}: {utterance.duration_s:.2f} s"
        peak = float(utterance_tensor(utterance).abs().max())
        assert 0.1 < peak <= PEAK_LIMIT + 1e-4, f"{utterance.path}: peak {peak:.4f}"

    manifest = json.loads((corpus.root / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["phoneme_timing"] is None
    assert manifest["generator"].startswith("eSpeak NG")
    assert len(manifest["utterances"]) == 8


def test_low_and_high_voices_differ_in_f0(generated) -> None:
    corpus, _ = generated
    statistics = corpus.statistics(files_per_speaker=1)
    medians = {entry.speaker: entry.f0_median_hz for entry in statistics.speakers}
    low = [medians[voice.name] for voice in DEFAULT_VOICES if voice.pitch <= 40]
    high = [medians[voice.name] for voice in DEFAULT_VOICES if voice.pitch >= 60]
    assert len(low) >= 3
    assert len(high) >= 3
    assert max(low) * 1.5 < min(high), f"median F0 per speaker (Hz): {medians}"


def test_second_call_reuses_corpus(generated) -> None:
    corpus, _ = generated
    before = (corpus.root / MANIFEST_FILE).stat().st_mtime_ns
    events = []
    again = ensure_synthetic_corpus(SMALL_CONFIG, sink=events.append)
    assert events == []
    assert (corpus.root / MANIFEST_FILE).stat().st_mtime_ns == before
    assert len(again) == len(corpus)
    assert not is_generated(SyntheticSpeechConfig(sentences=DEFAULT_SENTENCES[:2]))


def test_cancel_between_utterances(tmp_path: Path) -> None:
    cancel = CancelToken()
    events = []

    def sink(event) -> None:
        events.append(event)
        if isinstance(event, Progress) and event.step == 2:
            cancel.cancel()

    last = run_job(SyntheticSpeechJob(SMALL_CONFIG, tmp_path), sink, cancel)

    assert isinstance(last, Finished) and last.cancelled
    assert sum(isinstance(e, Progress) for e in events) == 2
    assert len(list(tmp_path.rglob("*.wav"))) == 2
    assert not (tmp_path / MANIFEST_FILE).exists()
    with pytest.raises(SyntheticSpeechError, match="manifest.json is missing"):
        load_synthetic_corpus(tmp_path)
    with pytest.raises(SyntheticSpeechError, match="cancelled"):
        ensure_synthetic_corpus(SMALL_CONFIG, tmp_path, cancel=cancel)


def test_missing_espeak_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SyntheticSpeechError) as raised:
        find_espeak()
    assert "was not found on the PATH" in str(raised.value)
    assert "apt install espeak-ng" in str(raised.value)
    with pytest.raises(SyntheticSpeechError, match="espeak-ng"):
        ensure_synthetic_corpus(SMALL_CONFIG, tmp_path / "corpus")
