"""The playground plot: discriminator heat map, real and generated points, and the generator's arrows."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QWidget

logger = logging.getLogger(__name__)

# A perceptually uniform diverging map (Peter Kovesi's CET-D1A): the neutral middle is where the
# discriminator cannot tell real from fake, so both probabilities and critic scores read naturally.
HEATMAP_COLORMAP = "CET-D1A"
LUT_SIZE = 256
PROBABILITY_LEVELS = (0.0, 1.0)
INITIAL_RANGE = (-2.5, 2.5)  # the engine's plot window for its built-in distributions
# Critic scores are unbounded and shift freely. Their range is refitted only when the scores leave
# it or shrink below a quarter of it, because refitting on every frame would make the colours flicker.
CRITIC_REFIT_SHRINK = 0.25
CRITIC_QUANTILE = 0.98
ARROW_HEAD_FRACTION = 0.3  # arrow head length as a fraction of the arrow
ARROW_HEAD_ANGLE_RAD = 0.45

REAL_BRUSH = (20, 20, 20, 200)
FAKE_BRUSH = (255, 200, 0, 230)
FAKE_PEN = (90, 60, 0, 255)
ARROW_PEN = (0, 120, 60, 230)
# Arrows shorter than this fraction of the plot width carry no visible direction and are not drawn.
MIN_ARROW_FRACTION = 0.01
# An arrow is drawn only when its start is this fraction of the plot width away from every drawn
# start: before training the generated points sit in one clump, and all their arrows form a blob.
MIN_ARROW_SPACING_FRACTION = 0.04
PLOT_TOP_MARGIN_PX = 10  # room for the top tick label, which sits on the plot's top edge
CUSTOM_BRUSH = (220, 0, 120, 255)


def drawn_arrows(starts: np.ndarray, ends: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Select the arrows worth drawing: long enough to show a direction and not crowded by another.

    Args:
        starts, ends: (arrows, 2) points. width: the plot width in data units.

    Returns:
        (kept, 2) starts and ends, in their original order. An arrow is dropped when it is shorter
        than MIN_ARROW_FRACTION of ``width`` or starts within MIN_ARROW_SPACING_FRACTION of
        ``width`` of an earlier kept arrow.
    """
    starts = np.asarray(starts, dtype=np.float32).reshape(-1, 2)
    ends = np.asarray(ends, dtype=np.float32).reshape(-1, 2)
    lengths = np.linalg.norm(ends - starts, axis=1)  # (arrows,)
    spacing = MIN_ARROW_SPACING_FRACTION * width
    kept: list[int] = []
    for index in np.flatnonzero(lengths >= MIN_ARROW_FRACTION * width):
        if not kept or np.linalg.norm(starts[kept] - starts[index], axis=1).min() >= spacing:
            kept.append(int(index))
    return starts[kept], ends[kept]


