"""The GAN Playground tab: training through the worker, single steps, reset, custom points, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from desktop_app.tabs.playground import PlaygroundTab


@pytest.fixture()
def playground(qtbot, make_window):
    """Return (window, tab) with the tab's first model built."""
    window = make_window()
    tab: PlaygroundTab = window.tabs.widget(0)
    qtbot.waitUntil(lambda: not tab.busy and tab.last_snapshot is not None, timeout=30_000)
    return window, tab


def click_plot(qtbot, tab: PlaygroundTab, x: float, y: float) -> None:
    """Click the playground plot at data coordinates (x, y) with the left mouse button."""
    view = tab.view
    QApplication.processEvents()  # apply any pending range change before mapping coordinates
    scene_point = view.getPlotItem().getViewBox().mapViewToScene(QPointF(x, y))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(scene_point))


def test_training_streams_snapshots_to_view(qtbot, playground, job_recorder) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)
    items_before = list(tab.view.getPlotItem().items)
    updates_before = tab.view.update_count
    tab.steps_spin.setValue(60)

    kind, summary, cancelled = jobs.wait(tab.run_training())

    assert (kind, summary["step"], cancelled) == ("finished", 60, False)
    assert tab.view.update_count > updates_before
    assert tab.last_snapshot["step"] == 60
    assert list(tab.view.getPlotItem().items) == items_before, "updates must reuse the plot items"
    image = tab.view.image.image
    assert image.dtype == np.float32
    assert image.flags["C_CONTIGUOUS"]
    assert tuple(tab.view.image.levels) == (0.0, 1.0)
    assert len(tab.view.fake_points.data) == len(tab.last_snapshot["fake"])
    tab.loss_plot.flush()
    steps, _ = tab.loss_plot.series("loss/d")
    assert list(steps) == [10, 20, 30, 40, 50, 60]
    assert "loss/g" in tab.loss_plot.keys()
    assert "Final evaluation" in tab.quality_label.text()
    assert "Modes covered" in tab.quality_label.text()
    assert not tab.busy
    assert tab.run_button.isEnabled()


def test_cancel_stops_training_within_one_step(qtbot, playground, job_recorder) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)
    tab.steps_spin.setValue(1_000_000)
    job_id = tab.run_training()
    qtbot.waitUntil(lambda: tab.last_snapshot["step"] >= 5, timeout=30_000)
    assert tab.pause_button.isEnabled()
    assert not tab.run_button.isEnabled()

    window.job_bar.cancel_button.click()
    steps_at_cancel = tab.session.trainer.step  # an int read right after the cancel; the test only peeks
    kind, summary, cancelled = jobs.wait(job_id)

    assert (kind, cancelled) == ("finished", True)
    assert summary["step"] - steps_at_cancel <= 1, f"ran {summary['step'] - steps_at_cancel} steps after cancel"
    assert tab.run_button.isEnabled()


def test_single_step_alternates_d_and_g(qtbot, playground) -> None:
    window, tab = playground

    qtbot.mouseClick(tab.step_button, Qt.MouseButton.LeftButton)
    assert tab.busy
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)
    assert tab.phase_label.text().startswith("D updated, G fixed")
    assert (tab.last_snapshot["d_updates"], tab.last_snapshot["step"]) == (1, 0)

    qtbot.mouseClick(tab.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)
    assert tab.phase_label.text().startswith("G updated, D fixed")
    assert (tab.last_snapshot["d_updates"], tab.last_snapshot["step"]) == (1, 1)
    tab.loss_plot.flush()
    assert list(tab.loss_plot.series("loss/d")[0]) == [0]
    assert list(tab.loss_plot.series("loss/g")[0]) == [1]


def test_reset_applies_model_settings(qtbot, playground, job_recorder) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)
    tab.loss_combo.setCurrentIndex(tab.loss_combo.findData("wgan-gp"))
    assert "press Reset" in tab.hint_label.text()
    assert tab.last_snapshot["loss"] == "nonsaturating", "model settings must wait for Reset"

    qtbot.mouseClick(tab.reset_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)

    assert tab.last_snapshot["loss"] == "wgan-gp"
    assert tab.last_snapshot["d_grid_label"] == "critic score D(x)"
    assert tab.view.colorbar.getAxis("left").labelText == "critic score D(x)"
    assert "press Reset" not in tab.hint_label.text()
    assert list(jobs.outcomes.values())[-1][0] == "finished"


def test_custom_points_placed_by_clicking(qtbot, playground, job_recorder) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)
    tab.dist_combo.setCurrentIndex(tab.dist_combo.findData("custom"))
    tab.reset()
    assert "Cannot reset" in tab.hint_label.text()
    assert not tab.busy, "a reset without points must not submit a job"

    targets = [(-1.0, 1.0), (1.0, 1.0), (0.0, -1.2)]
    for x, y in targets:
        click_plot(qtbot, tab, x, y)
    assert len(tab.custom_points) == 3
    for (x, y), (placed_x, placed_y) in zip(targets, tab.custom_points):
        assert abs(placed_x - x) < 0.1, f"clicked {(x, y)}, placed {(placed_x, placed_y)}"
        assert abs(placed_y - y) < 0.1, f"clicked {(x, y)}, placed {(placed_x, placed_y)}"

    tab.reset()
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)
    assert tab.last_snapshot["dist"] == "custom"
    tab.steps_spin.setValue(20)
    kind, summary, _ = jobs.wait(tab.run_training())
    assert kind == "finished"
    assert summary["quality/modes_total"] == 3


