"""The Text style tab: train a sentiment transfer model with live rewrites, and rewrite sentences with it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
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

from engine.text_style.candidates import DEFAULT_TEMPERATURE, MAX_CANDIDATES
from engine.text_style.config import TextStyleConfig
from engine.text_style.default_model import bundled_model_path
from engine.text_style.train import TextStyleTrainJob
from engine.text_style.transfer import CANDIDATES_SAMPLE_KIND, TransferJob

from desktop_app.context import AppContext
from desktop_app.tabs.base import Tab
from desktop_app.widgets.loss_plot import LossPlot

logger = logging.getLogger(__name__)

SAMPLES_KIND = "text_samples"
EXAMPLE_INPUT = "the food was cold and the waiter was rude .\nthe service was slow .\nwe will never come back ."
DEFAULT_CANDIDATES = 4
SAMPLES_COLUMNS = ("Source", "Rewrite", "Score", "Decoding", "Direction")
SCORE_COLUMN, DECODING_COLUMN, DIRECTION_COLUMN = 2, 3, 4
SCORE_TOOLTIP = "The bundled sentiment classifier's probability that the rewrite has the target style"


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
        self.candidates_spin = QSpinBox()
        self.candidates_spin.setRange(1, MAX_CANDIDATES)
        self.candidates_spin.setValue(DEFAULT_CANDIDATES)
        self.candidates_spin.setToolTip("The greedy rewrite plus sampled ones; fewer appear when sampling finds no new rewrite")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.05, 5.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setValue(DEFAULT_TEMPERATURE)
        self.temperature_spin.setToolTip("Softmax temperature of the sampled rewrites: higher gives more varied, less fluent ones")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("The same seed and sentences give the same sampled rewrites")
        self.transfer_button = QPushButton("Rewrite")
        self.transfer_button.clicked.connect(self.start_transfer)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self._show_model()
        transfer_layout.addWidget(QLabel("One sentence per line:"))
        transfer_layout.addWidget(self.input_edit)
        sampling = QFormLayout()
        sampling.addRow("Outputs per sentence", self.candidates_spin)
        sampling.addRow("Temperature", self.temperature_spin)
        sampling.addRow("Seed", self.seed_spin)
        transfer_layout.addLayout(sampling)
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
        self.samples_table = QTableWidget(0, len(SAMPLES_COLUMNS))
        self.samples_table.setHorizontalHeaderLabels(list(SAMPLES_COLUMNS))
        self.samples_table.horizontalHeaderItem(SCORE_COLUMN).setToolTip(SCORE_TOOLTIP)
        header = self.samples_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in (0, 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.samples_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.samples_table.setWordWrap(True)
        right = QSplitter()
        right.setOrientation(right.orientation().Vertical)
        right.addWidget(self.loss_plot)
        right.addWidget(self.samples_table)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)  # several rewrites per sentence need more rows than the loss plot needs height

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
        job = TransferJob(self.model_path, sentences, self.direction_combo.currentData(),
                          candidates=self.candidates_spin.value(), temperature=self.temperature_spin.value(),
                          seed=self.seed_spin.value())
        self._transfer_job = self.context.worker.submit(job)
        self.status_label.setText("Rewriting…")
        return self._transfer_job

    def autorun(self) -> bool:
        """Rewrite the example sentences with the bundled model, as a demonstration."""
        return self.start_transfer() is not None

    def show_samples(self, samples: list[tuple[str, str, str]]) -> None:
        """Show training previews: (source, greedy rewrite, direction) per row, without scores."""
        self.samples_table.clearSpans()
        self.samples_table.setColumnHidden(DIRECTION_COLUMN, False)
        self.samples_table.setRowCount(len(samples))
        for row, (source, rewrite, direction) in enumerate(samples):
            for column, value in enumerate((source, rewrite, "", "greedy", direction)):
                self.samples_table.setItem(row, column, QTableWidgetItem(str(value)))

    def show_candidates(self, direction: str, rows: list[Mapping[str, Any]]) -> None:
        """Show each source sentence once, beside its scored rewrites in the order received (highest score first).

        All rows share one direction, so the status line names it and the direction column is hidden.
        """
        self.samples_table.clearSpans()
        self.samples_table.setColumnHidden(DIRECTION_COLUMN, True)
        self.samples_table.setRowCount(sum(len(entry["candidates"]) for entry in rows))
        row = 0
        for entry in rows:
            candidates = entry["candidates"]
            for candidate in candidates:
                score = QTableWidgetItem(f"{candidate['score']:.3f}")
                score.setData(Qt.ItemDataRole.UserRole, float(candidate["score"]))
                score.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                score.setToolTip(SCORE_TOOLTIP)
                rewrite = QTableWidgetItem(candidate["text"])
                decoding = QTableWidgetItem("greedy" if candidate["greedy"] else "sampled")
                if candidate["greedy"]:
                    for item in (rewrite, decoding):
                        font = item.font()
                        font.setBold(True)
                        item.setFont(font)
                self.samples_table.setItem(row, 1, rewrite)
                self.samples_table.setItem(row, SCORE_COLUMN, score)
                self.samples_table.setItem(row, DECODING_COLUMN, decoding)
                self.samples_table.setItem(row, DIRECTION_COLUMN, QTableWidgetItem(direction))
                row += 1
            first = row - len(candidates)
            self.samples_table.setItem(first, 0, QTableWidgetItem(entry["source"]))
            if len(candidates) > 1:
                self.samples_table.setSpan(first, 0, len(candidates), 1)
        self.samples_table.resizeRowsToContents()

    @Slot(int, int, str, object)
    def _on_sample(self, job_id: int, step: int, kind: str, data: Mapping[str, Any]) -> None:
        if kind == SAMPLES_KIND and job_id == self._train_job:
            self.show_samples(list(data["samples"]))
        elif kind == CANDIDATES_SAMPLE_KIND and job_id == self._transfer_job:
            self.show_candidates(str(data["direction"]), list(data["rows"]))

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
            self.status_label.setText(f"{summary.get('direction')}: rewrote {summary.get('sentences')} sentences into "
                                      f"{summary.get('candidates')} candidates. Score: the classifier's probability "
                                      "of the target style.")

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
