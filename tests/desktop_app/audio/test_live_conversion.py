"""Live voice conversion from the Voice tab through the virtual microphone and speaker for 10 seconds."""

from __future__ import annotations


import numpy as np
import pytest
import soundfile

from audio_test_helpers import windowed_rms

pytestmark = pytest.mark.audio

RUN_S = 10.0
# The maximum block the converter takes. Its compute per block hardly depends on the block length,
# because each block converts a context window too, so the maximum block leaves the most headroom
# on 2 shared cores.
LIVE_BLOCK_MS = 200
ENVELOPE_WINDOW_S = 0.05
MAX_LAG_S = 1.5  # the capture starts before the feed, and the conversion adds its latency
MIN_ENVELOPE_CORRELATION = 0.5
SPEECH_FILES = ("100010.wav", "100011.wav", "100012.wav", "100013.wav")  # SF1 sentences, 13 s together


def envelope_db(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    """Return the level of consecutive ENVELOPE_WINDOW_S windows in dB, floored at -80 dB."""
    rms = windowed_rms(samples, rate_hz, window_s=ENVELOPE_WINDOW_S)
    return 20.0 * np.log10(np.maximum(rms, 1e-4))


def envelope_match(fed: np.ndarray, fed_rate_hz: int, played: np.ndarray, played_rate_hz: int) -> tuple[float, float]:
    """Return the best correlation of the fed and played loudness envelopes over lags of 0 to MAX_LAG_S, and its lag."""
    fed_db, played_db = envelope_db(fed, fed_rate_hz), envelope_db(played, played_rate_hz)
    best = (-1.0, 0.0)
    for lag in range(int(MAX_LAG_S / ENVELOPE_WINDOW_S)):
        length = min(len(fed_db), len(played_db) - lag)
        correlation = float(np.corrcoef(fed_db[:length], played_db[lag:lag + length])[0, 1])
        best = max(best, (correlation, lag * ENVELOPE_WINDOW_S))
    return best


def speech_clip(datasets_dir, path, seconds: float) -> None:
    """Write ``seconds`` of real SF1 speech (sentences joined end to end) to ``path`` at 16 kHz."""
    parts = [soundfile.read(datasets_dir / "vcc2016_4spk" / "SF1" / name, dtype="float32")[0] for name in SPEECH_FILES]
    speech = np.concatenate(parts)[:int(seconds * 16000)]
    assert len(speech) == int(seconds * 16000), "the SF1 sentences are shorter than the run"
    soundfile.write(path, speech, 16000, subtype="FLOAT")


def test_live_conversion_ten_seconds(qtbot, settled_devices, audio_tools, make_window, datasets_dir, tmp_path):
    from desktop_app.tabs.voice.tab import VoiceConversionTab

    window = make_window(tab_classes=(VoiceConversionTab,))
    tab: VoiceConversionTab = window.tabs.widget(0)
    page = tab.live_page
    tab.show_page("live")
    page.input_picker.select_device("virtual_mic")
    page.output_picker.select_device("virtual_speaker")
    page.target_combo.setCurrentText("TM3")
    page.block_combo.setCurrentIndex(page.block_combo.findData(LIVE_BLOCK_MS))
    clip = tmp_path / "speech.wav"
    speech_clip(datasets_dir, clip, RUN_S)
    captured = tmp_path / "speaker.wav"

    with qtbot.waitSignal(page.stream.started, timeout=60_000):
        assert page.start(), page.message_label.text()
    capture = audio_tools.capture_virtual_speaker(captured, RUN_S + 1.0)
    feed = audio_tools.feed_virtual_mic(clip)
    qtbot.wait(int(RUN_S * 1000 / 2))
    page.target_combo.setCurrentText("SM1")  # the target changes without stopping
    page.pitch_spin.setValue(2.0)
    qtbot.waitUntil(lambda: feed.poll() is not None, timeout=int(RUN_S * 1000) + 10_000)
    qtbot.waitUntil(lambda: capture.poll() is not None, timeout=15_000)
    with qtbot.waitSignal(page.stream.stopped, timeout=10_000) as stopped:
        page.stop()
    stats = page.stream.stats()

    assert stopped.args == [""]
    report = (f"blocks of {stats.block_s * 1000:.0f} ms, compute {stats.compute_s_mean * 1000:.0f} ms mean / "
              f"{stats.compute_s_max * 1000:.0f} ms max, end-to-end latency {stats.latency_s * 1000:.0f} ms")
    assert stats.running_s >= RUN_S, report
    assert stats.output_underflows == 0, f"{stats.output_underflows} output underflows; {report}"
    assert stats.device_underflows == 0, f"PortAudio flagged {stats.device_underflows} underflows; {report}"
    assert stats.latency_s is not None, report
    assert stats.latency_s < 1.0, report
    assert "ms" in page.readouts["latency"].text(), "the latency read-out is empty"

    recorded, rate_hz = soundfile.read(captured, dtype="float32", always_2d=True)
    fed, fed_rate_hz = soundfile.read(clip, dtype="float32")
    correlation, lag_s = envelope_match(fed, fed_rate_hz, recorded.mean(axis=1), rate_hz)
    assert correlation > MIN_ENVELOPE_CORRELATION, (
        f"the speaker's loudness follows the fed speech with correlation {correlation:.2f} (best lag "
        f"{lag_s:.2f} s); {report}")
