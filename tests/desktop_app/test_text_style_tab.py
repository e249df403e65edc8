"""The Text style tab: rewriting through the worker, training with live samples, and a bad checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.data.review_sentences import ReviewCorpusConfig, review_corpus
from engine.text_style.config import TextStyleConfig
from engine.text_style.train import train_model

from desktop_app.tabs.text_style import DECODING_COLUMN, DIRECTION_COLUMN, SCORE_COLUMN, TextStyleTab


@pytest.fixture()
def tiny_checkpoint(tmp_path: Path) -> Path:
    config = TextStyleConfig(method="direct", data="reviews", steps=2, embed_dim=16, hidden_dim=16, critic_filters=8,
                             batch_size=8, min_count=1, device="cpu")
    corpus = review_corpus(ReviewCorpusConfig(sentences_per_style=100, test_per_style=10))
    job = train_model(config, corpus=corpus, output_dir=tmp_path / "run")
    return job.last_checkpoint


def test_rewrite_fills_table(qtbot, make_window, job_recorder, tiny_checkpoint: Path) -> None:
    window = make_window(tab_classes=(TextStyleTab,))
    tab: TextStyleTab = window.tabs.widget(0)
    jobs = job_recorder(window.context.worker)
    tab.model_path = tiny_checkpoint
    tab.input_edit.setPlainText("the soup was cold .\n\nthe staff was rude .")
    tab.candidates_spin.setValue(1)

    outcome = jobs.wait(tab.start_transfer())

    assert outcome[0] == "finished", outcome
    qtbot.waitUntil(lambda: tab.samples_table.rowCount() == 2, timeout=5000)
    assert tab.samples_table.item(0, 0).text() == "the soup was cold ."
    assert tab.samples_table.item(0, DECODING_COLUMN).text() == "greedy"
    assert tab.samples_table.item(0, DIRECTION_COLUMN).text() == "negative → positive"
    assert "negative → positive" in tab.status_label.text()


def test_rewrite_shows_scored_candidates(qtbot, make_window, job_recorder) -> None:
    window = make_window(tab_classes=(TextStyleTab,))
    tab: TextStyleTab = window.tabs.widget(0)
    jobs = job_recorder(window.context.worker)
    assert tab.model_path is not None, "the bundled model should be picked at start"
    tab.input_edit.setPlainText("the food was cold and the waiter was rude .\nthe service was slow .")
    tab.candidates_spin.setValue(3)
    tab.temperature_spin.setValue(1.0)

    outcome = jobs.wait(tab.start_transfer())

    assert outcome[0] == "finished", outcome
    table = tab.samples_table
    qtbot.waitUntil(lambda: table.rowCount() == 6, timeout=5000)
    for first in (0, 3):
        assert table.rowSpan(first, 0) == 3
        scores = [table.item(row, SCORE_COLUMN).data(Qt.ItemDataRole.UserRole) for row in range(first, first + 3)]
        assert all(0.0 <= score <= 1.0 for score in scores), scores
        assert scores == sorted(scores, reverse=True)
        decodings = [table.item(row, DECODING_COLUMN).text() for row in range(first, first + 3)]
        assert sorted(decodings) == ["greedy", "sampled", "sampled"]
        assert len({table.item(row, 1).text() for row in range(first, first + 3)}) == 3
    assert table.item(3, 0).text() == "the service was slow ."
    assert table.isColumnHidden(DIRECTION_COLUMN)


def test_training_shows_samples(qtbot, make_window, job_recorder) -> None:
    window = make_window(tab_classes=(TextStyleTab,))
    tab: TextStyleTab = window.tabs.widget(0)
    jobs = job_recorder(window.context.worker)
    tab.data_combo.setCurrentIndex(tab.data_combo.findData("reviews"))
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("direct"))
    tab.steps_spin.setValue(3)

    outcome = jobs.wait(tab.start_training(), timeout_ms=120_000)

    assert outcome[0] == "finished", outcome
    qtbot.waitUntil(lambda: tab.samples_table.rowCount() == 6, timeout=5000)
    assert tab.model_path is not None and tab.model_path.is_file()
    assert tab.train_button.isEnabled()


def test_bad_checkpoint_reports_error(qtbot, make_window, job_recorder, tmp_path: Path) -> None:
    window = make_window(tab_classes=(TextStyleTab,))
    tab: TextStyleTab = window.tabs.widget(0)
    jobs = job_recorder(window.context.worker)
    tab.model_path = tmp_path / "missing.safetensors"

    outcome = jobs.wait(tab.start_transfer())

    assert outcome[0] == "failed"
    assert "missing" in outcome[1]
    qtbot.waitUntil(lambda: "missing" in tab.status_label.text(), timeout=5000)
