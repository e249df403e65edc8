"""Player tests with real audio: a clip played to the virtual speaker is captured from its monitor."""

from __future__ import annotations

import pytest
import soundfile

from audio_test_helpers import TONE_RATE_HZ, assert_contains_two_tone, two_tone

pytestmark = pytest.mark.audio


def test_played_clip_reaches_speaker(qtbot, virtual_audio, audio_tools, tmp_path):
    from desktop_app.audio.playback import Player

    player = Player()
    positions: list[float] = []
    player.position_changed.connect(positions.append)
    captured = tmp_path / "captured.wav"
    capture = audio_tools.capture_virtual_speaker(captured, 3.5)
    qtbot.wait(300)  # parecord needs a moment before it records

    clip = two_tone()[None, :]  # (1, samples)
    with qtbot.waitSignal(player.finished, timeout=10000) as finished:
        player.play(clip, TONE_RATE_HZ, device="virtual_speaker")
        assert player.is_playing
    capture.wait(timeout=15)

    assert finished.args == [""]
    assert not player.is_playing
    assert positions[-1] == pytest.approx(2.0, abs=1e-6), "the cursor did not reach the end of the clip"
    assert positions == sorted(positions), "the cursor moved backwards"
    recorded, rate_hz = soundfile.read(captured, dtype="float32", always_2d=True)
    assert_contains_two_tone(recorded.mean(axis=1), rate_hz, 2.0)


def test_stop_ends_playback_early(qtbot, virtual_audio):
    from desktop_app.audio.playback import Player

    player = Player()
    player.play(two_tone()[None, :], TONE_RATE_HZ, device="virtual_speaker")
    qtbot.wait(500)
    with qtbot.waitSignal(player.finished, timeout=3000) as finished:
        player.stop()
    assert finished.args == [""]
    assert not player.is_playing
    assert 0.0 < player.position_s < 1.5, f"stopped at {player.position_s:.2f} s"


def test_play_rejects_wrong_shape(virtual_audio):
    from desktop_app.audio.playback import Player

    with pytest.raises(ValueError, match="channels, samples"):
        Player().play(two_tone(), TONE_RATE_HZ, device="virtual_speaker")


def test_unknown_output_device_names_choices(virtual_audio):
    from desktop_app.audio.devices import AudioDeviceError
    from desktop_app.audio.playback import Player

    with pytest.raises(AudioDeviceError, match="virtual_speaker"):
        Player().play(two_tone()[None, :], TONE_RATE_HZ, device="no such speaker")


def test_lost_stream_reports_message(qtbot, virtual_audio):
    """When PortAudio ends the stream on its own (device unplugged), the player says so."""
    from desktop_app.audio.playback import Player

    player = Player()
    player.play(two_tone()[None, :], TONE_RATE_HZ, device="virtual_speaker")
    qtbot.wait(300)
    with qtbot.waitSignal(player.finished, timeout=3000) as finished:
        player._stream.abort()  # what PortAudio does when the device goes away mid-stream
    assert "stopped accepting audio" in finished.args[0]
    assert not player.is_playing


def test_refresh_waits_for_open_streams(qtbot, virtual_audio):
    from desktop_app.audio import devices
    from desktop_app.audio.playback import Player

    player = Player()
    player.play(two_tone()[None, :], TONE_RATE_HZ, device="virtual_speaker")
    with pytest.raises(devices.AudioDeviceError, match="Stop recording and playback"):
        devices.refresh_devices()
    player.stop()
    devices.refresh_devices()
    assert "virtual_mic" in {device.name for device in devices.list_input_devices()}
