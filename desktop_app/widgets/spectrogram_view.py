"""A spectrogram display: static for a clip, scrolling for live input, with read-out and overlays."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
COLORMAPS = ("inferno", "viridis", "magma", "gray")
DEFAULT_RANGE_DB = 80.0
LIVE_WINDOW_S = 10.0  # seconds shown by the scrolling view
# Axes of an empty view: 0-8 kHz covers speech at the usual 16 kHz sample rate.
EMPTY_MAX_HZ = 8000.0
EMPTY_BINS = 128
EMPTY_DURATION_S = 5.0
# Hz values the frequency axis may label; the axis keeps those that do not crowd each other.
NICE_TICKS_HZ = (0, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000,
                 12000, 16000, 20000, 24000)
MIN_TICK_SPACING_PX = 22


def lookup_table(name: str) -> np.ndarray:
    """Return a (256, 3) uint8 colour table for one of COLORMAPS."""
    if name not in COLORMAPS:
        raise ValueError(f"Unknown colormap {name!r}; expected one of {', '.join(COLORMAPS)}.")
    if name == "gray":
        ramp = np.linspace(0, 255, 256).astype(np.uint8)
        return np.stack([ramp, ramp, ramp], axis=1)  # (256, 3)
    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=False)


def format_hz(frequency_hz: float) -> str:
    if frequency_hz >= 1000:
        return f"{frequency_hz / 1000:.3g} kHz"
    return f"{frequency_hz:.0f} Hz"


class FrequencyAxis(pg.AxisItem):
    """A left axis whose view unit is the bin index, labelled in Hz, so mel and linear bins both fit."""

    def __init__(self) -> None:
        super().__init__("left")
        self._frequencies_hz = np.array([0.0, 1.0])
        # The view unit is a bin index, so a scale prefix such as "(x0.001)" would be meaningless.
        self.enableAutoSIPrefix(False)

    def set_frequencies(self, frequencies_hz: np.ndarray) -> None:
        self._frequencies_hz = np.asarray(frequencies_hz, dtype=np.float64)
        self.picture = None  # pyqtgraph caches the drawn axis in ``picture``
        self.update()

    def bin_to_hz(self, bin_position: np.ndarray | float) -> np.ndarray | float:
        bins = np.arange(len(self._frequencies_hz))
        return np.interp(bin_position, bins, self._frequencies_hz)

    def hz_to_bin(self, frequency_hz: np.ndarray | float) -> np.ndarray | float:
        bins = np.arange(len(self._frequencies_hz))
        return np.interp(frequency_hz, self._frequencies_hz, bins)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802 - pyqtgraph API
        if maxVal <= minVal or size <= 0:
            return []
        low_hz, high_hz = self.bin_to_hz(max(minVal, 0.0)), self.bin_to_hz(maxVal)
        pixels_per_bin = size / (maxVal - minVal)
        chosen: list[float] = []
        for tick_hz in NICE_TICKS_HZ:
            if not low_hz <= tick_hz <= high_hz:
                continue
            position = float(self.hz_to_bin(tick_hz))
            if chosen and (position - chosen[-1]) * pixels_per_bin < MIN_TICK_SPACING_PX:
                continue
            chosen.append(position)
        return [(1.0, chosen)]

    def tickStrings(self, values: list, scale: float, spacing: float) -> list[str]:  # noqa: N802 - pyqtgraph API
        return [format_hz(float(self.bin_to_hz(value))).replace(" Hz", "").replace(" kHz", "k") for value in values]


@dataclass(frozen=True)
class Readout:
    """The time, frequency and level under the mouse pointer."""

    time_s: float
    frequency_hz: float
    level_db: float

    def text(self) -> str:
        return f"{self.time_s:.3f} s   {format_hz(self.frequency_hz)}   {self.level_db:.1f} dB"


class SpectrogramView(QWidget):
    """Shows a (frames, bins) dB spectrogram; ``file_dropped`` carries the path of a dropped audio file.

    Static mode (``set_spectrogram``) shows a whole clip; scrolling mode (``start_live`` then
    ``append_columns``) shows the last LIVE_WINDOW_S seconds of a recording. The image is row-major
    (bins, frames) float32 with fixed levels and a 256-entry colour table.
    """

    file_dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, show_controls: bool = True, title: str = "") -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._image_data = np.zeros((1, 1), dtype=np.float32)  # (bins, frames)
        self._frequencies_hz = np.array([0.0, 1.0])
        self._hop_s = 0.01
        self._x0_s = 0.0  # time of the first column's centre
        self._live = False
        self._live_columns = 0  # columns appended since start_live

        self._build_plot()
        if title:
            self._plot.setTitle(title, size="9pt")
        self._build_controls(show_controls)
        self._apply_colormap()
        self._show_empty_axes()

    # ------------------------------------------------------------------------------------- layout

    def _build_plot(self) -> None:
        self._axis = FrequencyAxis()
        self._plot = pg.PlotWidget(axisItems={"left": self._axis})
        self._plot.setAcceptDrops(False)  # drops go to this widget, not the graphics scene
        self._plot.setBackground("k")
        self._plot.setLabel("bottom", "time", units="s")
        self._plot.setLabel("left", "frequency (Hz)")
        self._plot.setMenuEnabled(False)
        self._view_box = self._plot.getPlotItem().getViewBox()

        self._image = pg.ImageItem(axisOrder="row-major")
        self._image.setAutoDownsample(True)
        self._plot.addItem(self._image)
        self._f0_curve = pg.PlotDataItem(pen=pg.mkPen((80, 255, 255), width=2), connect="finite")
        self._f0_curve.setVisible(False)
        self._plot.addItem(self._f0_curve)
        self._cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((255, 255, 255), width=1.5))
        self._cursor.setVisible(False)
        self._plot.addItem(self._cursor)
        self._plot.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def _build_controls(self, show_controls: bool) -> None:
        self._colormap_box = QComboBox()
        self._colormap_box.addItems(COLORMAPS)
        self._colormap_box.currentTextChanged.connect(self._apply_colormap)
        self._max_db_box = QDoubleSpinBox(decimals=0, minimum=-200.0, maximum=200.0, singleStep=5.0, value=0.0,
                                          suffix=" dB")
        self._max_db_box.setToolTip("Level shown as the brightest colour")
        self._range_db_box = QDoubleSpinBox(decimals=0, minimum=10.0, maximum=200.0, singleStep=10.0,
                                            value=DEFAULT_RANGE_DB, suffix=" dB")
        self._range_db_box.setToolTip("Levels this far below the maximum are drawn as the darkest colour")
        self._max_db_box.valueChanged.connect(self._apply_levels)
        self._range_db_box.valueChanged.connect(self._apply_levels)
        fit_button = QPushButton("Fit")
        fit_button.setToolTip("Show the whole spectrogram (undo zoom and pan)")
        fit_button.clicked.connect(self.fit)
        export_button = QPushButton("Export PNG…")
        export_button.clicked.connect(self._export_with_dialog)

        controls = QHBoxLayout()
        for label, widget in (("Colours", self._colormap_box), ("Max", self._max_db_box),
                              ("Range", self._range_db_box)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(fit_button)
        controls.addWidget(export_button)
        self._controls = QWidget()
        self._controls.setLayout(controls)
        controls.setContentsMargins(0, 0, 0, 0)
        self._controls.setVisible(show_controls)

        self._readout_label = QLabel(" ")
        self._message_label = QLabel()
        self._message_label.setWordWrap(True)
        self._message_label.setStyleSheet("color: #d33; font-weight: bold;")
        self._message_label.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._controls)
        layout.addWidget(self._message_label)
        layout.addWidget(self._plot, 1)
        layout.addWidget(self._readout_label)

    # ------------------------------------------------------------------------------- public API

    @property
    def plot_widget(self) -> pg.PlotWidget:
        return self._plot

    @property
    def image_item(self) -> pg.ImageItem:
        return self._image

    @property
    def is_live(self) -> bool:
        return self._live

    @property
    def readout_text(self) -> str:
        return self._readout_label.text()

    @property
    def message_text(self) -> str:
        return self._message_label.text() if self._message_label.isVisible() else ""

    def set_colormap(self, name: str) -> None:
        if name not in COLORMAPS:
            raise ValueError(f"Unknown colormap {name!r}; expected one of {', '.join(COLORMAPS)}.")
        self._colormap_box.setCurrentText(name)

    def set_levels(self, max_db: float, range_db: float) -> None:
        """Draw ``max_db`` as the brightest colour and ``max_db - range_db`` as the darkest."""
        self._max_db_box.setValue(max_db)
        self._range_db_box.setValue(range_db)
        self._apply_levels()

    def levels(self) -> tuple[float, float]:
        maximum = self._max_db_box.value()
        return maximum - self._range_db_box.value(), maximum

    def set_spectrogram(self, spectrogram_db: np.ndarray, frequencies_hz: np.ndarray, hop_s: float) -> None:
        """Show a whole clip (static mode).

        Args:
            spectrogram_db: (frames, bins) levels in dB.
            frequencies_hz: (bins,) centre frequency of each bin, increasing (mel or linear).
            hop_s: seconds between frames.
        """
        spectrogram_db = np.asarray(spectrogram_db, dtype=np.float32)
        if spectrogram_db.ndim != 2 or spectrogram_db.shape[1] != len(frequencies_hz):
            raise ValueError(f"Expected a (frames, {len(frequencies_hz)}) spectrogram, got {spectrogram_db.shape}.")
        self._live = False
        self._set_axes(frequencies_hz, hop_s)
        self._x0_s = 0.0
        self._image_data = np.ascontiguousarray(spectrogram_db.T)  # (bins, frames)
        if spectrogram_db.size:
            self._max_db_box.setValue(float(np.ceil(spectrogram_db.max())))
        self._show_image()
        self.clear_message()
        self.fit()

    def start_live(self, frequencies_hz: np.ndarray, hop_s: float, window_s: float = LIVE_WINDOW_S) -> None:
        """Switch to scrolling mode with a preallocated image of ``window_s`` seconds."""
        self._live = True
        self._live_columns = 0
        self._set_axes(frequencies_hz, hop_s)
        columns = max(2, int(round(window_s / hop_s)))
        floor_db, _ = self.levels()
        self._image_data = np.full((len(frequencies_hz), columns), floor_db, dtype=np.float32)  # (bins, frames)
        self._x0_s = -columns * hop_s
        self.set_f0(None)
        self.set_cursor(None)
        self.clear_message()
        self._show_image()
        self.fit()

    def append_columns(self, columns_db: np.ndarray) -> None:
        """Scroll in new columns (new_frames, bins) at the right edge; call ``start_live`` first."""
        if not self._live:
            raise RuntimeError("append_columns needs scrolling mode; call start_live() first.")
        columns_db = np.asarray(columns_db, dtype=np.float32)
        bins, width = self._image_data.shape
        if columns_db.ndim != 2 or columns_db.shape[1] != bins:
            raise ValueError(f"Expected columns shaped (frames, {bins}), got {columns_db.shape}.")
        new = min(len(columns_db), width)
        if new == 0:
            return
        self._image_data[:, :width - new] = self._image_data[:, new:]  # shift left in place
        self._image_data[:, width - new:] = columns_db[-new:].T  # (bins, new)
        self._live_columns += len(columns_db)
        self._x0_s = (self._live_columns - width) * self._hop_s
        self._show_image()
        self._view_box.setXRange(self._x0_s, self._x0_s + width * self._hop_s, padding=0.0)

    def stop_live(self) -> None:
        self._live = False

    def clear(self) -> None:
        self._live = False
        self._image_data = np.zeros((1, 1), dtype=np.float32)
        self._image.clear()
        self.set_f0(None)
        self.set_cursor(None)
        self._show_empty_axes()

    def _show_empty_axes(self) -> None:
        """Label the axes of an empty view with a typical speech range instead of a single bin."""
        self._axis.set_frequencies(np.linspace(0.0, EMPTY_MAX_HZ, EMPTY_BINS))
        self._view_box.setLimits(xMin=None, xMax=None, yMin=None, yMax=None)
        x_range = (-EMPTY_DURATION_S, 0.0) if self._live else (0.0, EMPTY_DURATION_S)
        self._view_box.setRange(xRange=x_range, yRange=(-0.5, EMPTY_BINS - 0.5), padding=0.0)

    def set_f0(self, f0_hz: np.ndarray | None, hop_s: float | None = None, voiced: np.ndarray | None = None) -> None:
        """Overlay an F0 track (frames,) in Hz with ``hop_s`` seconds per frame; unvoiced frames are gaps."""
        if f0_hz is None:
            self._f0_curve.setData([], [])
            return
        f0_hz = np.asarray(f0_hz, dtype=np.float64)
        times_s = np.arange(len(f0_hz)) * (hop_s if hop_s is not None else self._hop_s)
        bins = np.asarray(self._axis.hz_to_bin(f0_hz), dtype=np.float64)
        hidden = ~np.isfinite(f0_hz) | (f0_hz <= 0)
        if voiced is not None:
            hidden |= ~np.asarray(voiced, dtype=bool)
        bins[hidden] = np.nan
        self._f0_curve.setData(times_s, bins)

    def set_f0_visible(self, visible: bool) -> None:
        self._f0_curve.setVisible(visible)

    def f0_visible(self) -> bool:
        return self._f0_curve.isVisible()

    def set_cursor(self, time_s: float | None) -> None:
        """Place the play cursor at ``time_s``, or hide it with None."""
        if time_s is None:
            self._cursor.setVisible(False)
            return
        self._cursor.setPos(time_s)
        self._cursor.setVisible(True)

    def cursor_s(self) -> float | None:
        return float(self._cursor.value()) if self._cursor.isVisible() else None

    def fit(self) -> None:
        """Show the whole image, and keep zoom and pan inside it."""
        bins, frames = self._image_data.shape
        x_range = (self._x0_s - self._hop_s / 2, self._x0_s + (frames - 0.5) * self._hop_s)
        y_range = (-0.5, bins - 0.5)
        if self._live:
            self._view_box.setLimits(xMin=None, xMax=None, yMin=y_range[0], yMax=y_range[1])
        else:
            self._view_box.setLimits(xMin=x_range[0], xMax=x_range[1], yMin=y_range[0], yMax=y_range[1])
        self._view_box.setRange(xRange=x_range, yRange=y_range, padding=0.0)

    def show_message(self, text: str) -> None:
        """Show an error or hint above the plot (for example why a dropped file could not load)."""
        self._message_label.setText(text)
        self._message_label.setVisible(bool(text))

    def clear_message(self) -> None:
        self.show_message("")

    def readout_at(self, time_s: float, bin_position: float) -> Readout | None:
        """Return time, frequency and level at a point in view coordinates, or None outside the image."""
        bins, frames = self._image_data.shape
        column = int(round((time_s - self._x0_s) / self._hop_s))
        row = int(round(bin_position))
        if not (0 <= column < frames and 0 <= row < bins) or self._image.image is None:
            return None
        frequency_hz = float(self._axis.bin_to_hz(bin_position))
        return Readout(time_s=time_s, frequency_hz=frequency_hz, level_db=float(self._image_data[row, column]))

    def readout_at_scene(self, scene_pos: QPointF) -> Readout | None:
        """Return the read-out for a point in scene (widget pixel) coordinates."""
        view_pos = self._view_box.mapSceneToView(scene_pos)
        return self.readout_at(view_pos.x(), view_pos.y())

    def view_to_scene(self, time_s: float, frequency_hz: float) -> QPointF:
        """Return the scene position of a time and frequency (the inverse of the read-out)."""
        return self._view_box.mapViewToScene(QPointF(time_s, float(self._axis.hz_to_bin(frequency_hz))))

    def export_png(self, path: str | Path) -> Path:
        """Save the plot as it is shown (zoom, colours, overlays) to a PNG file.

        Raises:
            OSError: the file could not be written.
        """
        path = Path(path)
        if not self._plot.grab().save(str(path), "PNG"):
            raise OSError(f"Could not write the PNG file {path}; check that the folder exists and is writable.")
        return path

    # ----------------------------------------------------------------------------------- internals

    def _set_axes(self, frequencies_hz: np.ndarray, hop_s: float) -> None:
        if hop_s <= 0:
            raise ValueError(f"hop_s must be positive, got {hop_s}.")
        self._frequencies_hz = np.asarray(frequencies_hz, dtype=np.float64)
        self._hop_s = float(hop_s)
        self._axis.set_frequencies(self._frequencies_hz)

    def _show_image(self) -> None:
        bins, frames = self._image_data.shape
        self._image.setImage(self._image_data, autoLevels=False, levels=self.levels())
        self._image.setRect(QRectF(self._x0_s - self._hop_s / 2, -0.5, frames * self._hop_s, bins))

    def _apply_levels(self) -> None:
        self._image.setLevels(self.levels())

    def _apply_colormap(self) -> None:
        self._image.setLookupTable(lookup_table(self._colormap_box.currentText()))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        readout = self.readout_at_scene(scene_pos)
        self._readout_label.setText(readout.text() if readout else " ")

    def _export_with_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export spectrogram", "spectrogram.png", "PNG images (*.png)")
        if not path:
            return
        try:
            self.export_png(path)
        except OSError as error:
            self.show_message(str(error))

    # ------------------------------------------------------------------------------ drag and drop

    @staticmethod
    def _dropped_audio_path(event: QDragEnterEvent | QDropEvent) -> str | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in AUDIO_SUFFIXES:
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if self._dropped_audio_path(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        path = self._dropped_audio_path(event)
        if path is None:
            suffixes = ", ".join(AUDIO_SUFFIXES)
            self.show_message(f"Only audio files can be dropped here ({suffixes}).")
            event.ignore()
            return
        event.acceptProposedAction()
        self.file_dropped.emit(path)
