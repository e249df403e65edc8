"""The Batch page: convert every audio file of a folder into another folder, with progress."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from desktop_app.context import AppContext
from desktop_app.tabs.voice.common import audio_files_in
from desktop_app.tabs.voice.models_page import ModelCatalog
from desktop_app.widgets.job_bar import job_title
from engine.core.jobs import CancelToken, EventSink, Failed, Finished, JobError, ProgressClock, Started
from engine.voice import ConvertJob

logger = logging.getLogger(__name__)

KEY_BATCH_INPUT = "voice/batch_input"
KEY_BATCH_OUTPUT = "voice/batch_output"


class BatchConvertJob:
    """Convert each audio file of ``input_dir`` into ``output_dir`` (same name, chosen format).

    A file that fails is listed in the summary and the batch goes on; the job fails only when every
    file fails. Progress counts files.
    """

    name = "voice.batch_convert"

    def __init__(self, input_dir: Path, output_dir: Path, target_speaker: str, model_path: Path,
                 pitch_shift_semitones: float = 0.0, vocoder: str = "gan", extension: str = ".wav",
                 convert_job: Callable[..., Any] = ConvertJob) -> None:
        self.input_dir = Path(input_dir)
        self.output_dir = Path(output_dir)
        self.target_speaker = target_speaker
        self.model_path = Path(model_path)
        self.pitch_shift_semitones = pitch_shift_semitones
        self.vocoder = vocoder
        self.extension = extension
        self._convert_job = convert_job

    def run(self, sink: EventSink, cancel: CancelToken) -> None:
        if not self.input_dir.is_dir():
            raise JobError(f"Input folder {self.input_dir} not found; pick the folder with the files to convert.")
        files = audio_files_in(self.input_dir)
        if not files:
            raise JobError(f"{self.input_dir} contains no audio files (.wav, .flac, .ogg or .mp3).")
        if self.output_dir.resolve() == self.input_dir.resolve():
            raise JobError("The output folder is the input folder; pick another one so no source file is replaced.")
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise JobError(f"Cannot create the output folder {self.output_dir}: {error}.") from error

        sink(Started(self.name, len(files), {"input": str(self.input_dir), "target": self.target_speaker}))
        clock = ProgressClock(len(files))
        converted: list[str] = []
        failures: list[str] = []
        started = time.perf_counter()
        for index, path in enumerate(files):
            if cancel.cancelled:
                break
            output = self.output_dir / (path.stem + self.extension)
            job = self._convert_job(path, self.target_speaker, output, self.model_path,
                                    pitch_shift_semitones=self.pitch_shift_semitones, vocoder=self.vocoder)
            outcome = _run_inner(job, cancel)
            if outcome is None:
                converted.append(str(output))
            else:
                failures.append(f"{path.name}: {outcome}")
                logger.warning("Batch conversion of %s failed: %s", path, outcome)
            sink(clock.tick(index + 1))
        if files and not converted and failures and not cancel.cancelled:
            raise JobError(f"No file could be converted. First error: {failures[0]}")
        sink(Finished({"converted": converted, "failures": failures, "output_dir": str(self.output_dir),
                       "time_s": time.perf_counter() - started}, cancelled=cancel.cancelled))


def _run_inner(job: Any, cancel: CancelToken) -> str | None:
    """Run one conversion, keeping its events to itself; return None on success, else the reason."""
    events: list[Any] = []
    try:
        job.run(events.append, cancel)
    except JobError as error:
        return str(error)
    for event in events:
        if isinstance(event, Failed):
            return event.message
    if any(isinstance(event, Finished) and event.cancelled for event in events):
        return "cancelled"
    return None


class BatchPage(QWidget):
    """Chooses the folders and starts a BatchConvertJob with the Convert page's target and options."""

    def __init__(self, context: AppContext, catalog: ModelCatalog, options: Callable[[], tuple[str | None, float, str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._settings = context.settings
        self._catalog = catalog
        self._options = options  # returns (target speaker, pitch shift, vocoder) from the Convert page
        self._job_id: int | None = None
        self.last_summary: Mapping[str, Any] | None = None

        self.input_edit = QLineEdit(self._settings.get_str(KEY_BATCH_INPUT, ""))
        self.output_edit = QLineEdit(self._settings.get_str(KEY_BATCH_OUTPUT, ""))
        input_button = QPushButton("Browse…")
        output_button = QPushButton("Browse…")
        self.format_combo = QComboBox()
        self.format_combo.addItem("WAV", ".wav")
        self.format_combo.addItem("FLAC", ".flac")
        self.start_button = QPushButton("Convert folder")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.status_label = QLabel("The target, pitch shift and vocoder come from the Convert page.")
        self.status_label.setWordWrap(True)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)

        input_row = QHBoxLayout()
        input_row.addWidget(self.input_edit, 1)
        input_row.addWidget(input_button)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_edit, 1)
        output_row.addWidget(output_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        form = QFormLayout()
        form.addRow("Input folder", input_row)
        form.addRow("Output folder", output_row)
        form.addRow("Format", self.format_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.log_view, 1)

        input_button.clicked.connect(lambda: self._browse(self.input_edit, "Folder with the files to convert"))
        output_button.clicked.connect(lambda: self._browse(self.output_edit, "Folder for the converted files"))
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        worker = context.worker
        worker.job_progress.connect(self._on_progress)
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)

    @property
    def busy(self) -> bool:
        return self._job_id is not None

    def start(self) -> int | None:
        """Submit the batch conversion; return the job id or None with a message."""
        input_text, output_text = self.input_edit.text().strip(), self.output_edit.text().strip()
        target, pitch_shift, vocoder = self._options()
        model_path = self._catalog.current_path
        problem = ""
        if not input_text or not output_text:
            problem = "Choose an input and an output folder."
        elif model_path is None:
            problem = "No voice model is selected; pick one on the Models page."
        elif target is None:
            problem = "Select a target speaker on the Convert page."
        if problem:
            self.status_label.setText(problem)
            return None
        self._settings.set(KEY_BATCH_INPUT, input_text)
        self._settings.set(KEY_BATCH_OUTPUT, output_text)
        job = BatchConvertJob(Path(input_text), Path(output_text), target, model_path, pitch_shift, vocoder,
                              self.format_combo.currentData())
        self._job_id = self.context.worker.submit(job, shows_input_errors=True)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        running = self.context.worker.current_job_name()
        waiting = (f" It waits for {job_title(running)} to finish." if running is not None
                   and self.context.worker.current_job_id() != self._job_id else "")
        self.status_label.setText(f"Converting {input_text} to {target}.{waiting}")
        return self._job_id

    def cancel(self) -> None:
        if self._job_id is not None:
            self.context.worker.cancel(self._job_id)

    @Slot(int, int, object, object, object)
    def _on_progress(self, job_id: int, step: int, total: int | None, eta_s: float | None, *_rest: object) -> None:
        if job_id != self._job_id or not total:
            return
        self.progress_bar.setRange(0, int(total))
        self.progress_bar.setValue(step)
        self.status_label.setText(f"{step} of {total} files converted"
                                  + (f", about {eta_s:.0f} s left" if eta_s is not None else ""))

    @Slot(int, object, bool)
    def _on_finished(self, job_id: int, summary: Mapping[str, Any], cancelled: bool) -> None:
        if job_id != self._job_id:
            return
        self._end()
        self.last_summary = summary
        converted = summary.get("converted", [])
        failures = summary.get("failures", [])
        state = "Cancelled after" if cancelled else "Converted"
        self.status_label.setText(f"{state} {len(converted)} files into {summary.get('output_dir', '')}"
                                  + (f"; {len(failures)} failed (listed below)." if failures else "."))
        self.log_view.setPlainText("\n".join([*converted, *(f"FAILED {line}" for line in failures)]))

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, _detail: str) -> None:
        if job_id != self._job_id:
            return
        self._end()
        self.status_label.setText(message)

    def _end(self) -> None:
        self._job_id = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1)

    def _browse(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text() or str(Path.home()))
        if folder:
            edit.setText(folder)
