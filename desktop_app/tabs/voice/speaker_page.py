"""The New speaker page: record prompted sentences (or import a folder), then fine-tune the model on them."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from desktop_app.audio.capture import RecordingResult
from desktop_app.context import AppContext
from desktop_app.tabs.voice.common import (MEL_HOP_S, audio_files_in, log_mel_to_display_db, mel_frequencies,
                                           voice_work_dir)
from desktop_app.tabs.voice.models_page import ModelCatalog, copy_model
from desktop_app.widgets.job_bar import format_duration, job_title
from desktop_app.widgets.loss_plot import LossPlot
from desktop_app.widgets.player import PlayerWidget
from desktop_app.widgets.recorder import RecorderWidget
from desktop_app.widgets.spectrogram_view import SpectrogramView
from engine.audio.io import AudioError, load_audio
from engine.core.checkpoints import CheckpointError, newest_checkpoint
from engine.data.synthetic_speech import DEFAULT_SENTENCES
from engine.voice import FineTuneJob, user_voice_models_dir

logger = logging.getLogger(__name__)

PREVIEW_KIND = "voice_preview"
RECOMMENDED_CLIPS = 20
DEFAULT_STEPS = 300
DEFAULT_PREVIEW_EVERY = 50
KEY_STEPS = "voice/finetune_steps"
SPEAKER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def speaker_clip_dir(name: str) -> Path:
    """Return the folder that contains the recorded clips of speaker ``name``."""
    return voice_work_dir("speakers") / name


def finetune_dir(name: str) -> Path:
    """Return the run folder (checkpoints) of the fine-tuning for speaker ``name``."""
    return voice_work_dir("finetune") / name


class NewSpeakerPage(QWidget):
    """Collects clips of a new speaker, one prompt at a time, and fine-tunes the current model on them.

    ``speaker_added`` carries the path of the new model once it is installed and selected.
    """

    speaker_added = Signal(object)  # Path of the fine-tuned model

    def __init__(self, context: AppContext, catalog: ModelCatalog, prompts: tuple[str, ...] = DEFAULT_SENTENCES,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._settings = context.settings
        self._catalog = catalog
        self.prompts = tuple(prompts)
        self.clips: dict[int, Path] = {}  # prompt index -> recorded clip
        self.imported: list[Path] = []  # clips from "Import folder…", used instead of the recordings
        self.prompt_index = 0
        self._job_id: int | None = None
        self._job_speaker = ""
        self._job_description = ""  # the status line of the running job, without "waits for …"
        self.last_preview: Mapping[str, Any] | None = None

        self._build_widgets()
        self._build_layout()
        self._connect()
        self._show_prompt()

    # ---------------------------------------------------------------------------------- building

    def _build_widgets(self) -> None:
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("a short name, e.g. anna")
        self.prompt_counter = QLabel()
        self.prompt_label = QLabel()
        self.prompt_label.setWordWrap(True)
        font = QFont(self.prompt_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        self.prompt_label.setFont(font)
        self.prompt_label.setMinimumHeight(60)
        self.recorder_widget = RecorderWidget(self._settings)
        self.recorder_widget.live_view.setMaximumHeight(100)
        self.previous_button = QPushButton("Previous")
        self.next_button = QPushButton("Next")
        self.import_button = QPushButton("Import folder…")
        self.import_button.setToolTip("Use every audio file of a folder instead of recording")
        self.clip_list = QListWidget()
        self.clip_list.setMaximumHeight(160)
        self.take_player = PlayerWidget(self._settings)
        self.steps_spin = QSpinBox(minimum=1, maximum=100_000, singleStep=50)
        self.steps_spin.setValue(self._settings.get_int(KEY_STEPS, DEFAULT_STEPS))
        self.preview_spin = QSpinBox(minimum=1, maximum=10_000, singleStep=10)
        self.preview_spin.setValue(DEFAULT_PREVIEW_EVERY)
        self.preview_spin.setToolTip("Every this many steps, convert a stored clip to the new voice and save a "
                                     "checkpoint (Resume continues from the newest one)")
        self.finetune_button = QPushButton("Fine-tune")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the last fine-tuning of this speaker from its newest checkpoint")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.eta_label = QLabel()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.loss_plot = LossPlot(("loss/",), title="Fine-tuning losses")
        self.preview_view = SpectrogramView(title="Preview: a clip converted to the new voice", show_controls=False)
        self.preview_player = PlayerWidget(self._settings)
        self.preview_label = QLabel("Previews appear here while fine-tuning.")

    def _build_layout(self) -> None:
        record_box = QGroupBox("1. Record the prompts")
        record_layout = QVBoxLayout(record_box)
        name_row = QFormLayout()
        name_row.addRow("Speaker name", self.name_edit)
        record_layout.addLayout(name_row)
        record_layout.addWidget(self.prompt_counter)
        record_layout.addWidget(self.prompt_label)
        record_layout.addWidget(self.recorder_widget)
        nav = QHBoxLayout()
        nav.addWidget(self.previous_button)
        nav.addWidget(self.next_button)
        nav.addStretch(1)
        nav.addWidget(self.import_button)
        record_layout.addLayout(nav)
        record_layout.addWidget(self.clip_list)
        record_layout.addWidget(self.take_player)

        train_box = QGroupBox("2. Fine-tune")
        train_form = QFormLayout(train_box)
        train_form.addRow("Steps", self.steps_spin)
        train_form.addRow("Preview every", self.preview_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.finetune_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.cancel_button)
        train_form.addRow(buttons)
        train_form.addRow(self.eta_label)
        train_form.addRow(self.status_label)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(record_box, 1)
        left_layout.addWidget(train_box)

        preview = QWidget()
        preview_layout = QVBoxLayout(preview)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addWidget(self.preview_label)
        preview_layout.addWidget(self.preview_view, 1)
        preview_layout.addWidget(self.preview_player)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.loss_plot)
        right.addWidget(preview)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def _connect(self) -> None:
        self.previous_button.clicked.connect(lambda: self.show_prompt(self.prompt_index - 1))
        self.next_button.clicked.connect(lambda: self.show_prompt(self.prompt_index + 1))
        self.import_button.clicked.connect(self._import_with_dialog)
        self.clip_list.currentRowChanged.connect(self._on_clip_selected)
        self.recorder_widget.recording_started.connect(lambda _path: self.take_player.stop())
        self.recorder_widget.recording_finished.connect(self._on_recording_finished)
        self.finetune_button.clicked.connect(lambda: self.start_finetune())
        self.resume_button.clicked.connect(lambda: self.start_finetune(resume=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.name_edit.textChanged.connect(lambda _text: self._update_buttons())
        self.preview_player.position_changed.connect(self.preview_view.set_cursor)
        worker = self.context.worker
        worker.job_started.connect(self._on_started)
        worker.job_progress.connect(self._on_progress)
        worker.job_metrics.connect(self._on_metrics)
        worker.job_sample.connect(self._on_sample)
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)

    # ------------------------------------------------------------------------------- public API

    @property
    def speaker_name(self) -> str:
        return self.name_edit.text().strip()

    @property
    def busy(self) -> bool:
        return self._job_id is not None

    def training_files(self) -> list[Path]:
        """Return the clips fine-tuning uses: the imported folder, else the recorded prompts in order."""
        if self.imported:
            return list(self.imported)
        return [self.clips[index] for index in sorted(self.clips)]

    def show_prompt(self, index: int) -> None:
        self.prompt_index = max(0, min(index, len(self.prompts) - 1))
        self._show_prompt()

    def add_clip(self, index: int, recorded: Path) -> Path:
        """Move a recording into the speaker's clip folder as the take of prompt ``index``.

        Raises:
            ValueError: no valid speaker name is set.
            OSError: the move failed.
        """
        problem = self.name_problem()
        if problem:
            raise ValueError(problem)
        folder = speaker_clip_dir(self.speaker_name)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"prompt_{index + 1:02d}.wav"
        shutil.move(str(recorded), target)
        self.clips[index] = target
        self.imported = []
        self._fill_clip_list()
        return target

    def import_folder(self, folder: Path) -> list[Path]:
        """Use every audio file in ``folder`` as the new speaker's clips.

        Raises:
            ValueError: the folder contains no audio files.
        """
        files = audio_files_in(Path(folder))
        if not files:
            raise ValueError(f"{folder} contains no audio files (.wav, .flac, .ogg or .mp3); pick the folder "
                             "that contains the new speaker's recordings.")
        self.use_clips(files)
        self.status_label.setText(f"Imported {len(files)} clips from {folder}.")
        return files

    def use_clips(self, files: list[Path]) -> None:
        """Fine-tune on ``files`` instead of the recorded prompts."""
        self.imported = [Path(path) for path in files]
        self._fill_clip_list()

    def name_problem(self) -> str:
        """Return why the speaker name cannot be used, or "" when it can."""
        name = self.speaker_name
        if not name:
            return "Type a name for the new speaker first."
        if not SPEAKER_NAME_PATTERN.match(name):
            return (f"The speaker name {name!r} is invalid: use up to 32 letters, digits, '-' or '_', "
                    "starting with a letter or digit.")
        if name in self._catalog.current_speakers:
            return f"The model already has a speaker named {name!r}; pick another name."
        return ""

    def start_finetune(self, resume: bool = False) -> int | None:
        """Submit fine-tuning of the current model on the clips; return the job id or None with a message."""
        problem = self.name_problem()
        files = self.training_files()
        model_path = self._catalog.current_path
        if not problem and not files:
            problem = "Record some prompts or import a folder of clips first."
        if not problem and model_path is None:
            problem = "No voice model is selected to fine-tune; pick one on the Models page."
        if problem:
            self.status_label.setText(problem)
            return None

        output_dir = finetune_dir(self.speaker_name)
        resume_from = None
        if resume:
            try:
                resume_from = newest_checkpoint(output_dir)
            except CheckpointError as error:
                self.status_label.setText(f"Nothing to resume: {error}")
                return None
        elif output_dir.exists():
            shutil.rmtree(output_dir)  # a fresh start must not mix its checkpoints with an older run of that name

        every = self.preview_spin.value()
        job = FineTuneJob(model_path, self.speaker_name, files, output_dir, self.steps_spin.value(),
                          sample_every=every, checkpoint_every=every, resume_from=resume_from)
        self._settings.set(KEY_STEPS, self.steps_spin.value())
        if not resume:
            self.loss_plot.clear()
        self._job_speaker = self.speaker_name
        self._job_id = self.context.worker.submit(job, shows_input_errors=True)

        few = (f" Only {len(files)} clips: about {RECOMMENDED_CLIPS} give a closer voice."
               if len(files) < RECOMMENDED_CLIPS else "")
        running = self.context.worker.current_job_name()
        waiting = (f" It waits for {job_title(running)} to finish." if running is not None
                   and self.context.worker.current_job_id() != self._job_id else "")
        action = "Resuming" if resume else "Fine-tuning"
        self._job_description = f"{action} {model_path.stem} on {len(files)} clips of {self.speaker_name}.{few}"
        self.status_label.setText(self._job_description + waiting)
        self._update_buttons()
        return self._job_id

    def cancel(self) -> None:
        if self._job_id is not None:
            self.context.worker.cancel(self._job_id)

    def shutdown(self) -> None:
        self.recorder_widget.shutdown()
        self.take_player.shutdown()
        self.preview_player.shutdown()

    # ----------------------------------------------------------------------------------- internals

    def _show_prompt(self) -> None:
        total = len(self.prompts)
        self.prompt_counter.setText(f"Sentence {self.prompt_index + 1} of {total} "
                                    f"({len(self.clips)} recorded). Press Record, read it aloud, press Stop.")
        self.prompt_label.setText(f"“{self.prompts[self.prompt_index]}”")
        self.previous_button.setEnabled(self.prompt_index > 0)
        self.next_button.setEnabled(self.prompt_index < total - 1)
        self._fill_clip_list()

    def _fill_clip_list(self) -> None:
        self.clip_list.blockSignals(True)
        self.clip_list.clear()
        if self.imported:
            self.prompt_counter.setText(f"Using {len(self.imported)} imported clips from {self.imported[0].parent}. "
                                        "Record a prompt to use recordings instead.")
            for path in self.imported:
                self.clip_list.addItem(QListWidgetItem(f"✓ {path.name}"))
        else:
            for index, prompt in enumerate(self.prompts):
                mark = "✓" if index in self.clips else "·"
                item = QListWidgetItem(f"{mark} {index + 1:2d}. {prompt}")
                self.clip_list.addItem(item)
            self.clip_list.setCurrentRow(self.prompt_index)
        self.clip_list.blockSignals(False)
        self._update_buttons()

    def _update_buttons(self) -> None:
        idle = self._job_id is None
        has_clips = bool(self.training_files())
        named = not self.name_problem()
        self.finetune_button.setEnabled(idle and has_clips and named)
        has_run = named and finetune_dir(self.speaker_name).is_dir() and _has_checkpoint(finetune_dir(self.speaker_name))
        self.resume_button.setEnabled(idle and has_clips and has_run)
        self.cancel_button.setEnabled(not idle)

    def _on_clip_selected(self, row: int) -> None:
        if self.imported:
            path = self.imported[row] if 0 <= row < len(self.imported) else None
        else:
            if 0 <= row < len(self.prompts) and row != self.prompt_index:
                self.prompt_index = row
                self._show_prompt()
            path = self.clips.get(row)
        if path is not None:
            try:
                audio = load_audio(path)
            except AudioError as error:
                self.status_label.setText(str(error))
                return
            self.take_player.set_clip(audio.samples, audio.sample_rate_hz)
        else:
            self.take_player.set_clip(None)

    def _on_recording_finished(self, result: RecordingResult) -> None:
        if result.duration_s <= 0:
            return
        try:
            saved = self.add_clip(self.prompt_index, result.path)
        except (ValueError, OSError) as error:
            self.status_label.setText(f"{error} The take stays in {result.path}.")
            return
        self.status_label.setText(f"Saved the take of sentence {self.prompt_index + 1} to {saved}.")
        if self.prompt_index < len(self.prompts) - 1:
            self.show_prompt(self.prompt_index + 1)
        else:
            self._show_prompt()

    @Slot(int, str, object)
    def _on_started(self, job_id: int, _name: str, _total: object) -> None:
        if job_id == self._job_id:
            self.eta_label.setText(f"Analysing {len(self.training_files())} clips…")
            self.status_label.setText(self._job_description)

    @Slot(int, int, object, object, object)
    def _on_progress(self, job_id: int, step: int, total: int | None, eta_s: float | None,
                     steps_per_s: float | None) -> None:
        if job_id != self._job_id:
            return
        eta = f", {format_duration(eta_s)} left" if eta_s is not None else ""
        rate = f" ({steps_per_s:.1f} steps/s)" if steps_per_s else ""
        self.eta_label.setText(f"Step {step} of {total}{eta}{rate}")

    @Slot(int, int, object)
    def _on_metrics(self, job_id: int, step: int, values: Mapping[str, float]) -> None:
        if job_id == self._job_id:
            self.loss_plot.append(step, values)

    @Slot(int, int, str, object)
    def _on_sample(self, job_id: int, step: int, kind: str, data: Mapping[str, Any]) -> None:
        if job_id != self._job_id or kind != PREVIEW_KIND:
            return
        self.last_preview = data
        log_mel = data.get("converted_log_mel")
        if log_mel is not None:
            self.preview_view.set_spectrogram(log_mel_to_display_db(log_mel), mel_frequencies(),
                                              float(data.get("hop_s", MEL_HOP_S)))
        audio = data.get("audio")
        if audio is not None:
            samples = np.asarray(audio, dtype=np.float32).reshape(1, -1)  # (1, samples)
            if not self.preview_player.is_playing:
                self.preview_player.set_clip(samples, int(data.get("sample_rate_hz", 16000)))
        source = data.get("source", "a stored clip")
        self.preview_label.setText(f"Preview at step {step}: {source} converted to {self._job_speaker}.")

    @Slot(int, object, bool)
    def _on_finished(self, job_id: int, summary: Mapping[str, Any], cancelled: bool) -> None:
        if job_id != self._job_id:
            return
        self._job_id = None
        self.loss_plot.flush()
        if cancelled:
            self.status_label.setText("Fine-tuning cancelled; press Resume to continue from the last checkpoint.")
            self._update_buttons()
            return
        self._install(Path(summary["model"]))
        if summary.get("warning"):
            self.status_label.setText(f"{self.status_label.text()} {summary['warning']}")
        self._update_buttons()

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, message: str, _detail: str) -> None:
        if job_id != self._job_id:
            return
        self._job_id = None
        self.status_label.setText(message)
        self._update_buttons()

    def _install(self, model_path: Path) -> None:
        """Make the fine-tuned model an installed model (copied into the user models folder) and select it."""
        self._catalog.reload(self._catalog.current_path)
        installed = self._catalog.find(model_path)
        try:
            if installed is None:
                model_path = copy_model(model_path, user_voice_models_dir(), rename_if_taken=True)
                self._catalog.reload(model_path)
            self._catalog.select(model_path)
        except (ValueError, OSError) as error:
            self.status_label.setText(f"Fine-tuning finished, but installing {model_path} failed: {error}")
            return
        self.status_label.setText(f"Added {self._job_speaker}: the model {model_path.stem} is now used for conversion.")
        self.eta_label.setText("")
        self.speaker_added.emit(model_path)

    def _import_with_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the new speaker's recordings", str(Path.home()))
        if not folder:
            return
        try:
            self.import_folder(Path(folder))
        except ValueError as error:
            self.status_label.setText(str(error))


def _has_checkpoint(folder: Path) -> bool:
    try:
        newest_checkpoint(folder)
    except (CheckpointError, FileNotFoundError, OSError):
        return False
    return True
