"""The model catalogue shared by the voice pages, and the Models page that lists, imports and exports models."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from desktop_app.settings import Settings
from engine.core.checkpoints import atomic_write_bytes
from engine.voice import default_voice_model_path, installed_voice_models, user_voice_models_dir

logger = logging.getLogger(__name__)

KEY_CURRENT_MODEL = "voice/model_path"
METHOD_TITLES = {"multi_target": "Multi-target", "cyclegan_vc": "CycleGAN-VC"}
COLUMNS = ("Name", "Method", "Speakers", "Training data", "Metrics", "Date", "File")
SPEAKERS_SHOWN = 4  # longer speaker lists show their count and the first few; the tooltip lists all


def info_value(info: Any, name: str, default: Any = None) -> Any:
    """Read a VoiceModelInfo field, or a key when the catalogue hands out dicts."""
    if isinstance(info, dict):
        return info.get(name, default)
    return getattr(info, name, default)


def format_speakers(speakers: list[str]) -> str:
    """Return "SF1, SM1" for a few speakers, or the count and the first ones for many (the tooltip has all)."""
    if len(speakers) <= SPEAKERS_SHOWN:
        return ", ".join(speakers)
    return f"{len(speakers)}: {', '.join(speakers[:SPEAKERS_SHOWN])}, …"


def flat_metrics(metrics: Any, prefix: str = "") -> dict[str, float]:
    """Flatten nested metric dicts into "fsdd/stage2/success"-style keys with numeric values.

    Per-pair lists and missing (None) values are left out, and "mean" levels are dropped from the
    keys, so the table shows the summary figures.
    """
    flat: dict[str, float] = {}
    if not isinstance(metrics, dict):
        return flat
    for key, value in metrics.items():
        if key == "mean":
            name = prefix
        elif prefix:
            name = f"{prefix}/{key}"
        else:
            name = str(key)
        if isinstance(value, dict):
            flat.update(flat_metrics(value, name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def format_metrics(metrics: Any, separator: str = ", ") -> str:
    return separator.join(f"{key} {value:.4g}" for key, value in flat_metrics(metrics).items())


class ModelCatalog(QObject):
    """The installed voice models and the one chosen for conversion (remembered in the settings)."""

    changed = Signal()  # the list or the current model changed

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.models: list[Any] = []
        self.current: Any | None = None
        self.error = ""
        self.reload()

    def reload(self, select: Path | None = None) -> None:
        """Read the model list again and select ``select``, else the remembered or the default model."""
        try:
            self.models = list(installed_voice_models())
            self.error = ""
        except Exception as error:  # noqa: BLE001 - a broken model file must not stop the tab from opening
            logger.exception("Listing voice models failed")
            self.models = []
            self.error = f"Listing the voice models failed: {error}"
        requested = select or Path(self._settings.get_str(KEY_CURRENT_MODEL, "") or str(default_voice_model_path()))
        self.current = self.find(requested) or self.find(default_voice_model_path()) or (
            self.models[0] if self.models else None)
        self.changed.emit()

    def find(self, path: Path | str) -> Any | None:
        try:
            resolved = Path(path).resolve()
        except OSError:
            return None
        for info in self.models:
            if Path(info_value(info, "path")).resolve() == resolved:
                return info
        return None

    def models_with_method(self, method: str) -> list[Any]:
        return [info for info in self.models if info_value(info, "method") == method]

    def select(self, path: Path | str) -> None:
        info = self.find(path)
        if info is None:
            raise ValueError(f"Voice model {path} is not installed; import it on the Models page first.")
        self.current = info
        self._settings.set(KEY_CURRENT_MODEL, str(Path(info_value(info, "path"))))
        self.changed.emit()

    @property
    def current_path(self) -> Path | None:
        return None if self.current is None else Path(info_value(self.current, "path"))

    @property
    def current_speakers(self) -> list[str]:
        return [] if self.current is None else list(info_value(self.current, "speakers", []) or [])


def copy_model(source: Path, folder: Path, *, rename_if_taken: bool = False) -> Path:
    """Copy a model's .safetensors and its .json into ``folder``; return the new .safetensors path.

    With ``rename_if_taken``, a name already used in ``folder`` gets a suffix ("-2", "-3", ...)
    instead of raising.

    Raises:
        ValueError: the file is not a .safetensors file, its .json is missing or unreadable, or a
            model of that name already exists in ``folder``.
        OSError: a copy failed.
    """
    source = Path(source)
    if source.suffix != ".safetensors":
        raise ValueError(f"{source} is not a .safetensors file; pick the model's .safetensors file "
                         "(its .json must lie beside it).")
    meta = source.with_suffix(".json")
    if not meta.is_file():
        raise ValueError(f"{meta} is missing; a voice model needs its JSON beside the .safetensors file.")
    try:
        json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{meta} is not readable JSON ({error}); export the model again.") from error
    target = folder / source.name
    suffix = 1
    while rename_if_taken and target.exists() and target.resolve() != source.resolve():
        suffix += 1
        target = folder / f"{source.stem}-{suffix}{source.suffix}"
    if target.exists() and target.resolve() != source.resolve():
        raise ValueError(f"A model named {source.stem} already exists in {folder}; rename the file first.")
    folder.mkdir(parents=True, exist_ok=True)
    if target.resolve() != source.resolve():
        atomic_write_bytes(target, source.read_bytes())
        atomic_write_bytes(target.with_suffix(".json"), meta.read_bytes())
    return target


class ModelsPage(QWidget):
    """Lists every installed voice model with its data, metrics and date; imports, exports and selects."""

    def __init__(self, catalog: ModelCatalog, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self._settings = settings
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in (COLUMNS.index("Training data"), COLUMNS.index("Metrics")):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.use_button = QPushButton("Use for conversion")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Copy a model (.safetensors with its .json) into your models folder")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Copy the selected model (.safetensors and .json) into a folder")
        self.refresh_button = QPushButton("Refresh")
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)

        buttons = QHBoxLayout()
        for button in (self.use_button, self.import_button, self.export_button, self.refresh_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)

        self.use_button.clicked.connect(self.use_selected)
        self.import_button.clicked.connect(self._import_with_dialog)
        self.export_button.clicked.connect(self._export_with_dialog)
        self.refresh_button.clicked.connect(lambda: self._catalog.reload(self._catalog.current_path))
        catalog.changed.connect(self._fill)
        self._fill()

    def selected_path(self) -> Path | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return Path(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))

    def use_selected(self) -> None:
        path = self.selected_path()
        if path is not None:
            self._catalog.select(path)
            self.status_label.setText(f"Converting with {path.stem}.")

    def import_model(self, source: Path) -> Path:
        """Copy a model into the user models folder and list it.

        Raises:
            ValueError, OSError: as ``copy_model``.
        """
        target = copy_model(Path(source), user_voice_models_dir())
        self._catalog.reload(self._catalog.current_path)
        if self._catalog.find(target) is None:
            raise ValueError(f"{source} was copied to {target}, but the engine does not list it as a voice model; "
                             "check that it is a GAN Studio voice model.")
        self.status_label.setText(f"Imported {target.stem} into {target.parent}.")
        return target

    def export_model(self, source: Path, folder: Path) -> Path:
        """Copy a model's two files into ``folder``.

        Raises:
            ValueError, OSError: as ``copy_model``.
        """
        target = copy_model(Path(source), Path(folder))
        self.status_label.setText(f"Exported {source.stem} to {target}.")
        return target

    def _fill(self) -> None:
        models = self._catalog.models
        self.table.setRowCount(len(models))
        current = self._catalog.current_path
        for row, info in enumerate(models):
            path = Path(info_value(info, "path"))
            speakers = list(info_value(info, "speakers", []) or [])
            values = (
                str(info_value(info, "name", path.stem)),
                METHOD_TITLES.get(info_value(info, "method"), str(info_value(info, "method", ""))),
                format_speakers(speakers),
                str(info_value(info, "training_data", "") or ""),
                format_metrics(info_value(info, "metrics")),
                str(info_value(info, "date", "") or ""),
                path.name,
            )
            tooltips = (*values[:2], ", ".join(speakers), values[3], format_metrics(info_value(info, "metrics"), "\n"),
                        values[5], str(path))
            for column, (value, tooltip) in enumerate(zip(values, tooltips)):
                item = QTableWidgetItem(value)
                item.setToolTip(tooltip)
                if column == 0:
                    item.setData(Qt.ItemDataRole.UserRole, str(path))
                    if current is not None and path.resolve() == current.resolve():
                        item.setText(f"{value} (in use)")
                self.table.setItem(row, column, item)
        if self._catalog.error:
            self.status_label.setText(self._catalog.error)
        elif not models:
            self.status_label.setText("No voice models are installed; import one or fine-tune a speaker.")

    def _import_with_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import voice model", str(Path.home()),
                                              "Voice models (*.safetensors)")
        if not path:
            return
        try:
            self.import_model(Path(path))
        except (ValueError, OSError) as error:
            self.status_label.setText(str(error))

    def _export_with_dialog(self) -> None:
        source = self.selected_path()
        if source is None:
            self.status_label.setText("Select a model in the table first.")
            return
        folder = QFileDialog.getExistingDirectory(self, "Export voice model to", str(Path.home()))
        if not folder:
            return
        try:
            self.export_model(source, Path(folder))
        except (ValueError, OSError) as error:
            self.status_label.setText(str(error))