def arrow_segments(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Return line-segment endpoints that draw an arrow from each start to each end.

    Args:
        starts, ends: (arrows, 2) points.

    Returns:
        (arrows * 6, 2) float32 points: each arrow's shaft and two head strokes, as consecutive
        pairs for a curve drawn with ``connect="pairs"``. Zero-length arrows collapse to a point.
    """
    starts = np.asarray(starts, dtype=np.float32).reshape(-1, 2)
    ends = np.asarray(ends, dtype=np.float32).reshape(-1, 2)
    direction = starts - ends  # points back from the tip, where the head strokes go
    rotations = []
    for angle in (ARROW_HEAD_ANGLE_RAD, -ARROW_HEAD_ANGLE_RAD):
        cos, sin = np.cos(angle), np.sin(angle)
        rotated = np.stack([direction[:, 0] * cos - direction[:, 1] * sin,
                            direction[:, 0] * sin + direction[:, 1] * cos], axis=1)  # (arrows, 2)
        rotations.append(ends + ARROW_HEAD_FRACTION * rotated)
    segments = np.stack([starts, ends, ends, rotations[0], ends, rotations[1]], axis=1)  # (arrows, 6, 2)
    return np.ascontiguousarray(segments.reshape(-1, 2), dtype=np.float32)  # (arrows * 6, 2)


class PlaygroundView(pg.PlotWidget):
    """Draws playground snapshots by updating the data of plot items made once in the constructor.

    ``set_snapshot`` takes the dict of ``PlaygroundTrainer.snapshot``. While ``placing_points`` is
    True, a left click emits ``point_clicked`` with the data coordinates.
    """

    point_clicked = Signal(float, float)
    extent_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.update_count = 0
        self.placing_points = False
        self._extent: tuple[float, float, float, float] | None = None
        self._grid_shape: tuple[int, ...] = ()
        self._label = ""
        self._levels = PROBABILITY_LEVELS

        self.setBackground("w")
        plot = self.getPlotItem()
        plot.setAspectLocked(True)
        plot.setContentsMargins(0, PLOT_TOP_MARGIN_PX, 0, 0)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=False, y=False)
        plot.setLabel("bottom", "x")
        plot.setLabel("left", "y")
        plot.setRange(xRange=INITIAL_RANGE, yRange=INITIAL_RANGE, padding=0)  # until the first snapshot

        colormap = pg.colormap.get(HEATMAP_COLORMAP)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=PROBABILITY_LEVELS, colorMap=colormap, interactive=False,
                                        label="P(real)", colorMapMenu=False, width=14)
        self.colorbar.setImageItem(self.image, insert_in=plot)
        self.image.setLookupTable(colormap.getLookupTable(nPts=LUT_SIZE))  # after the colour bar, which sets its own

        self.real_points = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(*REAL_BRUSH), name="real data")
        self.fake_points = pg.ScatterPlotItem(size=6, pen=pg.mkPen(FAKE_PEN, width=0.8),
                                              brush=pg.mkBrush(*FAKE_BRUSH), name="generated")
        self.arrows = pg.PlotCurveItem(pen=pg.mkPen(ARROW_PEN, width=1.4), connect="pairs",
                                       name="generator's next move")
        self.custom_points = pg.ScatterPlotItem(size=14, symbol="+", pen=pg.mkPen(CUSTOM_BRUSH, width=2.5),
                                                brush=pg.mkBrush(*CUSTOM_BRUSH), name="placed centres")
        for item in (self.real_points, self.fake_points, self.arrows, self.custom_points):
            plot.addItem(item)

        legend = plot.addLegend(offset=(-8, 8), brush=pg.mkBrush(255, 255, 255, 200), pen=pg.mkPen(160, 160, 160))
        for item in (self.real_points, self.fake_points, self.arrows):
            legend.addItem(item, item.name())

        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    # ---------------------------------------------------------------------------- drawing

    def set_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        """Show one snapshot; the arrays are used as given (C-contiguous float32 from the engine)."""
        grid = np.ascontiguousarray(snapshot["d_grid"], dtype=np.float32)  # (grid y, grid x), row 0 at ymin
        label = str(snapshot.get("d_grid_label", ""))
        self._update_levels(grid, label)
        self.image.setImage(grid, autoLevels=False, levels=self._levels)

        # setRect scales by the current image size, so it must follow setImage and be redone
        # whenever the grid size changes.
        extent = tuple(float(value) for value in snapshot["extent"])
        if extent != self._extent or grid.shape != self._grid_shape:
            self._grid_shape = grid.shape
            self._set_extent(extent)  # type: ignore[arg-type]

        self.real_points.setData(pos=snapshot["real"])
        self.fake_points.setData(pos=snapshot["fake"])
        starts, ends = drawn_arrows(snapshot["arrows_from"], snapshot["arrows_to"], extent[1] - extent[0])
        segments = arrow_segments(starts, ends)
        self.arrows.setData(segments[:, 0], segments[:, 1])
        self.update_count += 1

    def set_custom_points(self, points: Sequence[tuple[float, float]]) -> None:
        array = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        self.custom_points.setData(pos=array)

    def show_points_only(self, real: np.ndarray, extent: tuple[float, float, float, float]) -> None:
        """Clear the model layers and show only ``real`` points (while placing custom points)."""
        if extent != self._extent:
            self._set_extent(extent)
        self.image.clear()
        self._grid_shape = ()
        self.fake_points.clear()
        self.arrows.setData([], [])
        self.real_points.setData(pos=np.asarray(real, dtype=np.float32).reshape(-1, 2))

    def _set_extent(self, extent: tuple[float, float, float, float]) -> None:
        xmin, xmax, ymin, ymax = extent
        self._extent = extent
        self.image.setRect(QRectF(xmin, ymin, xmax - xmin, ymax - ymin))
        self.getPlotItem().setRange(xRange=(xmin, xmax), yRange=(ymin, ymax), padding=0)
        self.extent_changed.emit()

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """The shown data extent (xmin, xmax, ymin, ymax)."""
        return self._extent if self._extent is not None else (*INITIAL_RANGE, *INITIAL_RANGE)

    def _update_levels(self, grid: np.ndarray, label: str) -> None:
        if label.startswith("P(real)"):
            levels, title = PROBABILITY_LEVELS, "P(real)"
        else:
            levels, title = self._critic_levels(grid, refit=label != self._label), "critic score D(x)"
        if levels != self._levels or label != self._label:
            self._levels = levels
            self._label = label
            self.colorbar.setLevels(values=levels)
            self.colorbar.getAxis("left").setLabel(title)

    def _critic_levels(self, grid: np.ndarray, refit: bool) -> tuple[float, float]:
        if grid.size == 0:
            return self._levels
        low, high = (float(value) for value in np.quantile(grid, (1 - CRITIC_QUANTILE, CRITIC_QUANTILE)))
        span = max(high - low, 1e-3)
        current_low, current_high = self._levels
        current_span = current_high - current_low
        if refit or low < current_low or high > current_high or span < CRITIC_REFIT_SHRINK * current_span:
            margin = 0.1 * span  # headroom, so small growth does not refit at once
            return (low - margin, high + margin)
        return self._levels

    # ---------------------------------------------------------------------------- clicks

    def _on_scene_clicked(self, event: Any) -> None:
        if not self.placing_points or event.button() != Qt.MouseButton.LeftButton:
            return
        view_box = self.getPlotItem().getViewBox()
        if not view_box.sceneBoundingRect().contains(event.scenePos()):
            return
        point: QPointF = view_box.mapSceneToView(event.scenePos())
        self.point_clicked.emit(float(point.x()), float(point.y()))


class AspectFrame(QWidget):
    """Holds a PlaygroundView and sizes it so its plot area keeps the data's aspect ratio.

    A plot with a locked aspect ratio widens its x or y range to fill a non-square area, which shows
    blank bands beside the heat map. Sizing the widget instead makes the range match the extent.
    """

    def __init__(self, view: PlaygroundView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        view.setParent(self)
        self.setMinimumSize(240, 200)
        view.extent_changed.connect(self.fit_view)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit_view()

    def fit_view(self) -> None:
        """Place the view centred in this frame, as large as fits with a plot area of the extent's shape."""
        view_box = self.view.getPlotItem().getViewBox()
        # Axes, colour bar and margins take a fixed number of pixels around the plot area.
        extra_w = max(0.0, self.view.width() - view_box.width())
        extra_h = max(0.0, self.view.height() - view_box.height())
        xmin, xmax, ymin, ymax = self.view.extent
        ratio = (xmax - xmin) / max(ymax - ymin, 1e-9)  # plot area width / height
        area_w = max(1.0, self.width() - extra_w)
        area_h = max(1.0, self.height() - extra_h)
        if area_w / area_h > ratio:
            area_w = area_h * ratio
        else:
            area_h = area_w / ratio
        width, height = int(area_w + extra_w), int(area_h + extra_h)
        self.view.setGeometry((self.width() - width) // 2, (self.height() - height) // 2, width, height)
