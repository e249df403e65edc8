"""Sound device discovery: the one module that imports sounddevice, with a message when it cannot."""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass
from types import ModuleType

logger = logging.getLogger(__name__)

# Target duration of one PortAudio callback, for recording and playback alike. About 10 ms gives
# the 30+ spectrogram updates per second a live view needs: with 1024-frame blocks at 44.1 kHz the
# ALSA pulse plugin delivered callbacks in pairs every 40 ms, which capped the view at 25 updates/s.
BLOCK_DURATION_S = 0.010


def block_frames(sample_rate_hz: int) -> int:
    """Return the frames per callback at ``sample_rate_hz``: the power of two nearest BLOCK_DURATION_S.

    >>> block_frames(44100), block_frames(48000), block_frames(16000)
    (512, 512, 128)
    """
    return 1 << max(6, round(math.log2(sample_rate_hz * BLOCK_DURATION_S)))


# Rates tried, in order, when a device rejects its own default rate.
FALLBACK_RATES_HZ = (48000, 44100, 32000, 22050, 16000)

NO_PORTAUDIO_MESSAGE = "Install libportaudio2 (sudo apt-get install libportaudio2) to record and play"
NO_DEVICE_MESSAGES = {
    "input": "Connect a microphone or start a sound server",
    "output": "Connect speakers or headphones, or start a sound server",
}
# (kind, message) pairs already logged: every recorder and player checks at start, so repeats are dropped.
_logged_device_problems: set[tuple[str, str]] = set()

_streams: weakref.WeakSet = weakref.WeakSet()  # streams opened by the recorder and the player


@dataclass(frozen=True)
class AudioBackendStatus:
    """Whether sounddevice and PortAudio loaded; when not, ``message`` is the fix to show the user."""

    available: bool
    message: str = ""


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device as listed by sounddevice."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_rate_hz: float


class AudioDeviceError(RuntimeError):
    """A device could not be found or opened; the message is written for the user."""


def _load_sounddevice() -> ModuleType:
    """Import sounddevice; raises OSError when the PortAudio library is missing.

    Kept as a module-level function so tests can make it fail and check the fallback.
    """
    import sounddevice

    return sounddevice


def load_backend() -> tuple[ModuleType | None, AudioBackendStatus]:
    """Return (sounddevice module or None, status with a user message when it is unavailable)."""
    try:
        sd = _load_sounddevice()
    except OSError as error:
        logger.warning("sounddevice could not load PortAudio: %s", error)
        return None, AudioBackendStatus(False, NO_PORTAUDIO_MESSAGE)
    except ImportError as error:
        logger.warning("sounddevice is not installed: %s", error)
        return None, AudioBackendStatus(False, "Install the sounddevice package (pip install sounddevice) to record and play")
    return sd, AudioBackendStatus(True)


def backend_status() -> AudioBackendStatus:
    """Return whether recording and playback can work at all on this machine."""
    return load_backend()[1]


def require_backend() -> ModuleType:
    """Return sounddevice; raises AudioDeviceError with the install hint when it is unavailable."""
    sd, status = load_backend()
    if sd is None:
        raise AudioDeviceError(status.message)
    return sd


def _to_info(sd: ModuleType, raw: dict) -> DeviceInfo:
    hostapi = sd.query_hostapis(raw["hostapi"])["name"]
    return DeviceInfo(index=int(raw["index"]), name=str(raw["name"]), hostapi=str(hostapi),
                      max_input_channels=int(raw["max_input_channels"]),
                      max_output_channels=int(raw["max_output_channels"]),
                      default_rate_hz=float(raw["default_samplerate"]))


def list_devices() -> list[DeviceInfo]:
    """Return every PortAudio device; empty when the backend is missing or no device exists."""
    sd, status = load_backend()
    if sd is None:
        return []
    try:
        raw_devices = sd.query_devices()
    except sd.PortAudioError as error:
        logger.warning("Listing audio devices failed: %s", error)
        return []
    return [_to_info(sd, raw) for raw in raw_devices]


