"""Level meter, recorder and player panels, and the Audio tab, rendered offscreen."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QSettings, Qt

from audio_test_helpers import TONE_RATE_HZ, two_tone
from desktop_app.audio import devices


def _fail_to_load_portaudio():
    raise OSError("PortAudio library not found")


def _assert_rendered(widget) -> None:
    image = widget.grab().toImage()
    assert not image.isNull()
    assert image.width() > 0
    assert image.height() > 0
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 3, f"{type(widget).__name__} rendered almost blank"


def test_level_meter_shows_levels_and_clip(qtbot):
    from desktop_app.widgets.level_meter import LevelMeter

    meter = LevelMeter()
    qtbot.addWidget(meter)
    meter.resize(300, 34)
    meter.set_levels(-20.0, -6.0, False)
    assert not meter.clip_lit
    _assert_rendered(meter)
    meter.set_levels(-3.0, 0.0, True)
    assert meter.clip_lit
    assert (meter.rms_dbfs, meter.peak_dbfs) == (-3.0, 0.0)
    meter.reset()
    assert not meter.clip_lit


def test_recorder_disabled_without_portaudio(qtbot, monkeypatch, settings):
    from desktop_app.widgets.recorder import RecorderWidget

    monkeypatch.setattr(devices, "_load_sounddevice", _fail_to_load_portaudio)
    widget = RecorderWidget(settings)
    qtbot.addWidget(widget)
    assert not widget.can_record
    assert not widget.record_button.isEnabled()
    assert not widget.device_picker.isEnabled()
    assert widget.message == devices.NO_PORTAUDIO_MESSAGE
    assert widget.start_recording() is False
    _assert_rendered(widget)


def test_player_disabled_without_portaudio(qtbot, monkeypatch, settings):
    from desktop_app.widgets.player import PlayerWidget

    monkeypatch.setattr(devices, "_load_sounddevice", _fail_to_load_portaudio)
    widget = PlayerWidget(settings)
    qtbot.addWidget(widget)
    widget.set_clip(two_tone()[None, :], TONE_RATE_HZ)
    assert not widget.play_button.isEnabled()
    assert widget.message == devices.NO_PORTAUDIO_MESSAGE
    assert widget.play() is False


def test_missing_devices_named_per_kind_and_logged_once(qtbot, monkeypatch, settings, caplog):
    from desktop_app.widgets.player import PlayerWidget
    from desktop_app.widgets.recorder import RecorderWidget

    monkeypatch.setattr(devices, "backend_status", lambda: devices.AudioBackendStatus(True))
    monkeypatch.setattr(devices, "list_input_devices", lambda: [])
    monkeypatch.setattr(devices, "list_output_devices", lambda: [])
    monkeypatch.setattr(devices, "_logged_device_problems", set())
    caplog.set_level("INFO")
    widgets = [RecorderWidget(settings), PlayerWidget(settings), RecorderWidget(settings), PlayerWidget(settings)]
    for widget in widgets:
        qtbot.addWidget(widget)

    assert "microphone" in widgets[0].message
    assert "microphone" not in widgets[1].message, f"the speaker row names a microphone: {widgets[1].message!r}"
    assert "speakers" in widgets[1].message
    device_records = [record for record in caplog.records if "sound server" in record.getMessage()]
    assert [record.levelname for record in device_records] == ["INFO", "INFO"], (
        f"expected one info line per device kind, got {[(r.levelname, r.getMessage()) for r in device_records]}")


@pytest.mark.audio
def test_device_choice_is_remembered(qtbot, virtual_audio, settings):
    from desktop_app.widgets.player import PlayerWidget
    from desktop_app.widgets.recorder import RecorderWidget

    recorder = RecorderWidget(settings)
    player = PlayerWidget(settings)
    qtbot.addWidget(recorder)
    qtbot.addWidget(player)
    assert recorder.can_record
    assert recorder.device_picker.current_device() is None  # the default device comes first
    recorder.device_picker.select_device("virtual_mic")
    player.device_picker.select_device("virtual_speaker")

    recorder_again = RecorderWidget(settings)
    player_again = PlayerWidget(settings)
    qtbot.addWidget(recorder_again)
    qtbot.addWidget(player_again)
    assert recorder_again.device_picker.current_device() == "virtual_mic"
    assert player_again.device_picker.current_device() == "virtual_speaker"
    _assert_rendered(recorder_again)


@pytest.mark.audio
def test_missing_remembered_device_falls_back(qtbot, virtual_audio, settings):
    from desktop_app.widgets.recorder import KEY_INPUT_DEVICE, RecorderWidget

    settings.set(KEY_INPUT_DEVICE, "USB headset that is unplugged")
    widget = RecorderWidget(settings)
    qtbot.addWidget(widget)
    assert widget.device_picker.current_device() is None
    assert "USB headset that is unplugged" in widget.message
    assert widget.can_record


# ------------------------------------------------------------------------------------ Audio tab

@pytest.fixture()
def audio_tab(qtbot, tmp_path):
    from desktop_app.context import AppContext
    from desktop_app.settings import Settings
    from desktop_app.tabs.audio_lab import AudioLabTab
    from desktop_app.worker import EngineWorker
    from engine.core.device import pick_compute

    worker = EngineWorker()
    settings = Settings(QSettings(str(tmp_path / "tab-settings.ini"), QSettings.Format.IniFormat))
    tab = AudioLabTab(AppContext(worker=worker, settings=settings, compute=pick_compute("cpu")))
    qtbot.addWidget(tab)
    tab.resize(1000, 800)
    tab.show()
    qtbot.waitExposed(tab)
    yield tab
    tab.shutdown()
    assert worker.shutdown()


def _open(qtbot, tab, path):
    with qtbot.waitSignals([tab.clip_loaded], raising=True, timeout=20000):
        tab.open_file(path)


def test_tab_is_listed_in_shell():
    from desktop_app.tabs import TAB_CLASS_PATHS, load_tab_class
    from desktop_app.tabs.audio_lab import AudioLabTab

    assert "desktop_app.tabs.audio_lab:AudioLabTab" in TAB_CLASS_PATHS
    assert load_tab_class("desktop_app.tabs.audio_lab:AudioLabTab") is AudioLabTab


def test_tab_opens_speech_file(qtbot, audio_tab, datasets_dir):
    path = datasets_dir / "vcc2016_4spk" / "SF1" / "100001.wav"
    _open(qtbot, audio_tab, path)
    clip = audio_tab.clip
    assert clip.audio.path == path
    assert clip.spectrogram_db.shape[1] == len(clip.frequencies_hz)
    assert clip.spectrogram_db.shape[0] == pytest.approx(clip.audio.duration_s / clip.hop_s, abs=2)
    voiced_f0 = clip.f0_hz[clip.voiced]
    assert voiced_f0.size > 50, f"only {voiced_f0.size} voiced frames"
    median_f0 = float(np.median(voiced_f0))
    assert 150.0 < median_f0 < 300.0, f"median F0 of the female speaker SF1 is {median_f0:.0f} Hz"
    assert audio_tab.clip_view.f0_visible()
    _assert_rendered(audio_tab)

    mel_bins = len(clip.frequencies_hz)
    with qtbot.waitSignal(audio_tab.clip_loaded, timeout=20000):
        audio_tab.set_mel_scale(False)
    assert len(audio_tab.clip.frequencies_hz) > mel_bins
    audio_tab.set_f0_visible(False)
    assert not audio_tab.clip_view.f0_visible()


def test_tab_reports_broken_file(qtbot, audio_tab, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_text("this is not audio")
    with qtbot.waitSignal(audio_tab.clip_failed, timeout=20000) as failed:
        audio_tab.open_file(broken)
    assert str(broken) in failed.args[0]
    assert str(broken) in audio_tab.message
    assert str(broken) in audio_tab.clip_view.message_text
    assert audio_tab.clip is None


def test_tab_loads_dropped_file_and_saves_flac(qtbot, audio_tab, tmp_path, two_tone_wav):
    with qtbot.waitSignal(audio_tab.clip_loaded, timeout=20000):
        audio_tab.clip_view.file_dropped.emit(str(two_tone_wav))
    saved = audio_tab.save_clip(tmp_path / "copy.flac")
    samples, rate_hz = soundfile.read(saved, dtype="float32")
    assert rate_hz == TONE_RATE_HZ
    assert np.max(np.abs(samples - two_tone())) < 1e-3  # 16-bit quantisation only


@pytest.mark.audio
def test_tab_keys_play_and_record(qtbot, audio_tab, virtual_audio, two_tone_wav):
    _open(qtbot, audio_tab, two_tone_wav)
    audio_tab.activateWindow()
    audio_tab.clip_view.setFocus()
    qtbot.keyClick(audio_tab.clip_view, Qt.Key.Key_Space)
    assert audio_tab.player_widget.is_playing
    qtbot.waitUntil(lambda: (audio_tab.clip_view.cursor_s() or 0.0) > 0.2, timeout=5000)
    qtbot.keyClick(audio_tab.clip_view, Qt.Key.Key_Space)
    assert not audio_tab.player_widget.is_playing

    qtbot.keyClick(audio_tab.clip_view, Qt.Key.Key_R)
    assert audio_tab.recorder_widget.is_recording
    qtbot.waitUntil(lambda: audio_tab.recorder_widget.recorder.elapsed_s > 0.5, timeout=5000)
    with qtbot.waitSignal(audio_tab.clip_loaded, timeout=20000):
        qtbot.keyClick(audio_tab.clip_view, Qt.Key.Key_R)
    assert not audio_tab.recorder_widget.is_recording
    assert audio_tab.clip.audio.path == audio_tab.recorder_widget.recorder.path
