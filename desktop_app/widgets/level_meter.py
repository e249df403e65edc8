"""A level meter: RMS and peak bars in dBFS with peak hold and a clip indicator."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

logger = logging.getLogger(__name__)

FLOOR_DBFS = -60.0  # the left edge of the bars
PEAK_HOLD_S = 1.5  # the peak marker stays this long before it follows the signal down
CLIP_HOLD_S = 2.0  # the clip light stays on this long after the last clipped block
WARN_DBFS = -12.0  # bars turn yellow above this level
HOT_DBFS = -3.0  # and red above this one

_GREEN = QColor(60, 200, 90)
_YELLOW = QColor(230, 200, 50)
_RED = QColor(230, 60, 50)
_TRACK = QColor(40, 40, 40)


class LevelMeter(QWidget):
    """Two horizontal bars (RMS above, peak below) from FLOOR_DBFS to 0 dBFS and a CLIP light."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._rms_dbfs = FLOOR_DBFS
        self._peak_dbfs = FLOOR_DBFS
        self._held_peak_dbfs = FLOOR_DBFS
        self._held_peak_time = 0.0
        self._clip_time = -CLIP_HOLD_S
        self.setToolTip("Input level: RMS (top) and peak (bottom) in dBFS")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(260, 34)

    @property
    def rms_dbfs(self) -> float:
        return self._rms_dbfs

    @property
    def peak_dbfs(self) -> float:
        return self._peak_dbfs

    @property
    def clip_lit(self) -> bool:
        return time.monotonic() - self._clip_time < CLIP_HOLD_S

    def set_levels(self, rms_dbfs: float, peak_dbfs: float, clipped: bool) -> None:
        now = time.monotonic()
        self._rms_dbfs = rms_dbfs
        self._peak_dbfs = peak_dbfs
        if peak_dbfs >= self._held_peak_dbfs or now - self._held_peak_time > PEAK_HOLD_S:
            self._held_peak_dbfs = peak_dbfs
            self._held_peak_time = now
        if clipped:
            self._clip_time = now
        self.update()

    def reset(self) -> None:
        self._rms_dbfs = self._peak_dbfs = self._held_peak_dbfs = FLOOR_DBFS
        self._clip_time = -CLIP_HOLD_S
        self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        clip_width = 40.0
        bar_width = max(10.0, self.width() - clip_width - 6)
        bar_height = (self.height() - 6) / 2

        for row, level in enumerate((self._rms_dbfs, self._peak_dbfs)):
            track = QRectF(0, 2 + row * (bar_height + 2), bar_width, bar_height)
            painter.fillRect(track, _TRACK)
            fraction = self._fraction(level)
            color = _GREEN
            if level >= HOT_DBFS:
                color = _RED
            elif level >= WARN_DBFS:
                color = _YELLOW
            painter.fillRect(QRectF(track.left(), track.top(), fraction * bar_width, bar_height), color)

        hold_x = self._fraction(self._held_peak_dbfs) * bar_width
        painter.fillRect(QRectF(max(0.0, hold_x - 2), 4 + bar_height, 2, bar_height), Qt.GlobalColor.white)

        clip_rect = QRectF(bar_width + 6, 2, clip_width - 2, self.height() - 4)
        painter.fillRect(clip_rect, _RED if self.clip_lit else _TRACK)
        painter.setPen(Qt.GlobalColor.white if self.clip_lit else QColor(130, 130, 130))
        painter.drawText(clip_rect, Qt.AlignmentFlag.AlignCenter, "CLIP")
        painter.end()

    @staticmethod
    def _fraction(level_dbfs: float) -> float:
        return min(max((level_dbfs - FLOOR_DBFS) / -FLOOR_DBFS, 0.0), 1.0)