def list_input_devices() -> list[DeviceInfo]:
    return [device for device in list_devices() if device.max_input_channels > 0]


def list_output_devices() -> list[DeviceInfo]:
    return [device for device in list_devices() if device.max_output_channels > 0]


def default_device(kind: str) -> DeviceInfo | None:
    """Return the default "input" or "output" device, or None when there is none."""
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', got {kind!r}")
    sd, _ = load_backend()
    if sd is None:
        return None
    try:
        raw = sd.query_devices(kind=kind)
    except sd.PortAudioError as error:
        # sounddevice raises "Error querying device -1" when the default is missing.
        logger.info("No default %s device: %s", kind, error)
        return None
    return _to_info(sd, raw)


def devices_message(kind: str) -> str:
    """Return "" when recording (kind="input") or playback (kind="output") can start, else why not."""
    status = backend_status()
    if not status.available:
        message = status.message
    else:
        found = list_input_devices() if kind == "input" else list_output_devices()
        message = "" if found else NO_DEVICE_MESSAGES[kind]
    if message and (kind, message) not in _logged_device_problems:
        _logged_device_problems.add((kind, message))
        logger.info("No audio %s device: %s", kind, message)
    return message


def find_device(name_or_index: str | int | None, kind: str) -> DeviceInfo:
    """Resolve a device name (exact, then substring) or index; None means the default device.

    Raises:
        AudioDeviceError: no such device, or no default device, with the names that exist.
    """
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', got {kind!r}")
    require_backend()
    candidates = list_input_devices() if kind == "input" else list_output_devices()
    if name_or_index is None or name_or_index == "":
        default = default_device(kind)
        if default is None:
            raise AudioDeviceError(f"No default {kind} device. {NO_DEVICE_MESSAGES[kind]}.")
        return default
    if isinstance(name_or_index, int):
        matches = [device for device in candidates if device.index == name_or_index]
    else:
        matches = [device for device in candidates if device.name == name_or_index]
        if not matches:
            matches = [device for device in candidates if name_or_index.lower() in device.name.lower()]
    if not matches:
        names = ", ".join(device.name for device in candidates) or "none"
        raise AudioDeviceError(f"{kind.capitalize()} device {name_or_index!r} not found. "
                               f"Available {kind} devices: {names}. Pick another device or reconnect it.")
    return matches[0]


def pick_rate_hz(device: DeviceInfo, kind: str, channels: int, preferred_rate_hz: float | None = None) -> int:
    """Return a sample rate the device accepts: the preferred one, the device default, then common rates.

    Raises:
        AudioDeviceError: the device accepts none of them.
    """
    sd = require_backend()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    tried = []
    for rate in (preferred_rate_hz, device.default_rate_hz, *FALLBACK_RATES_HZ):
        if not rate or int(rate) in tried:
            continue
        tried.append(int(rate))
        try:
            check(device=device.index, channels=channels, samplerate=int(rate), dtype="float32")
        except (sd.PortAudioError, ValueError) as error:
            logger.debug("%s rejects %d Hz: %s", device.name, int(rate), error)
            continue
        return int(rate)
    raise AudioDeviceError(f"{device.name} accepts none of the sample rates {tried} Hz with {channels} "
                           "channel(s) in float32. Pick another device.")


def register_stream(stream: object) -> None:
    """Track an open sounddevice stream, so ``refresh_devices`` can refuse to pull PortAudio from under it."""
    _streams.add(stream)


def refresh_devices() -> None:
    """Re-read the device list, which PortAudio reads only once at start-up.

    Raises:
        AudioDeviceError: a registered stream is still open, because re-initialising PortAudio
            would invalidate it.
    """
    sd, _ = load_backend()
    if sd is None:
        return
    if any(not stream.closed for stream in list(_streams)):
        raise AudioDeviceError("Stop recording and playback before refreshing the device list.")
    sd._terminate()
    sd._initialize()
