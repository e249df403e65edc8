"""Live training curves: one pyqtgraph curve per metric key, redrawn by a timer rather than per event."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

logger = logging.getLogger(__name__)

# The Okabe-Ito qualitative palette, chosen because colour-blind readers can tell its colours apart.
CURVE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
REDRAW_INTERVAL_MS = 50  # at most 20 redraws per second, however fast metrics arrive


class _Series:
    """A growable pair of float64 arrays; capacity doubles so appends are amortised O(1)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.steps = np.empty(capacity, dtype=np.float64)
        self.values = np.empty(capacity, dtype=np.float64)
        self.length = 0

    def append(self, step: float, value: float) -> None:
        if self.length == len(self.steps):
            self.steps = np.concatenate([self.steps, np.empty_like(self.steps)])
            self.values = np.concatenate([self.values, np.empty_like(self.values)])
        self.steps[self.length] = step
        self.values[self.length] = value
        self.length += 1


class LossPlot(QWidget):
    """Plots metric values against the training step.

    ``append`` only stores values and arms a single-shot timer; the timer pushes the new data into
    existing curves. Curves use peak downsampling and clip-to-view, so long runs stay cheap to draw.

    Args:
        key_prefixes: only keys that start with one of these are plotted (e.g. ``("loss/",)``), so
            timing values do not squash the loss axis; an empty tuple plots every key.
        title: plot title shown above the axes.
    """

    def __init__(self, key_prefixes: Sequence[str] = ("loss/",), title: str = "Losses",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._key_prefixes = tuple(key_prefixes)
        self._series: dict[str, _Series] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._dirty: set[str] = set()
        self.redraw_count = 0

        self.plot_widget = pg.PlotWidget(title=title)
        self.plot_widget.setBackground("w")
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.showGrid(x=True, y=True, alpha=0.25)
        self.plot_item.setLabel("bottom", "step")
        self.plot_item.setDownsampling(auto=True, mode="peak")
        self.plot_item.setClipToView(True)
        # A light background keeps the legend readable where it overlaps the curves.
        self.legend = self.plot_item.addLegend(offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 200))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._redraw)

    def keys(self) -> list[str]:
        return list(self._series)

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Return copies of (steps, values) stored for ``key``."""
        data = self._series[key]
        return data.steps[:data.length].copy(), data.values[:data.length].copy()

    @Slot(int, object)
    def append(self, step: int, values: Mapping[str, float]) -> None:
        """Store one value per plotted key at ``step``; the curves update on the next timer tick."""
        for key, value in values.items():
            if self._key_prefixes and not key.startswith(self._key_prefixes):
                continue
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series()
            series.append(float(step), float(value))
            self._dirty.add(key)
        if self._dirty and not self._timer.isActive():
            self._timer.start()

    def clear(self) -> None:
        """Remove every curve and its data (for a new run)."""
        self._timer.stop()
        for curve in self._curves.values():
            self.plot_item.removeItem(curve)
        self.legend.clear()
        self._curves.clear()
        self._series.clear()
        self._dirty.clear()

    def flush(self) -> None:
        """Draw pending data now (tests and screenshots)."""
        self._timer.stop()
        self._redraw()

    @Slot()
    def _redraw(self) -> None:
        for key in sorted(self._dirty):
            series = self._series[key]
            curve = self._curves.get(key)
            if curve is None:
                color = CURVE_COLORS[len(self._curves) % len(CURVE_COLORS)]
                curve = self.plot_item.plot(name=key, pen=pg.mkPen(color, width=1.5))
                self._curves[key] = curve
            curve.setData(series.steps[:series.length], series.values[:series.length])
        self._dirty.clear()
        self.redraw_count += 1