def test_checkpoint_save_and_load_round_trip(qtbot, playground, job_recorder, tmp_path: Path) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)
    tab.steps_spin.setValue(30)
    jobs.wait(tab.run_training())
    fake_at_save = np.array(tab.last_snapshot["fake"])

    kind, summary, _ = jobs.wait(tab.save_checkpoint(tmp_path / "playground"))
    assert kind == "finished"
    assert (tmp_path / "playground.safetensors").is_file()
    assert (tmp_path / "playground.json").is_file()

    tab.loss_combo.setCurrentIndex(tab.loss_combo.findData("hinge"))
    tab.reset()
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)
    assert tab.last_snapshot["step"] == 0

    kind, summary, _ = jobs.wait(tab.load_checkpoint(tmp_path / "playground.safetensors"))
    assert kind == "finished"
    assert tab.loss_combo.currentData() == "nonsaturating", "controls must follow the loaded config"
    assert tab.last_snapshot["step"] == 30
    np.testing.assert_allclose(tab.last_snapshot["fake"], fake_at_save, atol=1e-6)


def test_failed_load_reports_and_tab_recovers(qtbot, playground, job_recorder, tmp_path: Path) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)

    kind, message, _ = jobs.wait(tab.load_checkpoint(tmp_path / "missing.safetensors"))
    assert kind == "failed"
    assert "missing" in message
    assert "Load failed" in tab.hint_label.text()
    qtbot.waitUntil(lambda: window.reporter.dialog is not None and window.reporter.dialog.isVisible())

    tab.steps_spin.setValue(5)
    kind, summary, _ = jobs.wait(tab.run_training())
    assert (kind, summary["step"]) == ("finished", 5)


def test_reset_during_training_drops_old_signals(qtbot, playground) -> None:
    window, tab = playground
    tab.steps_spin.setValue(1_000_000)
    tab.run_training()
    qtbot.waitUntil(lambda: tab.last_snapshot["step"] >= 5, timeout=30_000)

    tab.reset()
    # The tab is idle once the reset's Finished signal arrived, which comes after its preview.
    qtbot.waitUntil(lambda: not tab.busy and not window.context.worker.is_busy(), timeout=30_000)

    assert tab.last_snapshot["step"] == 0, "the cancelled run's last preview must not replace the new model's"
    assert tab.quality_label.text() == "Quality: not measured yet"
    assert tab.loss_plot.keys() == []
    assert tab.run_button.isEnabled()


def test_pause_button_holds_training(qtbot, playground, job_recorder) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)
    tab.steps_spin.setValue(1_000_000)
    job_id = tab.run_training()
    qtbot.waitUntil(lambda: tab.last_snapshot["step"] >= 3, timeout=30_000)

    qtbot.mouseClick(tab.pause_button, Qt.MouseButton.LeftButton)
    steps_when_paused = tab.session.trainer.step
    qtbot.waitUntil(lambda: tab.pause_button.text() == "Resume", timeout=5000)
    assert window.job_bar.pause_button.text() == "Resume"
    qtbot.wait(800)
    steps_while_paused = tab.session.trainer.step - steps_when_paused
    assert steps_while_paused <= 1, f"a paused run took {steps_while_paused} steps; only the one in flight may end"

    qtbot.mouseClick(tab.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.session.trainer.step > steps_when_paused, timeout=30_000)
    assert tab.pause_button.text() == "Pause"
    window.context.worker.cancel(job_id)
    assert jobs.wait(job_id)[2] is True


def test_load_replaces_quality_phase_and_error(qtbot, playground, job_recorder, tmp_path: Path) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)
    tab.steps_spin.setValue(20)
    jobs.wait(tab.run_training())
    assert jobs.wait(tab.save_checkpoint(tmp_path / "ring"))[0] == "finished"

    tab.dist_combo.setCurrentIndex(tab.dist_combo.findData("grid"))
    tab.reset()
    tab.steps_spin.setValue(5)
    jobs.wait(tab.run_training())
    qtbot.waitUntil(lambda: "/ 25" in tab.quality_label.text(), timeout=10_000)
    assert jobs.wait(tab.load_checkpoint(tmp_path / "missing.safetensors"))[0] == "failed"
    qtbot.waitUntil(lambda: "missing" in window.statusBar().currentMessage(), timeout=5000)

    assert jobs.wait(tab.load_checkpoint(tmp_path / "ring.safetensors"))[0] == "finished"

    quality = tab.quality_label.text()
    assert "/ 8" in quality, f"quality must describe the loaded ring model: {quality!r}"
    assert "Final evaluation on 2048 generated points." in quality
    assert tab.phase_label.text().startswith("Loaded a model trained for 20 steps"), tab.phase_label.text()
    assert "Trained in total: 20 G updates" in tab.step_label.text()
    assert window.statusBar().currentMessage() == "", "a successful load must clear the earlier error"


def test_phase_text_counts_d_updates(qtbot, playground, job_recorder) -> None:
    window, tab = playground
    jobs = job_recorder(window.context.worker)
    tab.steps_spin.setValue(3)
    jobs.wait(tab.run_training())
    qtbot.waitUntil(lambda: "per G update" in tab.phase_label.text(), timeout=5000)
    assert "(1 D update per G update)" in tab.phase_label.text()

    tab.d_steps_spin.setValue(2)
    jobs.wait(tab.run_training())
    qtbot.waitUntil(lambda: "(2 D updates per G update)" in tab.phase_label.text(), timeout=5000)
    assert "Trained in total: 6 G updates, 9 D updates" in tab.step_label.text()
