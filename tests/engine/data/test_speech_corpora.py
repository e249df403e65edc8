"""Tests for the speech corpus loaders, splits, statistics and the handling of bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.audio.io import save_audio
from engine.core.jobs import JobError
from engine.data.speech_corpora import (
    FSDD_WORDS,
    WORD_BOUNDARY,
    CorpusError,
    load_fsdd,
    load_speaker_folders,
    load_vcc2016,
)


@pytest.fixture(scope="module")
def vcc(datasets_dir: Path):
    return load_vcc2016(datasets_dir / "vcc2016_4spk")


@pytest.fixture(scope="module")
def vcc_file(datasets_dir: Path) -> Path:
    return datasets_dir / "vcc2016_4spk" / "SF1" / "100001.wav"


def test_vcc2016_counts(vcc) -> None:
    assert vcc.speaker_names == ["SF1", "SM1", "TF2", "TM3"]
    for speaker, utterances in vcc.speakers.items():
        assert len(utterances) == 162, f"{speaker}: {len(utterances)} utterances"
        assert {u.sample_rate_hz for u in utterances} == {16000}
        assert all(u.text is None and u.phonemes is None for u in utterances)
    assert vcc.skipped == []
    sf1_s = sum(u.duration_s for u in vcc.speakers["SF1"])
    assert sf1_s == pytest.approx(561.6, abs=0.1), f"SF1 lasts {sf1_s:.2f} s"


def test_fsdd_counts_and_labels(datasets_dir: Path) -> None:
    corpus = load_fsdd(datasets_dir / "fsdd")
    assert corpus.speaker_names == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    assert corpus.skipped == []
    for speaker, utterances in corpus.speakers.items():
        assert len(utterances) == 500, f"{speaker}: {len(utterances)} utterances"
        digits = [u.label for u in utterances]
        assert sorted(set(digits)) == [str(d) for d in range(10)]
        assert all(digits.count(str(d)) == 50 for d in range(10))
    for utterance in corpus.utterances():
        assert utterance.label == utterance.path.name[0]
        assert utterance.text == FSDD_WORDS[int(utterance.label)]
        assert utterance.sample_rate_hz == 8000
    assert corpus.total_duration_s == pytest.approx(1312, abs=1.0)


def test_fsdd_names_without_labels_table(tmp_path: Path, datasets_dir: Path) -> None:
    recordings = datasets_dir / "fsdd" / "recordings"
    for name in ("3_theo_7.wav", "3_george_1.wav", "9_george_2.wav"):
        shutil.copy(recordings / name, tmp_path / name)
    shutil.copy(recordings / "0_lucas_0.wav", tmp_path / "lucas_zero.wav")

    corpus = load_fsdd(tmp_path, min_speakers=2)

    assert {s: len(u) for s, u in corpus.speakers.items()} == {"george": 2, "theo": 1}
    assert [u.text for u in corpus.speakers["george"]] == ["three", "nine"]
    assert [s.path.name for s in corpus.skipped] == ["lucas_zero.wav"]


def test_split_deterministic_and_disjoint(vcc) -> None:
    first = vcc.split(seed=3, held_out_fraction=0.1)
    again = vcc.split(seed=3, held_out_fraction=0.1)
    other = vcc.split(seed=4, held_out_fraction=0.1)

    assert first.held_out.speakers == again.held_out.speakers
    assert first.train.speakers == again.train.speakers
    assert first.held_out.speakers != other.held_out.speakers
    for speaker in vcc.speaker_names:
        train = {u.path for u in first.train.speakers[speaker]}
        held_out = {u.path for u in first.held_out.speakers[speaker]}
        assert len(held_out) == 16, f"{speaker}: {len(held_out)} held out"
        assert train.isdisjoint(held_out)
        assert train | held_out == {u.path for u in vcc.speakers[speaker]}


def test_split_same_across_speakers(vcc) -> None:
    split = vcc.split(seed=0, held_out_fraction=0.25, same_across_speakers=True)
    stems = {speaker: {u.path.stem for u in items} for speaker, items in split.held_out.speakers.items()}
    assert stems["SF1"] == stems["SM1"] == stems["TF2"] == stems["TM3"]
    assert len(stems["SF1"]) == 40


def test_split_rejects_bad_fraction(vcc) -> None:
    with pytest.raises(ValueError, match="held_out_fraction"):
        vcc.split(seed=0, held_out_fraction=1.0)


def test_statistics_female_above_male(datasets_dir: Path) -> None:
    corpus = load_vcc2016(datasets_dir / "vcc2016_4spk", speakers=("SF1", "SM1"))
    statistics = corpus.statistics(files_per_speaker=3, seed=0)
    female, male = statistics.speaker("SF1"), statistics.speaker("SM1")

    assert female.utterance_count == male.utterance_count == 162
    assert female.f0_files_analysed == male.f0_files_analysed == 3
    assert female.total_duration_s == pytest.approx(561.6, abs=0.1)
    assert female.f0_low_hz > male.f0_high_hz, (
        f"SF1 F0 {female.f0_low_hz:.0f}-{female.f0_high_hz:.0f} Hz, SM1 {male.f0_low_hz:.0f}-{male.f0_high_hz:.0f} Hz")
    assert 150 < female.f0_median_hz < 300, f"SF1 median F0 {female.f0_median_hz:.0f} Hz"
    assert 70 < male.f0_median_hz < 150, f"SM1 median F0 {male.f0_median_hz:.0f} Hz"
    assert statistics.skipped_count == 0


def _two_speaker_corpus(root: Path, vcc_file: Path) -> None:
    for speaker in ("alice", "bob"):
        (root / speaker).mkdir(parents=True)
        shutil.copy(vcc_file, root / speaker / "good.wav")


def test_odd_files_skipped_with_count(tmp_path: Path, vcc_file: Path) -> None:
    _two_speaker_corpus(tmp_path, vcc_file)
    alice = tmp_path / "alice"
    (alice / "good.txt").write_text("A transcript beside the file.\n", encoding="utf-8")
    (alice / "zero_bytes.wav").write_bytes(b"")
    (alice / "truncated.wav").write_bytes(vcc_file.read_bytes()[:40000])
    (alice / "text_named.wav").write_text("this is not audio\n" * 20, encoding="utf-8")
    save_audio(alice / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    (alice / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (alice / ".DS_Store").write_bytes(b"\x00\x01")

    corpus = load_speaker_folders(tmp_path, min_speakers=2)

    reasons = {item.path.name: item.reason for item in corpus.skipped}
    assert sorted(reasons) == ["picture.png", "silent.wav", "text_named.wav", "truncated.wav", "zero_bytes.wav"]
    assert "empty" in reasons["zero_bytes.wav"]
    assert "truncated" in reasons["truncated.wav"]
    assert "cannot be decoded" in reasons["text_named.wav"]
    assert "silent" in reasons["silent.wav"]
    assert "not an audio file" in reasons["picture.png"]
    assert [u.path.name for u in corpus.speakers["alice"]] == ["good.wav"]
    assert corpus.speakers["alice"][0].text == "A transcript beside the file."
    assert corpus.statistics(files_per_speaker=1).skipped_count == 5


def test_transcript_table_with_phonemes(tmp_path: Path, vcc_file: Path) -> None:
    _two_speaker_corpus(tmp_path, vcc_file)
    (tmp_path / "transcripts.tsv").write_text(
        "file\ttext\tphonemes\nalice/good.wav\tHello there.\th ə l ˈoʊ | ð ˈɛɹ\n", encoding="utf-8")
    (tmp_path / "bob" / "transcripts.tsv").write_text("good.wav\tBob speaks.\n", encoding="utf-8")

    corpus = load_speaker_folders(tmp_path)

    alice, bob = corpus.speakers["alice"][0], corpus.speakers["bob"][0]
    assert alice.text == "Hello there."
    assert alice.phonemes == ("h", "ə", "l", "ˈoʊ", WORD_BOUNDARY, "ð", "ˈɛɹ")
    assert (bob.text, bob.phonemes) == ("Bob speaks.", None)


def test_empty_speaker_folder_error(tmp_path: Path, vcc_file: Path) -> None:
    _two_speaker_corpus(tmp_path, vcc_file)
    (tmp_path / "carol").mkdir()
    with pytest.raises(CorpusError) as raised:
        load_speaker_folders(tmp_path)
    message = str(raised.value)
    assert str(tmp_path / "carol") in message
    assert "no audio files" in message
    assert "remove the folder" in message
    assert isinstance(raised.value, JobError)


def test_speaker_folder_of_bad_files_error(tmp_path: Path, vcc_file: Path) -> None:
    _two_speaker_corpus(tmp_path, vcc_file)
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "empty.wav").write_bytes(b"")
    with pytest.raises(CorpusError, match="all 1 files in it were skipped"):
        load_speaker_folders(tmp_path)


def test_single_speaker_error(tmp_path: Path, vcc_file: Path) -> None:
    (tmp_path / "alice").mkdir()
    shutil.copy(vcc_file, tmp_path / "alice" / "good.wav")
    assert len(load_speaker_folders(tmp_path).speakers) == 1
    with pytest.raises(CorpusError) as raised:
        load_speaker_folders(tmp_path, min_speakers=2)
    message = str(raised.value)
    assert str(tmp_path) in message
    assert "at least 2 speakers" in message
    assert "(alice)" in message
    assert "one folder per speaker" in message


def test_missing_or_flat_folder_error(tmp_path: Path, vcc_file: Path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        load_speaker_folders(tmp_path / "absent")
    shutil.copy(vcc_file, tmp_path / "loose.wav")
    with pytest.raises(CorpusError, match="contains no speaker folders"):
        load_speaker_folders(tmp_path)
