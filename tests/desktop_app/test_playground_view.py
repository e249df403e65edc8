"""The playground plot: the heat map fills the plot area, and arrows are thinned out where crowded."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.widgets.playground_view import AspectFrame, PlaygroundView, drawn_arrows


def test_plot_range_matches_extent_in_wide_frame(qtbot) -> None:
    view = PlaygroundView()
    frame = AspectFrame(view)
    qtbot.addWidget(frame)
    frame.resize(900, 420)
    frame.show()
    qtbot.waitExposed(frame)
    extent = (-2.5, 2.5, -2.5, 2.5)
    view.show_points_only(np.zeros((0, 2), dtype=np.float32), extent)
    frame.fit_view()
    qtbot.wait(50)

    (x_low, x_high), (y_low, y_high) = view.getPlotItem().getViewBox().viewRange()
    assert (x_low, x_high) == pytest.approx((-2.5, 2.5), abs=0.05), "blank bands beside the heat map"
    assert (y_low, y_high) == pytest.approx((-2.5, 2.5), abs=0.05)
    assert view.width() < frame.width(), "the frame must narrow the view to keep the plot area square"


def test_drawn_arrows_drop_short_and_crowded() -> None:
    starts = np.array([[0.0, 0.0], [0.01, 0.0], [1.0, 1.0], [2.0, 2.0]], dtype=np.float32)
    ends = starts + np.array([[0.5, 0.0], [0.5, 0.0], [0.5, 0.0], [0.0001, 0.0]], dtype=np.float32)

    kept_starts, kept_ends = drawn_arrows(starts, ends, width=5.0)

    np.testing.assert_allclose(kept_starts, starts[[0, 2]])
    np.testing.assert_allclose(kept_ends, ends[[0, 2]])
