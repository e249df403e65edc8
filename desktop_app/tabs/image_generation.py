"""The Image generation tab: train a DCGAN or tag-conditional GAN with a live sample grid, and generate from tags."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.core.jobs import CancelToken, EventSink, Finished, JobError, Sample, Started
from engine.core.checkpoints import CheckpointError
from engine.data.image_tags import TagError
from engine.image.generate import ImageGenerator, save_png, tile
from engine.image.runs import default_model_path
from engine.image.train import ImageGanTrainJob, ImageTrainConfig

from desktop_app.context import AppContext
from desktop_app.tabs.base import Tab
from desktop_app.widgets.job_bar import job_title
from desktop_app.widgets.loss_plot import LossPlot

logger = logging.getLogger(__name__)

GRID_KIND = "image_grid"
PREVIEW_SIDE_PX = 420  # minimum size of the grid area; grids are enlarged by whole pixels to fill it


class GenerateImagesJob:
    """Load a generator and make a grid or an interpolation strip; the grid arrives as a Sample event."""

    name = "image.generate"

    def __init__(self, model_path: Path, tags: str, seed: int, count: int, truncation: float | None,
                 interpolate_to: tuple[int, str] | None = None, columns: int = 8) -> None:
        self.model_path, self.tags, self.seed, self.count = model_path, tags, seed, count
        self.truncation, self.interpolate_to, self.columns = truncation, interpolate_to, columns

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        sink(Started(self.name, None, {"model": str(self.model_path), "tags": self.tags}))
        try:
            model = ImageGenerator.load(self.model_path)
            if self.interpolate_to is not None:
                seed_b, tags_b = self.interpolate_to
                images = model.interpolate(self.seed, seed_b, self.tags, tags_b or None, self.count, self.truncation)
                texts: list[str] = []
                grid = tile(images, columns=len(images))
            else:
                images, texts = model.generate(self.tags, self.seed, self.count, self.truncation)
                grid = tile(images, columns=self.columns)
        except (CheckpointError, TagError, ValueError) as error:
            raise JobError(str(error)) from error
        sink(Sample(0, GRID_KIND, {"grid": grid, "row_tags": texts}))
        sink(Finished({"images": len(images)}))


def grid_pixmap(grid: np.ndarray, width_px: int = PREVIEW_SIDE_PX, height_px: int = PREVIEW_SIDE_PX) -> QPixmap:
    """Turn a uint8 (H, W, 3) grid into a pixmap enlarged by whole pixels to fit width_px x height_px."""
    grid = np.ascontiguousarray(grid)
    height, width, _ = grid.shape
    image = QImage(grid.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    scale = max(1, min(width_px // max(width, 1), height_px // max(height, 1)))
    return QPixmap.fromImage(image).scaled(width * scale, height * scale, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation)


class ImageGenerationTab(Tab):
    """Train image GANs and generate faces from tag text."""

    TITLE = "Image generation"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model_path: Path = default_model_path()
        self.last_grid: np.ndarray | None = None
        self._train_job: int | None = None
        self._generate_job: int | None = None
        self._build()
        worker = context.worker
        worker.job_sample.connect(self._on_sample)
        worker.job_metrics.connect(self._on_metrics)
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)

    # ------------------------------------------------------------------------------- layout

    def _build(self) -> None:
        defaults = ImageTrainConfig()
        train_box = QGroupBox("Train")
        form = QFormLayout(train_box)
        self.dataset_combo = QComboBox()
        self.dataset_combo.addItem("procedural faces", "procedural")
        self.dataset_combo.addItem("anime faces (shared data set)", "anime")
        self.dataset_combo.addItem("image folder…", "folder")
        self.dataset_combo.activated.connect(self._on_dataset_chosen)
        self.folder_path: str | None = None
        self.model_combo = QComboBox()
        self.model_combo.addItem("conditional GAN (tags)", "cgan")
        self.model_combo.addItem("DCGAN (no tags)", "dcgan")
        self.resolution_combo = QComboBox()
        self.resolution_combo.addItem("32 px", 32)
        self.resolution_combo.addItem("64 px", 64)
        self.steps_spin = _spin(1, 1_000_000, defaults.steps)
        self.batch_spin = _spin(2, 1024, defaults.batch_size)
        self.channels_spin = _spin(4, 512, defaults.g_channels)
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_training)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        form.addRow("Data", self.dataset_combo)
        form.addRow("Model", self.model_combo)
        form.addRow("Resolution", self.resolution_combo)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Channels", self.channels_spin)
        form.addRow(buttons)

        generate_box = QGroupBox("Generate")
        gen_form = QFormLayout(generate_box)
        self.model_label = QLabel(self.model_path.name)
        self.model_label.setToolTip(str(self.model_path))
        load_button = QPushButton("Load model…")
        load_button.clicked.connect(self._ask_model_path)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(load_button)
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("red hair, green eyes (empty: random)")
        self.tags_edit.setToolTip("Comma-separated tags, e.g. red hair, green eyes, long hair. "
                                  "Leave empty for random tags.")
        self.tags_edit.textEdited.connect(self._clear_input_error)
        self.tags_error_label = QLabel("")
        self.tags_error_label.setObjectName("tagsErrorLabel")
        self.tags_error_label.setWordWrap(True)
        self.tags_error_label.setStyleSheet("color: #b00020;")
        self.tags_error_label.setVisible(False)
        self.seed_spin = _spin(0, 2**31 - 1, 0)
        self.count_spin = _spin(1, 256, 16)
        self.truncation_spin = QDoubleSpinBox()
        self.truncation_spin.setRange(0.0, 4.0)
        self.truncation_spin.setSingleStep(0.1)
        self.truncation_spin.setSpecialValueText("off")
        self.interpolate_check = QCheckBox("Interpolate to seed / tags below (count = strip length)")
        self.seed_b_spin = _spin(0, 2**31 - 1, 1)
        self.tags_b_edit = QLineEdit()
        self.tags_b_edit.setPlaceholderText("end tags (empty: same as start)")
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._ask_save_path)
        gen_buttons = QHBoxLayout()
        gen_buttons.addWidget(self.generate_button)
        gen_buttons.addWidget(self.save_button)
        gen_form.addRow("Model", model_row)
        gen_form.addRow("Tags", self.tags_edit)
        gen_form.addRow("", self.tags_error_label)
        gen_form.addRow("Seed", self.seed_spin)
        gen_form.addRow("Count", self.count_spin)
        gen_form.addRow("Truncation", self.truncation_spin)
        gen_form.addRow(self.interpolate_check)
        gen_form.addRow("End seed", self.seed_b_spin)
        gen_form.addRow("End tags", self.tags_b_edit)
        gen_form.addRow(gen_buttons)

        controls = QWidget()
        left = QVBoxLayout(controls)
        left.addWidget(train_box)
        left.addWidget(generate_box)
        left.addStretch(1)

        self.grid_label = QLabel("Train a model or press Generate.")
        self.grid_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid_label.setMinimumSize(PREVIEW_SIDE_PX, PREVIEW_SIDE_PX)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.loss_plot = LossPlot(("loss/d", "loss/g"), title="Losses")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.grid_label, 3)
        right_layout.addWidget(self.status_label)
        right_layout.addWidget(self.loss_plot, 2)

        splitter = QSplitter()
        splitter.addWidget(controls)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)

    # ------------------------------------------------------------------------------- actions

    def training_config(self) -> ImageTrainConfig:
        dataset = self.dataset_combo.currentData()
        if dataset == "folder":
            dataset = self.folder_path or ""
        channels = self.channels_spin.value()
        return ImageTrainConfig(model=self.model_combo.currentData(), dataset=dataset,
                                resolution=int(self.resolution_combo.currentData()), steps=self.steps_spin.value(),
                                batch_size=self.batch_spin.value(), g_channels=channels, d_channels=channels,
                                device=self.context.compute.device.type, precision=self.context.compute.precision)

    def start_training(self) -> int:
        self.loss_plot.clear()
        self._train_job = self.context.worker.submit(ImageGanTrainJob(self.training_config()))
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status_label.setText("Training…")
        return self._train_job

    def cancel_training(self) -> None:
        if self._train_job is not None:
            self.context.worker.cancel(self._train_job)

    def generate(self) -> int:
        truncation = self.truncation_spin.value() or None
        interpolate_to = None
        if self.interpolate_check.isChecked():
            interpolate_to = (self.seed_b_spin.value(), self.tags_b_edit.text())
        job = GenerateImagesJob(self.model_path, self.tags_edit.text(), self.seed_spin.value(), self.count_spin.value(),
                                truncation, interpolate_to)
        self._clear_input_error()
        running = self.context.worker.current_job_name()
        # Bad tags raise a JobError, which this tab shows under the Tags box instead of in a dialog.
        self._generate_job = self.context.worker.submit(job, shows_input_errors=True)
        if running is not None:
            self.status_label.setText(f"Generate waits for {job_title(running)} to finish.")
        self.generate_button.setEnabled(False)
        return self._generate_job

    def set_model_path(self, path: Path) -> None:
        self.model_path = Path(path)
        self.model_label.setText(self.model_path.name)
        self.model_label.setToolTip(str(self.model_path))

    def save_grid(self, path: Path) -> Path | None:
        if self.last_grid is None:
            return None
        return save_png(self.last_grid, path, scale=4)

    def _on_dataset_chosen(self) -> None:
        if self.dataset_combo.currentData() == "folder":
            folder = QFileDialog.getExistingDirectory(self, "Choose a folder of images")
            if folder:
                self.folder_path = folder
                self.dataset_combo.setItemText(2, f"folder: {Path(folder).name}")
            else:
                self.dataset_combo.setCurrentIndex(0)

    def _ask_model_path(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load an image GAN", str(self.model_path.parent),
                                              "GAN Studio models (*.safetensors)")
        if path:
            self.set_model_path(Path(path))

    def _ask_save_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the grid", "grid.png", "PNG images (*.png)")
        if path:
            self.save_grid(Path(path))

    # ------------------------------------------------------------------------------- worker events

    def _show_grid(self, grid: np.ndarray) -> None:
        self.last_grid = grid
        self.grid_label.setPixmap(grid_pixmap(grid, self.grid_label.width() - 8, self.grid_label.height() - 8))
        self.save_button.setEnabled(True)

    @Slot(int, int, str, object)
    def _on_sample(self, job_id: int, step: int, kind: str, data: Mapping[str, Any]) -> None:
        if job_id in (self._train_job, self._generate_job) and kind == GRID_KIND:
            self._show_grid(data["grid"])
            if job_id == self._train_job:
                self.status_label.setText(f"Step {step}: rows are " + "; ".join(data.get("row_tags", [])[:4]) + " …")

    @Slot(int, int, object)
    def _on_metrics(self, job_id: int, step: int, values: Mapping[str, float]) -> None:
        if job_id == self._train_job:
            self.loss_plot.append(step, values)

    @Slot(int, object, bool)
    def _on_finished(self, job_id: int, summary: Mapping[str, Any], cancelled: bool) -> None:
        if job_id == self._train_job:
            self._train_job = None
            self.train_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            checkpoint = summary.get("checkpoint")
            if checkpoint:
                self.set_model_path(Path(checkpoint))
            state = "cancelled" if cancelled else "finished"
            self.status_label.setText(f"Training {state} at step {summary.get('steps')}; Generate now uses {checkpoint}.")
        elif job_id == self._generate_job:
            self._generate_job = None
            self.generate_button.setEnabled(True)
            self.status_label.setText(f"Generated {summary.get('images')} images with {self.model_path.name}.")

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, detail: str) -> None:
        if job_id == self._train_job:
            self._train_job = None
            self.train_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
        elif job_id == self._generate_job:
            self._generate_job = None
            self.generate_button.setEnabled(True)
            self._clear_grid("No images: the last Generate failed.")
            if self.context.worker.failure_shown_by_tab(job_id):
                self.tags_error_label.setText(message)
                self.tags_error_label.setVisible(True)
                self.status_label.setText("")
                return
        else:
            return
        self.status_label.setText(message)

    def _clear_grid(self, text: str) -> None:
        """Remove the shown grid, so an earlier result is not mistaken for the result of a failed request."""
        self.last_grid = None
        self.grid_label.clear()
        self.grid_label.setText(text)
        self.save_button.setEnabled(False)

    @Slot()
    def _clear_input_error(self) -> None:
        self.tags_error_label.clear()
        self.tags_error_label.setVisible(False)


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
