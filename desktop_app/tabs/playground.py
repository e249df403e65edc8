"""The GAN Playground tab: train a small GAN on 2-D points and watch D, G and the losses move."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.core.paths import checkpoints_dir
from engine.playground.distributions import plot_extent, sample_distribution
from engine.playground.trainer import EVAL_POINTS, SAMPLE_KIND, PlaygroundConfig

from desktop_app.context import AppContext
from desktop_app.tabs.base import Tab
from desktop_app.tabs.playground_jobs import (
    LoadTrainerJob,
    NewTrainerJob,
    PlaygroundSession,
    SaveTrainerJob,
    StepJob,
    TrainJob,
)
from desktop_app.widgets.loss_plot import LossPlot
from desktop_app.widgets.playground_view import AspectFrame, PlaygroundView

logger = logging.getLogger(__name__)

DISTRIBUTION_LABELS = {
    "ring": "ring (8 Gaussians)",
    "grid": "grid (5 x 5 Gaussians)",
    "moons": "two moons",
    "spiral": "spiral",
    "custom": "custom: click to place points",
}
LOSS_LABELS = {
    "nonsaturating": "non-saturating",
    "minimax": "minimax (original)",
    "wgan-gp": "WGAN-GP",
    "hinge": "hinge",
}
MODEL_FIELDS = ("dist", "loss", "noise_dim", "batch_size", "hidden", "seed", "custom_points")
DEFAULT_STEPS = 2000
SETTINGS_PREFIX = "playground/"
PREVIEW_REAL_POINTS = 512  # real points shown while placing custom centres
RESET_TOOLTIP = "Changing this needs a new model, so it applies when you press Reset."
LIVE_TOOLTIP = "Applies from the next Run or Single step, without a new model."

PHASE_TEXT = {
    "init": "New model, not trained yet. Single step starts with a D update.",
    "d": "D updated, G fixed. The next single step updates G.",
    "g": "G updated, D fixed. The next single step updates D.",
    "train": "Trained: D and G took turns ({d_updates_per_g} per G update).",
}
LOADED_PHASE_TEXT = "Loaded a model trained for {step} steps. Single step starts with a D update."
FP32_NOTE = "The playground computes in fp32 whatever the status bar says, because its networks are tiny."


class PlaygroundTab(Tab):
    """Controls, the playground plot and live losses for one PlaygroundTrainer.

    All model work goes through ``context.worker`` as jobs from ``playground_jobs``; the tab only
    draws what their signals carry, so it never touches the trainer itself.
    """

    TITLE = "GAN Playground"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.session = PlaygroundSession()
        self._jobs: dict[int, str] = {}  # this tab's queued or running job ids -> "reset", "train", ...
        self._busy_job: int | None = None  # the reset/train/step/load job that controls the buttons
        self._next_phase = "d"
        self._train_d_steps = 1  # D steps of the last Run, for the phase label
        self._custom_points: list[tuple[float, float]] = []
        self._config = PlaygroundConfig()
        self.last_snapshot: Mapping[str, Any] | None = None

        self._build_controls()
        self._build_plots()
        layout = QHBoxLayout(self)
        layout.addWidget(self._controls_panel)
        layout.addWidget(self._plots_splitter, 1)

        self._restore_settings()
        self._connect_worker()
        self._update_buttons()
        self.reset()

    # ---------------------------------------------------------------------------- building

    def _build_controls(self) -> None:
        self.dist_combo = QComboBox()
        for name, label in DISTRIBUTION_LABELS.items():
            self.dist_combo.addItem(label, name)
        self.loss_combo = QComboBox()
        for name, label in LOSS_LABELS.items():
            self.loss_combo.addItem(label, name)
        self.noise_dim_spin = _int_spin(1, 64, 2)
        self.batch_size_spin = _int_spin(8, 8192, 256)
        self.hidden_spin = _int_spin(8, 1024, 128)
        self.seed_spin = _int_spin(0, 2**31 - 1, 0)
        model_box = QGroupBox("Model (applies on Reset)")
        model_form = QFormLayout(model_box)
        for label, widget in (("Distribution", self.dist_combo), ("Loss", self.loss_combo),
                              ("Noise dim", self.noise_dim_spin), ("Batch size", self.batch_size_spin),
                              ("Hidden units", self.hidden_spin), ("Seed", self.seed_spin)):
            widget.setToolTip(RESET_TOOLTIP)
            model_form.addRow(label, widget)
        self.clear_points_button = QPushButton("Clear placed points")
        self.clear_points_button.setToolTip("Remove every point placed for the custom distribution")
        model_form.addRow(self.clear_points_button)

        self.lr_d_spin = _lr_spin(1e-3)
        self.lr_g_spin = _lr_spin(1e-3)
        self.d_steps_spin = _int_spin(1, 20, 1)
        self.steps_spin = _int_spin(1, 1_000_000, DEFAULT_STEPS)
        self.steps_spin.setSingleStep(500)
        train_box = QGroupBox("Training (applies at the next Run)")
        train_form = QFormLayout(train_box)
        for label, widget in (("Learning rate D", self.lr_d_spin), ("Learning rate G", self.lr_g_spin),
                              ("D steps per G step", self.d_steps_spin), ("Steps per run", self.steps_spin)):
            widget.setToolTip(LIVE_TOOLTIP)
            train_form.addRow(label, widget)
        self.steps_spin.setToolTip("Generator updates that each Run adds to the steps trained so far")

        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Train for the number of steps above")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause or resume the running training")
        self.step_button = QPushButton("Single step")
        self.step_button.setToolTip("One update at a time: D first (G fixed), then G (D fixed), and so on")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Stop training and build a new model from the settings above")
        self.save_button = QPushButton("Save checkpoint…")
        self.load_button = QPushButton("Load checkpoint…")
        buttons = QGridLayout()
        for index, button in enumerate((self.run_button, self.pause_button, self.step_button, self.reset_button,
                                        self.save_button, self.load_button)):
            buttons.addWidget(button, index // 2, index % 2)

        self.phase_label = _wrapping_label("")
        self.step_label = _wrapping_label("")
        self.quality_label = _wrapping_label("Quality: not measured yet")
        self.quality_label.setToolTip("Modes covered: modes that receive at least a quarter of their fair share "
                                      "of generated points. Sliced Wasserstein: distance between the real and "
                                      "generated point sets in data units (lower is better).")
        self.hint_label = _wrapping_label("")
        self.hint_label.setStyleSheet("color: #8a5a00;")
        self.precision_label = _wrapping_label(FP32_NOTE)
        self.precision_label.setStyleSheet("color: #666666;")

        panel = QWidget()
        panel_layout = QVBoxLayout(panel)
        panel_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (model_box, train_box):
            panel_layout.addWidget(widget)
        panel_layout.addLayout(buttons)
        for widget in (self.hint_label, self.phase_label, self.step_label, self.quality_label, self.precision_label):
            panel_layout.addWidget(widget)
        panel_layout.addStretch(1)
        scroll = QScrollArea()  # keeps the window usable on short screens
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(panel.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        self._controls_panel = scroll

        self.run_button.clicked.connect(self.run_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.step_button.clicked.connect(self.single_step)
        self.reset_button.clicked.connect(self.reset)
        self.save_button.clicked.connect(self._ask_save_path)
        self.load_button.clicked.connect(self._ask_load_path)
        self.clear_points_button.clicked.connect(self.clear_custom_points)
        self.dist_combo.currentIndexChanged.connect(self._on_distribution_changed)
        for widget in (self.loss_combo, self.noise_dim_spin, self.batch_size_spin, self.hidden_spin, self.seed_spin):
            signal = widget.currentIndexChanged if isinstance(widget, QComboBox) else widget.valueChanged
            signal.connect(self._update_hint)

    def _build_plots(self) -> None:
        self.view = PlaygroundView()
        self.view.point_clicked.connect(self.add_custom_point)
        self.loss_plot = LossPlot(("loss/",), title="Losses")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(AspectFrame(self.view))
        splitter.addWidget(self.loss_plot)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self._plots_splitter = splitter

    def _connect_worker(self) -> None:
        worker = self.context.worker
        worker.job_sample.connect(self._on_sample)
        worker.job_metrics.connect(self._on_metrics)
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)
        worker.checkpoint_saved.connect(self._on_checkpoint_saved)
        worker.pause_changed.connect(self._on_pause_changed)

    @property
    def busy(self) -> bool:
        """True while a reset, training, single step or load of this tab waits or runs."""
        return self._busy_job is not None

    @property
    def custom_points(self) -> list[tuple[float, float]]:
        """The centres placed for the custom distribution, in data coordinates."""
        return list(self._custom_points)

    # ---------------------------------------------------------------------------- config

    def config_from_controls(self) -> PlaygroundConfig:
        """Return the config the controls describe.

        Raises:
            ValueError: when the values are invalid (e.g. "custom" without placed points).
        """
        return PlaygroundConfig(
            dist=self.dist_combo.currentData(),
            loss=self.loss_combo.currentData(),
            lr_d=self.lr_d_spin.value(),
            lr_g=self.lr_g_spin.value(),
            d_steps=self.d_steps_spin.value(),
            noise_dim=self.noise_dim_spin.value(),
            batch_size=self.batch_size_spin.value(),
            hidden=self.hidden_spin.value(),
            seed=self.seed_spin.value(),
            custom_points=tuple(self._custom_points) if self.dist_combo.currentData() == "custom" else (),
        )

    def set_controls(self, config: PlaygroundConfig) -> None:
        """Show ``config`` in the controls (after loading a checkpoint or restoring settings)."""
        self._custom_points = [tuple(point) for point in config.custom_points]
        _select_data(self.dist_combo, config.dist)
        _select_data(self.loss_combo, config.loss)
        self.lr_d_spin.setValue(config.lr_d)
        self.lr_g_spin.setValue(config.lr_g)
        self.d_steps_spin.setValue(config.d_steps)
        self.noise_dim_spin.setValue(config.noise_dim)
        self.batch_size_spin.setValue(config.batch_size)
        self.hidden_spin.setValue(config.hidden)
        self.seed_spin.setValue(config.seed)
        self._on_distribution_changed()

    def _model_changes_pending(self) -> bool:
        try:
            wanted = self.config_from_controls()
        except ValueError:
            return True
        return any(getattr(wanted, name) != getattr(self._config, name) for name in MODEL_FIELDS)

    # ---------------------------------------------------------------------------- actions

    def _submit(self, kind: str, job: Any) -> int:
        job_id = self.context.worker.submit(job)
        self._jobs[job_id] = kind
        if kind in ("reset", "train", "step", "load"):
            self._busy_job = job_id
        self._update_buttons()
        return job_id

    def _abandon_model_jobs(self) -> None:
        """Cancel this tab's training and single steps and ignore their remaining signals.

        Their last preview and final evaluation describe the model being replaced, so they must not
        overwrite the view or the quality label of the new one.
        """
        for job_id, kind in list(self._jobs.items()):
            if kind in ("train", "step"):
                self.context.worker.cancel(job_id)
                del self._jobs[job_id]
                if self._busy_job == job_id:
                    self._busy_job = None

    @Slot()
    def reset(self) -> None:
        """Stop this tab's training and build a new model from the controls."""
        try:
            config = self.config_from_controls()
        except ValueError as error:
            self.hint_label.setText(f"Cannot reset: {error}")
            self.hint_label.setVisible(True)
            return
        self._abandon_model_jobs()
        self._config = config
        self._next_phase = "d"
        self.loss_plot.clear()
        self._clear_quality()
        self._submit("reset", NewTrainerJob(self.session, config, self.context.compute))
        self._update_hint()
        self._save_settings()

    @Slot()
    def run_training(self) -> int:
        """Train for the number of steps in the controls; return the job id."""
        self._next_phase = "d"
        self._train_d_steps = self.d_steps_spin.value()
        return self._submit("train", TrainJob(self.session, self.steps_spin.value(), self.lr_d_spin.value(),
                                              self.lr_g_spin.value(), self.d_steps_spin.value()))

    @Slot()
    def single_step(self) -> int:
        """Run one D update, or one G update when the last single step updated D; return the job id."""
        phase = self._next_phase
        self._next_phase = "g" if phase == "d" else "d"
        return self._submit("step", StepJob(self.session, phase, self.lr_d_spin.value(), self.lr_g_spin.value(),
                                            self.d_steps_spin.value()))

    @Slot()
    def toggle_pause(self) -> None:
        worker = self.context.worker
        if worker.current_job_id() not in self._jobs:
            return
        if worker.is_paused():
            worker.resume()
        else:
            worker.pause()

    def save_checkpoint(self, path: Path) -> int:
        """Save the model to ``path`` (a stem) through the worker; return the job id."""
        return self._submit("save", SaveTrainerJob(self.session, Path(path)))

    def load_checkpoint(self, path: Path) -> int:
        """Load a model from ``path`` through the worker; the controls follow its config; return the job id."""
        self._abandon_model_jobs()
        return self._submit("load", LoadTrainerJob(self.session, Path(path), self.context.compute))

    @Slot()
    def _ask_save_path(self) -> None:
        folder = checkpoints_dir() / "playground"
        folder.mkdir(parents=True, exist_ok=True)
        name, _ = QFileDialog.getSaveFileName(self, "Save playground checkpoint", str(folder / "playground.safetensors"),
                                              "Checkpoints (*.safetensors)")
        if name:
            self.save_checkpoint(Path(name))

    @Slot()
    def _ask_load_path(self) -> None:
        folder = checkpoints_dir() / "playground"
        name, _ = QFileDialog.getOpenFileName(self, "Load playground checkpoint", str(folder),
                                              "Checkpoints (*.safetensors)")
        if name:
            self.load_checkpoint(Path(name))

    def autorun(self) -> bool:
        self.run_training()
        return True

    # ---------------------------------------------------------------------------- custom points

    @Slot(float, float)
    def add_custom_point(self, x: float, y: float) -> None:
        self._custom_points.append((round(x, 3), round(y, 3)))
        self._show_custom_points()
        self._update_hint()

    @Slot()
    def clear_custom_points(self) -> None:
        self._custom_points.clear()
        self._show_custom_points()
        self._update_hint()

    def _show_custom_points(self) -> None:
        custom = self.dist_combo.currentData() == "custom"
        self.view.set_custom_points(self._custom_points if custom else [])
        if custom and self._config.dist != "custom":
            # No custom model exists yet, so show what the placed centres would produce.
            points = tuple(self._custom_points)
            real = np.zeros((0, 2), dtype=np.float32)
            if points:
                real = sample_distribution("custom", PREVIEW_REAL_POINTS, torch.Generator().manual_seed(0), points).numpy()
            self.view.show_points_only(real, plot_extent("custom", points))

    @Slot()
    def _on_distribution_changed(self) -> None:
        custom = self.dist_combo.currentData() == "custom"
        self.view.placing_points = custom
        self.clear_points_button.setVisible(custom)
        self._show_custom_points()
        if not custom and self.last_snapshot is not None and self._config.dist != "custom":
            self.view.set_snapshot(self.last_snapshot)
        self._update_hint()

    @Slot()
    def _update_hint(self) -> None:
        hints = []
        pending = self._model_changes_pending()
        if self.dist_combo.currentData() == "custom":
            if pending:
                hints.append(f"Click on the plot to place mode centres ({len(self._custom_points)} placed), "
                             "then press Reset to train on them.")
            else:
                hints.append("Click on the plot to add more mode centres.")
        elif pending:
            hints.append("Model settings changed: press Reset to apply them.")
        self.hint_label.setText(" ".join(hints))
        self.hint_label.setVisible(bool(hints))

    # ---------------------------------------------------------------------------- worker signals

    @Slot(int, int, str, object)
    def _on_sample(self, job_id: int, step: int, kind: str, data: Mapping[str, Any]) -> None:
        if job_id not in self._jobs or kind != SAMPLE_KIND:
            return
        self.last_snapshot = data
        if not (self.view.placing_points and self._config.dist != "custom"):
            self.view.set_snapshot(data)
        phase = str(data.get("phase", ""))
        total_step = data.get("step", step)
        if phase == "init" and total_step:
            text = LOADED_PHASE_TEXT.format(step=total_step)
        else:
            per_g = "1 D update" if self._train_d_steps == 1 else f"{self._train_d_steps} D updates"
            text = PHASE_TEXT.get(phase, "").format(d_updates_per_g=per_g)
        self.phase_label.setText(text)
        self.step_label.setText(f"Trained in total: {total_step} G updates, {data.get('d_updates', '?')} D updates")

    @Slot(int, int, object)
    def _on_metrics(self, job_id: int, step: int, values: Mapping[str, float]) -> None:
        if job_id not in self._jobs:
            return
        self.loss_plot.append(step, values)
        if "quality/sliced_wasserstein" in values:
            self._show_quality(values, final=False)

    def _clear_quality(self) -> None:
        self.quality_label.setText("Quality: not measured yet")
        self.quality_label.setStyleSheet("")

    def _clear_window_error(self) -> None:
        """Remove an earlier failure's message from the window's status bar after a success."""
        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().clearMessage()

    def _show_quality(self, values: Mapping[str, float], final: bool) -> None:
        parts = []
        missing = total = 0
        if "quality/modes_covered" in values:
            covered, total = int(values["quality/modes_covered"]), int(values["quality/modes_total"])
            parts.append(f"Modes covered: {covered} / {total}")
            missing = total - covered
        distance = f"Sliced Wasserstein: {values['quality/sliced_wasserstein']:.3f}"
        if "quality/sliced_wasserstein_floor" in values:
            distance += f" (two real samples: {values['quality/sliced_wasserstein_floor']:.3f})"
        parts.append(distance)
        parts.append(f"Final evaluation on {EVAL_POINTS} generated points." if final
                     else "Live estimate from the 512 plotted points.")
        if missing and missing == total:
            parts.append("No mode gets a quarter of its share of samples yet.")
        elif missing:
            parts.append(f"{missing} of {total} modes get less than a quarter of their share of samples. "
                         "If that lasts, the generator has collapsed onto the other modes (mode collapse).")
        self.quality_label.setText("\n".join(parts))
        self.quality_label.setStyleSheet("color: #b04000; font-weight: bold;" if missing else "")

    @Slot(int, object, bool)
    def _on_finished(self, job_id: int, summary: Mapping[str, Any], cancelled: bool) -> None:
        kind = self._jobs.pop(job_id, None)
        if kind is None:
            return
        if kind == "train" and "quality/sliced_wasserstein" in summary:
            self._show_quality(summary, final=True)
        elif kind == "load" and not cancelled and "config" in summary:
            self._config = PlaygroundConfig.from_dict(summary["config"])
            self.set_controls(self._config)
            self.loss_plot.clear()
            self._next_phase = "d"
            self.hint_label.setText(f"Loaded {summary.get('path', '')} at step {summary.get('step', '?')}.")
            self.hint_label.setVisible(True)
            self.phase_label.setText(LOADED_PHASE_TEXT.format(step=summary.get("step", "?")))
            if "quality/sliced_wasserstein" in summary:
                self._show_quality(summary, final=True)
            else:
                self._clear_quality()
            self._clear_window_error()
        elif kind == "save" and not cancelled:
            self.hint_label.setText(f"Saved {summary.get('path', '')}.")
            self.hint_label.setVisible(True)
        self._job_ended(job_id)

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, detail: str) -> None:
        kind = self._jobs.pop(job_id, None)
        if kind is None:
            return
        if kind == "step":
            self._next_phase = "d" if self._next_phase == "g" else "g"  # the failed update did not happen
        self.hint_label.setText(f"{kind.capitalize()} failed: {message}")
        self.hint_label.setVisible(True)
        self._job_ended(job_id)

    def _job_ended(self, job_id: int) -> None:
        if self._busy_job == job_id:
            self._busy_job = None
        if self._busy_job is None:
            # A later queued job of this tab may still be waiting; it controls the buttons now.
            waiting = [other for other, kind in self._jobs.items() if kind in ("reset", "train", "step", "load")]
            self._busy_job = waiting[-1] if waiting else None
        self._update_buttons()

    @Slot(int, int, str)
    def _on_checkpoint_saved(self, job_id: int, step: int, path: str) -> None:
        if job_id in self._jobs:
            logger.info("Playground checkpoint at step %d saved to %s", step, path)

    @Slot(bool)
    def _on_pause_changed(self, paused: bool) -> None:
        if self.context.worker.current_job_id() in self._jobs:
            self.pause_button.setText("Resume" if paused else "Pause")

    def _update_buttons(self) -> None:
        busy = self._busy_job is not None
        training = busy and self._jobs.get(self._busy_job) == "train"
        self.run_button.setEnabled(not busy)
        self.step_button.setEnabled(not busy)
        self.pause_button.setEnabled(training)
        if not training:
            self.pause_button.setText("Pause")
        self.save_button.setEnabled(not busy)
        self.load_button.setEnabled(not busy)

    # ---------------------------------------------------------------------------- settings

    def _restore_settings(self) -> None:
        settings = self.context.settings
        raw = settings.get_str(SETTINGS_PREFIX + "config")
        self.steps_spin.setValue(settings.get_int(SETTINGS_PREFIX + "steps", DEFAULT_STEPS))
        if not raw:
            self.set_controls(PlaygroundConfig())
            return
        try:
            config = PlaygroundConfig.from_dict(json.loads(raw))
        except (ValueError, TypeError) as error:
            logger.warning("Ignoring the saved playground settings in %s: %s", settings.file_name(), error)
            config = PlaygroundConfig()
        self.set_controls(config)

    def _save_settings(self) -> None:
        settings = self.context.settings
        try:
            config = self.config_from_controls()
        except ValueError:
            config = self._config  # e.g. "custom" with no points placed yet
        settings.set(SETTINGS_PREFIX + "config", json.dumps(config.to_dict()))
        settings.set(SETTINGS_PREFIX + "steps", self.steps_spin.value())

    def shutdown(self) -> None:
        self._save_settings()


# -------------------------------------------------------------------------------- small helpers

def _int_spin(minimum: int, maximum: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setValue(value)
    return spin


def _lr_spin(value: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setDecimals(5)
    spin.setRange(1e-5, 0.1)
    spin.setSingleStep(1e-4)
    spin.setValue(value)
    return spin


def _wrapping_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def _select_data(combo: QComboBox, data: str) -> None:
    index = combo.findData(data)
    if index < 0:
        raise ValueError(f"{data!r} is not an option of this list; expected one of "
                         f"{[combo.itemData(i) for i in range(combo.count())]}.")
    combo.setCurrentIndex(index)
