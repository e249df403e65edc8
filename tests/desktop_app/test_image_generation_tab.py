"""The Image generation tab: generate from tags through the worker, tag errors, training with a live grid."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from engine.core.jobs import CancelToken, EventSink, Finished, Started
from engine.data.image_tags import PROCEDURAL_VOCABULARY
from engine.image.generate import ImageGenerator
from engine.image.models import GanConfig, build_networks

from desktop_app.tabs.image_generation import ImageGenerationTab


@pytest.fixture()
def image_tab(qtbot, make_window, tmp_path):
    """Return (window, tab) with a small untrained conditional model selected for generation."""
    torch.manual_seed(0)
    config = GanConfig(resolution=32, z_dim=16, g_channels=8, d_channels=8, embed_dim=8,
                       class_counts=PROCEDURAL_VOCABULARY.class_counts)
    model = ImageGenerator(build_networks(config)[0].eval(), config, PROCEDURAL_VOCABULARY, "image.cgan")
    path = model.save(tmp_path / "tiny")
    window = make_window(tab_classes=(ImageGenerationTab,))
    tab: ImageGenerationTab = window.tabs.widget(0)
    tab.set_model_path(path)
    return window, tab


def test_generate_shows_grid_and_saves_png(qtbot, image_tab, job_recorder, tmp_path):
    window, tab = image_tab
    jobs = job_recorder(window.context.worker)
    tab.tags_edit.setText("red hair, green eyes")
    tab.count_spin.setValue(6)

    kind, summary, _ = jobs.wait(tab.generate())

    assert (kind, summary["images"]) == ("finished", 6)
    qtbot.waitUntil(lambda: tab.last_grid is not None, timeout=5000)
    assert tab.last_grid.dtype == np.uint8
    assert tab.last_grid.shape == (2 + 34, 2 + 6 * 34, 3)
    assert not tab.grid_label.pixmap().isNull()
    assert tab.generate_button.isEnabled()
    assert tab.save_button.isEnabled()
    saved = tab.save_grid(tmp_path / "grid.png")
    with Image.open(saved) as picture:
        assert picture.size == (tab.last_grid.shape[1] * 4, tab.last_grid.shape[0] * 4)


def test_interpolation_strip(qtbot, image_tab, job_recorder):
    window, tab = image_tab
    jobs = job_recorder(window.context.worker)
    tab.tags_edit.setText("red hair")
    tab.tags_b_edit.setText("blue hair")
    tab.interpolate_check.setChecked(True)
    tab.count_spin.setValue(5)
    assert jobs.wait(tab.generate())[0] == "finished"
    qtbot.waitUntil(lambda: tab.last_grid is not None, timeout=5000)
    assert tab.last_grid.shape == (2 + 34, 2 + 5 * 34, 3)


def test_unknown_tag_shows_message(qtbot, image_tab, job_recorder):
    window, tab = image_tab
    jobs = job_recorder(window.context.worker)
    tab.tags_edit.setText("silver hair")
    kind, message, _ = jobs.wait(tab.generate())
    assert kind == "failed"
    assert "Unknown tag 'silver hair'" in message
    assert "Unknown tag" in tab.tags_error_label.text()
    assert tab.generate_button.isEnabled()


def test_unknown_tag_shown_once_and_grid_cleared(qtbot, image_tab, job_recorder):
    window, tab = image_tab
    jobs = job_recorder(window.context.worker)
    tab.tags_edit.setText("red hair")
    assert jobs.wait(tab.generate())[0] == "finished"
    qtbot.waitUntil(lambda: tab.last_grid is not None, timeout=5000)

    tab.tags_edit.setText("purple moustache")
    kind, message, _ = jobs.wait(tab.generate())
    qtbot.waitUntil(lambda: tab.tags_error_label.isVisible(), timeout=5000)
    qtbot.wait(100)  # a dialog request would be a queued call; let it arrive if one was made

    assert kind == "failed"
    assert "'purple moustache'" in tab.tags_error_label.text()
    assert "purple moustache" not in tab.status_label.text(), "the message must appear once, under the Tags box"
    assert window.reporter.reported == [], f"bad input must not open the error dialog: {window.reporter.reported}"
    assert window.statusBar().currentMessage() == ""
    assert tab.last_grid is None, "the grid of the earlier request must not stay on screen"
    assert not tab.save_button.isEnabled()

    tab.tags_edit.textEdited.emit("red hair")
    assert not tab.tags_error_label.isVisible()


def test_training_streams_grid_and_losses(qtbot, image_tab, job_recorder, tmp_path, monkeypatch):
    window, tab = image_tab
    jobs = job_recorder(window.context.worker)
    tab.steps_spin.setValue(4)
    tab.batch_spin.setValue(4)
    tab.channels_spin.setValue(8)
    small = dataclasses.replace(tab.training_config(), procedural_faces=32, sample_every=2, log_every=1,
                                output_dir=str(tmp_path / "run"))
    monkeypatch.setattr(tab, "training_config", lambda: small)

    kind, summary, cancelled = jobs.wait(tab.start_training(), timeout_ms=120_000)

    assert (kind, summary["steps"], cancelled) == ("finished", 4, False)
    assert tab.last_grid is not None
    assert tab.last_grid.shape[2] == 3
    tab.loss_plot.flush()
    steps, _ = tab.loss_plot.series("loss/d")
    assert list(steps) == [1, 2, 3, 4]
    assert tab.model_path.name == "step_000004.safetensors"
    assert tab.train_button.isEnabled()
    assert not tab.cancel_button.isEnabled()


class BlockingJob:
    """Runs until ``release`` is set, standing in for a long training."""

    name = "image.train"

    def __init__(self) -> None:
        self.release = threading.Event()

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, None))
        while not self.release.wait(0.01) and not cancel.cancelled:
            pass
        sink(Finished({}))


def test_generate_behind_running_job_says_waiting(qtbot, image_tab, job_recorder):
    window, tab = image_tab
    jobs = job_recorder(window.context.worker)
    blocker = BlockingJob()
    blocker_id = window.context.worker.submit(blocker)
    try:
        qtbot.waitUntil(lambda: window.context.worker.current_job_id() == blocker_id, timeout=5000)
        generate_id = tab.generate()
        assert tab.status_label.text() == "Generate waits for Image GAN training to finish."
    finally:
        blocker.release.set()

    assert jobs.wait(generate_id)[0] == "finished"
    assert "Generated" in tab.status_label.text()
