"""SpectrogramView: pixel to time/frequency read-out, scrolling, overlays, export and drops."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from desktop_app.widgets.spectrogram_view import COLORMAPS, SpectrogramView, lookup_table

HOP_S = 0.01
FRAMES = 300
LINEAR_HZ = np.linspace(0.0, 8000.0, 129)  # (bins,) like a 256-point FFT at 16 kHz
MEL_LIKE_HZ = 700.0 * (10 ** (np.linspace(0.0, 2840.0, 80) / 2595.0) - 1.0)  # (bins,) spaced evenly in mel


def _ramp(frequencies_hz: np.ndarray) -> np.ndarray:
    """(frames, bins) levels that encode their own position: -(frame / 10) - bin / 100 dB."""
    frames = np.arange(FRAMES)[:, None]
    bins = np.arange(len(frequencies_hz))[None, :]
    return (-(frames / 10.0) - bins / 100.0).astype(np.float32)


@pytest.fixture()
def view(qtbot):
    widget = SpectrogramView()
    qtbot.addWidget(widget)
    widget.resize(800, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.mark.parametrize("frequencies_hz", [LINEAR_HZ, MEL_LIKE_HZ], ids=["linear", "mel"])
def test_hover_readout_maps_pixels(qtbot, view, frequencies_hz):
    view.set_spectrogram(_ramp(frequencies_hz), frequencies_hz, HOP_S)
    qtbot.wait(50)
    for time_s, frequency_hz in [(0.5, 440.0), (1.23, 1000.0), (2.9, 3000.0)]:
        scene_pos = view.view_to_scene(time_s, frequency_hz)
        view.plot_widget.scene().sigMouseMoved.emit(scene_pos)
        readout = view.readout_at_scene(scene_pos)
        assert readout is not None
        assert readout.time_s == pytest.approx(time_s, abs=1e-6)
        assert readout.frequency_hz == pytest.approx(frequency_hz, rel=1e-6)
        row = int(round(np.interp(frequency_hz, frequencies_hz, np.arange(len(frequencies_hz)))))
        column = int(round(time_s / HOP_S))
        assert readout.level_db == pytest.approx(-(column / 10.0) - row / 100.0, abs=1e-4)
        assert view.readout_text == readout.text()
        assert f"{time_s:.3f} s" in view.readout_text


def test_readout_from_widget_pixels(qtbot, view):
    """A pixel in the plot maps to the time and bin under it (one pixel of slack)."""
    view.set_spectrogram(_ramp(LINEAR_HZ), LINEAR_HZ, HOP_S)
    qtbot.wait(50)
    view_box = view.plot_widget.getPlotItem().getViewBox()
    rect = view_box.sceneBoundingRect()
    centre = QPointF(rect.center())
    readout = view.readout_at_scene(centre)
    x_range, y_range = view_box.viewRange()
    assert readout.time_s == pytest.approx(np.mean(x_range), abs=(x_range[1] - x_range[0]) / rect.width())
    expected_hz = np.interp(np.mean(y_range), np.arange(len(LINEAR_HZ)), LINEAR_HZ)
    hz_per_pixel = 8000.0 / rect.height()
    assert readout.frequency_hz == pytest.approx(expected_hz, abs=2 * hz_per_pixel)
    outside = QPointF(rect.left() - 5, rect.top() - 5)
    assert view.readout_at_scene(outside) is None


def test_image_is_row_major_with_fixed_levels(view):
    spectrogram = _ramp(LINEAR_HZ)
    view.set_levels(0.0, 60.0)
    view.set_spectrogram(spectrogram, LINEAR_HZ, HOP_S)
    image = view.image_item.image
    assert image.shape == (len(LINEAR_HZ), FRAMES)  # (bins, frames)
    assert image.dtype == np.float32
    assert image.flags["C_CONTIGUOUS"]
    assert view.levels() == (float(np.ceil(spectrogram.max())) - 60.0, float(np.ceil(spectrogram.max())))
    assert tuple(view.image_item.getLevels()) == view.levels()
    assert view.image_item.lut.shape == (256, 3)


def test_scrolling_mode_appends_columns(view):
    view.set_levels(0.0, 100.0)
    view.start_live(LINEAR_HZ, HOP_S, window_s=1.0)
    width = view.image_item.image.shape[1]
    assert width == 100
    view.append_columns(np.full((30, len(LINEAR_HZ)), -10.0, dtype=np.float32))
    image = view.image_item.image
    assert np.all(image[:, -30:] == -10.0)
    assert np.all(image[:, :-30] == -100.0)
    view.append_columns(np.full((250, len(LINEAR_HZ)), -20.0, dtype=np.float32))
    assert view.image_item.image.shape == (len(LINEAR_HZ), width)
    assert np.all(view.image_item.image == -20.0)
    x_min, x_max = view.plot_widget.getPlotItem().getViewBox().viewRange()[0]
    assert x_max == pytest.approx(280 * HOP_S, abs=HOP_S)
    assert x_max - x_min == pytest.approx(1.0, abs=HOP_S)
    with pytest.raises(ValueError, match="frames, 129"):
        view.append_columns(np.zeros((3, 7), dtype=np.float32))


def test_f0_overlay_and_cursor(view):
    view.set_spectrogram(_ramp(MEL_LIKE_HZ), MEL_LIKE_HZ, HOP_S)
    f0_hz = np.array([0.0, 200.0, 210.0, 0.0, 220.0], dtype=np.float32)
    view.set_f0(f0_hz, HOP_S)
    view.set_f0_visible(True)
    x_data, y_data = view._f0_curve.getData()
    assert np.isnan(y_data[0])
    assert np.isnan(y_data[3])
    expected_bin = np.interp(200.0, MEL_LIKE_HZ, np.arange(len(MEL_LIKE_HZ)))
    assert y_data[1] == pytest.approx(expected_bin)
    assert x_data[4] == pytest.approx(4 * HOP_S)
    view.set_cursor(1.5)
    assert view.cursor_s() == pytest.approx(1.5)
    view.set_cursor(None)
    assert view.cursor_s() is None


def test_export_png_writes_image(view, tmp_path):
    view.set_spectrogram(_ramp(LINEAR_HZ), LINEAR_HZ, HOP_S)
    path = view.export_png(tmp_path / "spectrogram.png")
    image = QImage(str(path))
    assert not image.isNull()
    assert image.width() == view.plot_widget.width()
    assert image.height() == view.plot_widget.height()
    with pytest.raises(OSError, match="Could not write"):
        view.export_png(tmp_path / "missing-folder" / "x.png")


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormaps_have_256_entries(view, name):
    table = lookup_table(name)
    assert table.shape == (256, 3)
    assert table.dtype == np.uint8
    view.set_colormap(name)
    assert np.array_equal(view.image_item.lut, table)


def test_unknown_colormap_rejected():
    with pytest.raises(ValueError, match="inferno"):
        lookup_table("rainbow")


def _drop(view, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)
    return event


def test_drop_audio_file_emits_path(qtbot, view, tmp_path):
    audio_path = tmp_path / "clip.wav"
    with qtbot.waitSignal(view.file_dropped, timeout=1000) as dropped:
        _drop(view, audio_path)
    assert dropped.args == [str(audio_path)]

    _drop(view, tmp_path / "notes.txt")
    assert "Only audio files" in view.message_text


def test_renders_offscreen(view):
    view.set_spectrogram(_ramp(LINEAR_HZ), LINEAR_HZ, HOP_S)
    image = view.grab().toImage()
    assert not image.isNull()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 20) for y in range(0, image.height(), 20)}
    assert len(colours) > 10, "the rendered view is nearly uniform"


def test_empty_view_has_speech_axes(qtbot):
    from desktop_app.widgets.spectrogram_view import EMPTY_BINS, EMPTY_DURATION_S, EMPTY_MAX_HZ

    widget = SpectrogramView(title="Clip")
    qtbot.addWidget(widget)
    widget.resize(600, 300)
    widget.show()
    qtbot.waitExposed(widget)
    plot_item = widget._plot.getPlotItem()
    axis = plot_item.getAxis("left")

    (x_low, x_high), (y_low, y_high) = plot_item.getViewBox().viewRange()
    assert (x_low, x_high) == pytest.approx((0.0, EMPTY_DURATION_S))
    assert (y_low, y_high) == pytest.approx((-0.5, EMPTY_BINS - 0.5))
    assert axis.bin_to_hz(EMPTY_BINS - 1) == pytest.approx(EMPTY_MAX_HZ)
    assert axis.autoSIPrefix is False, "bin indices must not get a scale prefix such as (x0.001)"
    assert plot_item.titleLabel.text == "Clip"
