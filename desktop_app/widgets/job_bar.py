"""A bar under the tabs that shows the running job: name, progress, ETA, Pause/Resume and Cancel."""

from __future__ import annotations

import logging

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from desktop_app.worker import EngineWorker

logger = logging.getLogger(__name__)

# Titles shown for the job names in the engine and the tabs; other names are shown as they are.
JOB_TITLES = {
    "playground.reset": "Building a playground model",
    "playground.train": "Playground training",
    "playground.step": "Playground single step",
    "playground.load": "Loading a playground checkpoint",
    "playground.save": "Saving a playground checkpoint",
    "image.train": "Image GAN training",
    "image.evaluate": "Image GAN evaluation",
    "image.generate": "Generating images",
    "text_style.transfer": "Text style transfer",
    "synthetic speech corpus": "Building the synthetic speech corpus",
}


def job_title(name: str) -> str:
    """Return the human title for job ``name``, or the name itself when it has none."""
    return JOB_TITLES.get(name, name)


def format_duration(seconds: float) -> str:
    """Format a duration as "m:ss" or "h:mm:ss".

    >>> format_duration(65.2), format_duration(3725)
    ('1:05', '1:02:05')
    """
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class JobBar(QWidget):
    """Follows the worker's signals and shows the job it is running; idle text when none runs."""

    def __init__(self, worker: EngineWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._job_id: int | None = None
        self._job_name = ""
        self._paused = False

        self.name_label = QLabel("No job running")
        self.name_label.setMinimumWidth(160)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.step_label = QLabel("")
        self.step_label.setMinimumWidth(110)
        self.eta_label = QLabel("")
        self.eta_label.setMinimumWidth(90)
        self.queue_label = QLabel("")
        self.queue_label.setToolTip("Jobs run one at a time; these start when the running job ends")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause the running job between two steps; press again to resume")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job after its current step")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for widget in (self.name_label, self.progress_bar, self.step_label, self.eta_label, self.queue_label,
                       self.pause_button, self.cancel_button):
            layout.addWidget(widget)

        self.pause_button.clicked.connect(self._toggle_pause)
        self.cancel_button.clicked.connect(self._cancel)
        worker.job_queued.connect(self._update_queue)
        worker.job_started.connect(self._on_started)
        worker.job_progress.connect(self._on_progress)
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)
        worker.pause_changed.connect(self._on_pause_changed)
        self._set_running(False)

    @property
    def job_id(self) -> int | None:
        """The id of the job shown, or None when idle."""
        return self._job_id

    def _set_running(self, running: bool) -> None:
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.pause_button.setText("Pause")

    @Slot(int, str, object)
    def _on_started(self, job_id: int, name: str, total_steps: int | None) -> None:
        self._job_id = job_id
        self._job_name = job_title(name)
        self._paused = False
        self.name_label.setText(self._job_name)
        self._update_queue()
        if total_steps:
            self.progress_bar.setRange(0, int(total_steps))
        else:
            self.progress_bar.setRange(0, 0)  # unknown length: Qt shows a busy animation
        self.progress_bar.setValue(0)
        self.step_label.setText("")
        self.eta_label.setText("")
        self._set_running(True)

    @Slot(int, int, object, object, object)
    def _on_progress(self, job_id: int, step: int, total_steps: int | None, eta_s: float | None,
                     steps_per_s: float | None) -> None:
        if job_id != self._job_id:
            return
        if total_steps:
            if self.progress_bar.maximum() != total_steps:
                self.progress_bar.setRange(0, int(total_steps))
            self.progress_bar.setValue(min(step, int(total_steps)))
            # Counted from this job's start: a Run of the playground adds to steps trained before.
            self.step_label.setText(f"{step} / {total_steps} steps of this run")
        else:
            self.step_label.setText(f"step {step}")
        if self._paused:
            self.eta_label.setText("paused")  # the ETA would only grow while nothing runs
        else:
            self.eta_label.setText(f"{format_duration(eta_s)} left" if eta_s is not None else "")
        if steps_per_s:
            self.eta_label.setToolTip(f"{steps_per_s:.1f} steps/s")

    @Slot(int, object, bool)
    def _on_finished(self, job_id: int, summary: dict, cancelled: bool) -> None:
        if job_id != self._job_id:
            return
        self._end(f"{self._job_name}: cancelled" if cancelled else f"{self._job_name}: done")
        if not cancelled and self.progress_bar.maximum() > 0:
            self.progress_bar.setValue(self.progress_bar.maximum())

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, detail: str) -> None:
        if job_id != self._job_id:
            return
        self._end(f"{self._job_name}: failed")
        self.name_label.setToolTip(message)

    def _end(self, text: str) -> None:
        self.name_label.setText(text)
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1)  # stop the busy animation
        self.eta_label.setText("")
        self._job_id = None
        self._paused = False
        self._set_running(False)
        self._update_queue()

    @Slot()
    def _update_queue(self) -> None:
        # While idle a queued job starts at once, so only jobs behind a running one count as waiting.
        waiting = self._worker.queued_count() if self._job_id is not None else 0
        self.queue_label.setText(f"queued: {waiting} waiting" if waiting else "")

    @Slot(bool)
    def _on_pause_changed(self, paused: bool) -> None:
        self._paused = paused
        self.pause_button.setText("Resume" if paused else "Pause")
        if self._job_id is not None:
            self.eta_label.setText("paused" if paused else "")

    @Slot()
    def _toggle_pause(self) -> None:
        if self._worker.is_paused():
            self._worker.resume()
        else:
            self._worker.pause()

    @Slot()
    def _cancel(self) -> None:
        self._worker.cancel(self._job_id)
