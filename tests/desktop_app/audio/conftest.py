"""Fixtures for the audio widget tests: isolated settings, a test tone file, the virtual audio helpers."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
import soundfile
from PySide6.QtCore import QSettings

from audio_test_helpers import TONE_RATE_HZ, two_tone

ROOT_CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"
SETTLE_S = 1.0


@pytest.fixture(scope="session")
def audio_tools(request: pytest.FixtureRequest) -> ModuleType:
    """Return the test-wide conftest module, which contains ``feed_virtual_mic`` and ``capture_virtual_speaker``."""
    for plugin in request.config.pluginmanager.get_plugins():
        plugin_file = getattr(plugin, "__file__", None)
        if plugin_file and Path(plugin_file).resolve() == ROOT_CONFTEST:
            return plugin
    module = sys.modules.get("conftest")
    if module is not None and Path(module.__file__).resolve() == ROOT_CONFTEST:
        return module
    pytest.fail(f"{ROOT_CONFTEST} is not loaded as a conftest; run pytest from the repository root.")


@pytest.fixture()
def settings(tmp_path: Path):
    """Settings stored in a temporary INI file, so tests never touch the user's settings."""
    from desktop_app.settings import Settings

    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture()
def two_tone_wav(tmp_path: Path) -> Path:
    path = tmp_path / "two_tone.wav"
    soundfile.write(path, two_tone(), TONE_RATE_HZ, subtype="FLOAT")
    return path


@pytest.fixture(scope="session")
def settled_devices(virtual_audio):
    """Open the virtual microphone and speaker together once before the test streams.

    The first input and output pair opened on a freshly started virtual audio server ran about
    1.5 s behind: 1.6 s measured end to end, against 0.15 s for every later pair. So the tests
    spend that first opening on silence.
    """
    sd = virtual_audio
    with sd.InputStream(device="virtual_mic", channels=1, samplerate=16000, callback=lambda *args: None), \
            sd.OutputStream(device="virtual_speaker", channels=1, samplerate=16000,
                            callback=lambda outdata, *args: outdata.fill(0.0)):
        time.sleep(SETTLE_S)
    return sd
