"""Device listing against the virtual PulseAudio server, and the fallback without PortAudio."""

from __future__ import annotations

import pytest

from desktop_app.audio import devices


def _fail_to_load_portaudio():
    raise OSError("PortAudio library not found")


@pytest.fixture()
def without_portaudio(monkeypatch):
    """Make sounddevice fail to load, as on a machine without libportaudio2."""
    monkeypatch.setattr(devices, "_load_sounddevice", _fail_to_load_portaudio)


@pytest.mark.audio
def test_lists_virtual_devices(virtual_audio):
    inputs = {device.name for device in devices.list_input_devices()}
    outputs = {device.name for device in devices.list_output_devices()}
    assert {"virtual_mic", "pulse"} <= inputs, f"inputs: {sorted(inputs)}"
    assert {"virtual_speaker", "pulse"} <= outputs, f"outputs: {sorted(outputs)}"
    assert devices.backend_status().available
    assert devices.devices_message("input") == ""
    assert devices.default_device("input") is not None


@pytest.mark.audio
def test_find_device_and_rate(virtual_audio):
    mic = devices.find_device("virtual_mic", "input")
    assert mic.name == "virtual_mic"
    assert devices.find_device(mic.index, "input") == mic
    assert devices.find_device("virtual_m", "input") == mic  # a unique part of the name is enough
    rate_hz = devices.pick_rate_hz(mic, "input", channels=1)
    assert rate_hz == int(mic.default_rate_hz)
    assert devices.pick_rate_hz(mic, "input", channels=1, preferred_rate_hz=16000) == 16000


@pytest.mark.audio
def test_unknown_device_lists_available(virtual_audio):
    with pytest.raises(devices.AudioDeviceError, match="not found.*virtual_mic"):
        devices.find_device("no such microphone", "input")


def test_missing_portaudio_reports_install_hint(without_portaudio):
    status = devices.backend_status()
    assert not status.available
    assert status.message == devices.NO_PORTAUDIO_MESSAGE
    assert devices.list_devices() == []
    assert devices.default_device("output") is None
    assert devices.devices_message("input") == devices.NO_PORTAUDIO_MESSAGE
    with pytest.raises(devices.AudioDeviceError, match="libportaudio2"):
        devices.find_device(None, "input")


def test_kind_is_checked():
    with pytest.raises(ValueError, match="'input' or 'output'"):
        devices.default_device("microphone")
