"""The Voice tab with real audio through the virtual microphone: record and convert, and add a new speaker."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile

from voice_test_helpers import (NEW_SPEAKER, NEW_SPEAKER_CLIPS, TARGET_SPEAKER, classify, new_speaker_clips,
                                record_through_virtual_mic, root_conftest, source_file)

from desktop_app.tabs.voice.models_page import ModelCatalog
from desktop_app.tabs.voice.tab import VoiceConversionTab
from engine.audio.features import SPEECH_MEL

pytestmark = pytest.mark.audio

CONVERT_TIMEOUT_MS = 120_000
FINETUNE_STEPS = 120  # small, so the test fits its time budget; the classifier still has to hear TF2
FINETUNE_TIMEOUT_MS = 240_000


@pytest.fixture()
def voice_tab(qtbot, virtual_audio, make_window):
    """The tab, built after the virtual devices exist so its device pickers list them."""
    window = make_window(tab_classes=(VoiceConversionTab,))
    return window, window.tabs.widget(0)


def test_record_and_convert(qtbot, voice_tab, job_recorder, request, datasets_dir):
    window, tab = voice_tab
    page = tab.convert_page
    jobs = job_recorder(window.context.worker)
    source = source_file(datasets_dir)

    with qtbot.waitSignal(page.source_panel.clip_changed, timeout=30_000):
        record_through_virtual_mic(qtbot, page.source_panel.recorder_widget, root_conftest(request.config), source)
    page.source_panel.trim_silence()
    start, end = page.source_panel.trim_span()
    assert (end - start) / page.source_panel.clip.audio.sample_rate_hz > 0.8 * soundfile.info(source).duration
    page.target_panel.select_speaker(TARGET_SPEAKER)

    kind, summary, _ = jobs.wait(page.convert(), timeout_ms=CONVERT_TIMEOUT_MS)

    assert kind == "finished", summary
    output = Path(summary["output"])
    info = soundfile.info(output)
    rate_hz = page.source_panel.clip.audio.sample_rate_hz
    assert info.samplerate == rate_hz, "the conversion must keep the recording's sample rate"
    assert info.frames == pytest.approx(end - start, abs=SPEECH_MEL.hop_length * rate_hz // 16000)
    predicted = classify(datasets_dir, output)
    assert predicted == TARGET_SPEAKER, f"the classifier hears {predicted} in the recorded clip converted to {TARGET_SPEAKER}"


def test_new_speaker_from_recorded_prompts(qtbot, voice_tab, job_recorder, request, datasets_dir):
    window, tab = voice_tab
    page = tab.speaker_page
    jobs = job_recorder(window.context.worker)
    tools = root_conftest(request.config)
    tab.show_new_speaker_page()
    page.name_edit.setText(NEW_SPEAKER)

    for index, clip in enumerate(new_speaker_clips(datasets_dir)):
        assert page.prompt_index == index
        record_through_virtual_mic(qtbot, page.recorder_widget, tools, clip, settle_ms=200)
    assert sorted(page.clips) == list(range(NEW_SPEAKER_CLIPS)), page.status_label.text()
    assert all(path.is_file() for path in page.clips.values())

    page.steps_spin.setValue(FINETUNE_STEPS)
    page.preview_spin.setValue(FINETUNE_STEPS // 2)
    kind, summary, cancelled = jobs.wait(page.start_finetune(), timeout_ms=FINETUNE_TIMEOUT_MS)

    assert (kind, cancelled) == ("finished", False), summary
    qtbot.waitUntil(lambda: NEW_SPEAKER in tab.catalog.current_speakers, timeout=10_000)
    assert tab.convert_page.target_panel.target_speaker == NEW_SPEAKER
    assert page.loss_plot.keys(), "no loss curve was drawn"
    assert page.last_preview is not None, "no converted preview arrived during fine-tuning"
    reopened = ModelCatalog(window.context.settings)
    assert NEW_SPEAKER in reopened.current_speakers, "the new speaker must persist across restarts"

    convert = tab.convert_page
    with qtbot.waitSignal(convert.source_panel.clip_changed, timeout=30_000):
        convert.source_panel.open_file(source_file(datasets_dir))
    kind, summary, _ = jobs.wait(convert.convert(), timeout_ms=CONVERT_TIMEOUT_MS)
    assert kind == "finished", summary
    predicted = classify(datasets_dir, Path(summary["output"]))
    assert predicted == NEW_SPEAKER, f"the classifier hears {predicted} in the conversion to the new speaker {NEW_SPEAKER}"


def test_speaker_sample_plays(qtbot, voice_tab):
    _, tab = voice_tab
    target = tab.convert_page.target_panel
    target.select_speaker(TARGET_SPEAKER)

    with qtbot.waitSignal(target.sample_player.finished, timeout=60_000) as finished:
        target.play_sample()
        qtbot.waitUntil(lambda: target.sample_player.is_playing, timeout=30_000)
        assert f"sample of {TARGET_SPEAKER}" in target.message_label.text()

    assert finished.args == [""], f"playback broke off: {finished.args}"
    assert target.sample_player.position_s > 0.5
