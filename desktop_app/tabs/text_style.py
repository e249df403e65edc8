"""The Text style tab: train a sentiment transfer model with live rewrites, and rewrite sentences with it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.text_style.config import TextStyleConfig
from engine.text_style.default_model import bundled_model_path
from engine.text_style.train import TextStyleTrainJob
from engine.text_style.transfer import TransferJob

from desktop_app.context import AppContext
from desktop_app.tabs.base import Tab
from desktop_app.widgets.loss_plot import LossPlot

logger = logging.getLogger(__name__)

SAMPLES_KIND = "text_samples"
EXAMPLE_INPUT = "the food was cold and the waiter was rude .\nwe will never come back ."


class TextStyleTab(Tab):
    """Non-parallel sentiment transfer: direct transformation or the cross-aligned auto-encoder."""

    TITLE = "Text style"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.model_path: Path | None = bundled_model_path()
        self._train_job: int | None = None
        self._transfer_job: int | None = None
        self._build()
        worker = context.worker
        worker.job_sample.connect(self._on_sample)
        worker.job_metrics.connect(self._on_metrics)
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)
        worker.checkpoint_saved.connect(self._on_checkpoint)

    def _build(self) -> None:
        defaults = TextStyleConfig()
        train_box = QGroupBox("Train")
        form = QFormLayout(train_box)
        self.method_combo = QComboBox()
        self.method_combo.addItem("cross-aligned auto-encoder", "cross_aligned")
        self.method_combo.addItem("direct transformation (seq2seq + cycle)", "direct")
        self.relaxation_combo = QComboBox()
        self.relaxation_combo.addItem("straight-through Gumbel-softmax", "gumbel")
        self.relaxation_combo.addItem("soft embedding mixtures", "soft")
        self.data_combo = QComboBox()
        self.data_combo.addItem("Yelp reviews (shared data set)", "yelp")
        self.data_combo.addItem("project-made review sentences", "reviews")
        self.data_combo.addItem("two text files…", "files")
        self.data_combo.activated.connect(self._on_data_chosen)
        self.files: tuple[str, str] | None = None
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 1_000_000)
        self.steps_spin.setValue(defaults.steps)
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_training)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        form.addRow("Method", self.method_combo)
        form.addRow("Discrete outputs", self.relaxation_combo)
        form.addRow("Data", self.data_combo)
        form.addRow("Steps", self.steps_spin)
        form.addRow(buttons)

        transfer_box = QGroupBox("Rewrite")
        transfer_layout = QVBoxLayout(transfer_box)
        self.input_edit = QPlainTextEdit(EXAMPLE_INPUT)
        self.direction_combo = QComboBox()
        self.direction_combo.addItem("negative → positive", 0)
        self.direction_combo.addItem("positive → negative", 1)
        self.transfer_button = QPushButton("Rewrite")
        self.transfer_button.clicked.connect(self.start_transfer)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self._show_model()
        transfer_layout.addWidget(QLabel("One sentence per line:"))
        transfer_layout.addWidget(self.input_edit)
        row = QHBoxLayout()
        row.addWidget(self.direction_combo)
        row.addWidget(self.transfer_button)
        transfer_layout.addLayout(row)
        transfer_layout.addWidget(self.model_label)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(train_box)
        left_layout.addWidget(transfer_box)
        self.status_label = QLabel("Idle.")
        self.status_label.setWordWrap(True)
        left_layout.addWidget(self.status_label)
        left_layout.addStretch(1)

        self.loss_plot = LossPlot(("loss/d", "loss/g", "loss/reconstruction", "loss/cycle"), title="Losses")
        self.samples_table = QTableWidget(0, 3)
        self.samples_table.setHorizontalHeaderLabels(["Source", "Rewrite", "Direction"])
        self.samples_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.samples_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        right = QSplitter()
        right.setOrientation(right.orientation().Vertical)
        right.addWidget(self.loss_plot)
        right.addWidget(self.samples_table)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def _show_model(self) -> None:
        text = f"Model: {self.model_path.name}" if self.model_path else "No model yet: train one first."
        self.model_label.setText(text)
        self.transfer_button.setEnabled(self.model_path is not None)

    @Slot(int)
    def _on_data_chosen(self, index: int) -> None:
        if self.data_combo.itemData(index) != "files":
            return
        first, _ = QFileDialog.getOpenFileName(self, "Style 0 (negative) sentences", "", "Text files (*.txt);;All files (*)")
        second, _ = QFileDialog.getOpenFileName(self, "Style 1 (positive) sentences", "", "Text files (*.txt);;All files (*)")
        if first and second:
            self.files = (first, second)
            self.status_label.setText(f"Files: {Path(first).name} and {Path(second).name}")
        else:
            self.data_combo.setCurrentIndex(0)

    def training_config(self) -> TextStyleConfig:
        data = self.data_combo.currentData()
        return TextStyleConfig(method=self.method_combo.currentData(), relaxation=self.relaxation_combo.currentData(),
                               data=data, files=self.files if data == "files" else None, steps=self.steps_spin.value(),
                               device=self.context.compute.device.type, precision=self.context.compute.precision)

    def start_training(self) -> int | None:
        try:
            config = self.training_config()
        except ValueError as error:
            self.status_label.setText(str(error))
            return None
        self.loss_plot.clear()
        self.samples_table.setRowCount(0)
        self._train_job = self.context.worker.submit(TextStyleTrainJob(config, metrics_every=5))
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status_label.setText(f"Training the {config.method} model…")
        return self._train_job

    def cancel_training(self) -> None:
        if self._train_job is not None:
            self.context.worker.cancel(self._train_job)

    def start_transfer(self) -> int | None:
        sentences = [line for line in self.input_edit.toPlainText().splitlines() if line.strip()]
        if not sentences or self.model_path is None:
            self.status_label.setText("Type at least one sentence and train or pick a model first.")
            return None
        job = TransferJob(self.model_path, sentences, self.direction_combo.currentData())
        self._transfer_job = self.context.worker.submit(job)
        return self._transfer_job

    def show_samples(self, samples: list[tuple[str, str, str]]) -> None:
        self.samples_table.setRowCount(len(samples))
        for row, values in enumerate(samples):
            for column, value in enumerate(values):
                self.samples_table.setItem(row, column, QTableWidgetItem(str(value)))

    @Slot(int, int, str, object)
    def _on_sample(self, job_id: int, step: int, kind: str, data: Mapping[str, Any]) -> None:
        if kind == SAMPLES_KIND and job_id in (self._train_job, self._transfer_job):
            self.show_samples(list(data["samples"]))

    @Slot(int, int, object)
    def _on_metrics(self, job_id: int, step: int, values: Mapping[str, float]) -> None:
        if job_id == self._train_job:
            self.loss_plot.append(step, values)

    @Slot(int, int, str)
    def _on_checkpoint(self, job_id: int, step: int, path: str) -> None:
        if job_id == self._train_job:
            self.model_path = Path(path)
            self._show_model()

    @Slot(int, object, bool)
    def _on_finished(self, job_id: int, summary: Mapping[str, Any], cancelled: bool) -> None:
        if job_id == self._train_job:
            self._train_job = None
            self.train_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Training cancelled." if cancelled else f"Training finished at step {summary.get('step')}.")
        elif job_id == self._transfer_job:
            self._transfer_job = None
            self.status_label.setText("Rewritten.")

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, detail: str) -> None:
        if job_id == self._train_job:
            self._train_job = None
            self.train_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
        elif job_id != self._transfer_job:
            return
        self._transfer_job = None
        self.status_label.setText(message)
