"""The Image generation tab: generate from tags through the worker, tag errors, training with a live grid."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

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
    assert "Unknown tag" in tab.status_label.text()
    assert tab.generate_button.isEnabled()


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
