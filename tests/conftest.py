"""Test-wide set-up: an isolated user folder, offscreen Qt, and the virtual audio devices."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
DATASETS_DIR = SHARED_DIR / "datasets"
VIRTUAL_AUDIO_TOOL = SHARED_DIR / "tools" / "virtual-audio"

# Set before any test module imports Qt or the engine, so nothing touches the real user folders.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GAN_STUDIO_HOME", tempfile.mkdtemp(prefix="gan-studio-tests-"))


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """Return ``../shared/datasets``; tests that need real data fail loudly when it is absent."""
    if not DATASETS_DIR.is_dir():
        pytest.fail(f"Real data sets not found at {DATASETS_DIR}; the checkout must sit beside shared/.")
    return DATASETS_DIR


@pytest.fixture(scope="session")
def virtual_audio():
    """Start the private PulseAudio server with a virtual microphone and speaker; yield sounddevice.

    The environment variables must be set before sounddevice is imported, because PortAudio lists
    devices once when it initialises. If it was imported earlier, it is re-initialised here.
    """
    started = subprocess.run(["bash", str(VIRTUAL_AUDIO_TOOL), "start"], check=True,
                             capture_output=True, text=True, timeout=60)
    for line in started.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            os.environ[name] = shlex.split(value)[0]

    import sounddevice

    sounddevice._terminate()
    sounddevice._initialize()
    yield sounddevice
    subprocess.run(["bash", str(VIRTUAL_AUDIO_TOOL), "stop"], check=False, timeout=60)


def feed_virtual_mic(wav_path: Path) -> subprocess.Popen:
    """Start playing ``wav_path`` into the virtual microphone; the caller waits on the process."""
    return subprocess.Popen(["bash", str(VIRTUAL_AUDIO_TOOL), "feed", str(wav_path)])


def capture_virtual_speaker(wav_path: Path, seconds: float) -> subprocess.Popen:
    """Start recording what the virtual speaker plays for ``seconds`` into ``wav_path``."""
    return subprocess.Popen(["bash", str(VIRTUAL_AUDIO_TOOL), "capture", str(wav_path), str(seconds)])
