"""The Voice conversion tab offscreen: launch, converting real VCC 2016 speech, batch, trim and model files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import Qt

from voice_test_helpers import TARGET_SPEAKER, classify, new_speaker_clips, source_file, vcc_files

from desktop_app.tabs.voice.batch_page import BatchConvertJob
from desktop_app.tabs.voice.convert_page import NEW_SPEAKER_ITEM
from desktop_app.tabs.voice.models_page import ModelCatalog, copy_model
from desktop_app.tabs.voice.tab import PAGE_KEYS, VoiceConversionTab
from engine.audio.features import SPEECH_MEL
from engine.core.jobs import CancelToken, Finished, JobError
from engine.voice import default_voice_model_path

CONVERT_TIMEOUT_MS = 120_000
RESUME_STEPS = 200


@pytest.fixture()
def voice_tab(qtbot, make_window):
    window = make_window(tab_classes=(VoiceConversionTab,))
    tab: VoiceConversionTab = window.tabs.widget(0)
    return window, tab


def load_source(qtbot, tab: VoiceConversionTab, path: Path) -> None:
    panel = tab.convert_page.source_panel
    with qtbot.waitSignal(panel.clip_changed, timeout=30_000):
        panel.open_file(path)


def test_tab_launches_with_default_model(voice_tab):
    window, tab = voice_tab

    assert window.tabs.tabText(0) == "Voice conversion"
    assert [tab.pages.tabText(index) for index in range(tab.pages.count())] == [
        "Convert", "Live", "New speaker", "Batch", "Models"]
    assert len(PAGE_KEYS) == tab.pages.count()
    assert tab.catalog.current_path == default_voice_model_path()
    speakers = tab.catalog.current_speakers
    assert {"SF1", "SM1", "TM3"} <= set(speakers), f"default model speakers: {speakers}"
    assert "TF2" not in speakers, "the default model must not have heard TF2"
    listed = [tab.convert_page.target_panel.speaker_list.item(row).text()
              for row in range(tab.convert_page.target_panel.speaker_list.count())]
    assert listed == [*speakers, NEW_SPEAKER_ITEM]
    assert tab.models_page.table.rowCount() >= 1


def test_convert_vcc_file_through_gui(qtbot, voice_tab, job_recorder, datasets_dir, tmp_path):
    window, tab = voice_tab
    page = tab.convert_page
    jobs = job_recorder(window.context.worker)
    source = source_file(datasets_dir)
    load_source(qtbot, tab, source)
    page.target_panel.select_speaker(TARGET_SPEAKER)

    kind, summary, cancelled = jobs.wait(page.convert(), timeout_ms=CONVERT_TIMEOUT_MS)
    assert (kind, cancelled) == ("finished", False), summary
    qtbot.waitUntil(lambda: page.result_panel.converted is not None, timeout=10_000)

    output = Path(summary["output"])
    source_info, output_info = soundfile.info(source), soundfile.info(output)
    assert output_info.samplerate == source_info.samplerate
    assert output_info.frames == pytest.approx(source_info.frames, abs=SPEECH_MEL.hop_length), (
        f"converted {output_info.duration:.3f} s from a {source_info.duration:.3f} s source")
    predicted = classify(datasets_dir, output)
    assert predicted == TARGET_SPEAKER, f"the classifier hears {predicted} in the conversion to {TARGET_SPEAKER}"

    image = page.result_panel.view.image_item.image
    assert image.shape[0] == SPEECH_MEL.n_mels, f"converted spectrogram shaped {image.shape}"
    assert page.source_panel.view.image_item.image is not None
    saved = page.result_panel.save(tmp_path / "converted.flac")
    assert soundfile.info(saved).format == "FLAC"
    assert soundfile.info(saved).frames == output_info.frames


def test_trimmed_source_converts_selection(qtbot, voice_tab, job_recorder, datasets_dir):
    window, tab = voice_tab
    page = tab.convert_page
    jobs = job_recorder(window.context.worker)
    load_source(qtbot, tab, source_file(datasets_dir))
    page.source_panel.set_trim(1.0, 3.0)
    assert page.source_panel.trim_span() == (16000, 48000)

    kind, summary, _ = jobs.wait(page.convert(), timeout_ms=CONVERT_TIMEOUT_MS)
    assert kind == "finished", summary
    assert soundfile.info(summary["output"]).frames == pytest.approx(32000, abs=SPEECH_MEL.hop_length)

    page.source_panel.set_trim(1.0, 1.1)
    assert page.convert() is None
    assert "at least" in page.status_label.text()


def test_ab_switch_keeps_position(qtbot, voice_tab, job_recorder, datasets_dir):
    window, tab = voice_tab
    page = tab.convert_page
    jobs = job_recorder(window.context.worker)
    load_source(qtbot, tab, source_file(datasets_dir))
    assert jobs.wait(page.convert(), timeout_ms=CONVERT_TIMEOUT_MS)[0] == "finished"
    qtbot.waitUntil(lambda: page.result_panel.converted is not None, timeout=10_000)
    result = page.result_panel

    result.a_button.setChecked(True)
    assert not result.playing_converted
    assert result.player_widget.duration_s == pytest.approx(result.source.duration_s)
    result.b_button.setChecked(True)
    assert result.player_widget.duration_s == pytest.approx(result.converted.duration_s)


def test_convert_without_source_explains(voice_tab):
    _, tab = voice_tab
    assert tab.convert_page.convert() is None
    assert "source" in tab.convert_page.status_label.text()


def test_batch_converts_folder(qtbot, voice_tab, job_recorder, datasets_dir, tmp_path):
    window, tab = voice_tab
    jobs = job_recorder(window.context.worker)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for path in vcc_files(datasets_dir, "SM1")[:2]:
        shutil.copy(path, inputs / path.name)
    (inputs / "notes.txt").write_text("not audio")
    tab.convert_page.target_panel.select_speaker(TARGET_SPEAKER)
    page = tab.batch_page
    page.input_edit.setText(str(inputs))
    page.output_edit.setText(str(tmp_path / "out"))
    page.format_combo.setCurrentIndex(page.format_combo.findData(".flac"))

    kind, summary, cancelled = jobs.wait(page.start(), timeout_ms=2 * CONVERT_TIMEOUT_MS)

    assert (kind, cancelled) == ("finished", False), summary
    outputs = sorted((tmp_path / "out").glob("*.flac"))
    assert [path.stem for path in outputs] == sorted(path.stem for path in inputs.glob("*.wav"))
    assert summary["failures"] == []
    assert page.progress_bar.value() == 2
    assert "Converted 2 files" in page.status_label.text()


class FailingOnSecond:
    """A ConvertJob stand-in that writes nothing and fails for the second file, to check the batch goes on."""

    calls: list[Path] = []

    def __init__(self, source: Path, target: str, output: Path, model_path: Path, **options: object) -> None:
        self.source = source

    def run(self, sink, cancel) -> None:
        FailingOnSecond.calls.append(self.source)
        if len(FailingOnSecond.calls) == 2:
            raise JobError(f"{self.source} is broken")
        sink(Finished({}))


def test_batch_job_lists_failures_and_goes_on(tmp_path):
    for name in ("a.wav", "b.wav", "c.wav"):
        (tmp_path / name).write_bytes(b"")
    FailingOnSecond.calls = []
    events = []
    job = BatchConvertJob(tmp_path, tmp_path / "out", "TM3", Path("model.safetensors"), convert_job=FailingOnSecond)
    job.run(events.append, CancelToken())

    finished = events[-1]
    assert isinstance(finished, Finished)
    assert len(finished.summary["converted"]) == 2
    assert finished.summary["failures"] == [f"b.wav: {tmp_path / 'b.wav'} is broken"]
    with pytest.raises(JobError, match="output folder is the input folder"):
        BatchConvertJob(tmp_path, tmp_path, "TM3", Path("model.safetensors")).run(events.append, CancelToken())


def test_model_export_import_round_trip(voice_tab, tmp_path):
    _, tab = voice_tab
    exported = tab.models_page.export_model(default_voice_model_path(), tmp_path / "exported")
    assert exported.is_file()
    assert exported.with_suffix(".json").is_file()

    renamed = tmp_path / "exported" / "my_voices.safetensors"
    exported.rename(renamed)
    exported.with_suffix(".json").rename(renamed.with_suffix(".json"))
    imported = tab.models_page.import_model(renamed)

    assert tab.catalog.find(imported) is not None
    tab.catalog.select(imported)
    assert tab.catalog.current_path == imported
    reopened = ModelCatalog(tab.context.settings)
    assert reopened.current_path == imported, "the chosen model must persist across restarts"
    imported.unlink()
    imported.with_suffix(".json").unlink()


def test_import_rejects_missing_json(tmp_path):
    weights = tmp_path / "lonely.safetensors"
    weights.write_bytes(b"x")
    with pytest.raises(ValueError, match="JSON beside"):
        copy_model(weights, tmp_path / "target")
    (tmp_path / "broken.safetensors").write_bytes(b"x")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="not readable JSON"):
        copy_model(tmp_path / "broken.safetensors", tmp_path / "target")


def test_log_mel_display_scale():
    from desktop_app.tabs.voice.common import log_mel_to_display_db

    log_mel = np.log(np.full((SPEECH_MEL.n_mels, 3), 10.0, dtype=np.float32))
    display = log_mel_to_display_db(log_mel)
    assert display.shape == (3, SPEECH_MEL.n_mels)
    assert display[0, 0] == pytest.approx(20.0, abs=1e-4)
    with pytest.raises(ValueError, match="log-mels shaped"):
        log_mel_to_display_db(np.zeros((3, 4)))


def test_speaker_sample_is_speech():
    from desktop_app.tabs.voice.convert_page import speaker_sample_audio

    audio = speaker_sample_audio(default_voice_model_path(), TARGET_SPEAKER)
    assert audio.channels == 1
    assert audio.duration_s > 0.5, f"the sample of {TARGET_SPEAKER} lasts {audio.duration_s:.2f} s"
    assert float(audio.samples.abs().max()) > 0.01, "the sample is silent"


def test_new_speaker_name_checks(voice_tab):
    _, tab = voice_tab
    page = tab.speaker_page
    cases = {"": "Type a name", "bad name!": "invalid", "SF1": "already has a speaker", "anna_2": ""}
    for name, expected in cases.items():
        page.name_edit.setText(name)
        problem = page.name_problem()
        if expected:
            assert expected in problem, f"name {name!r}: {problem!r}"
        else:
            assert problem == "", f"name {name!r}: {problem!r}"
    assert page.start_finetune() is None, "fine-tuning must not start without clips"
    assert "Record some prompts" in page.status_label.text()


def test_new_speaker_page_from_target_list(voice_tab):
    _, tab = voice_tab
    target = tab.convert_page.target_panel
    item = target.speaker_list.findItems(NEW_SPEAKER_ITEM, Qt.MatchFlag.MatchExactly)[0]
    target.speaker_list.itemClicked.emit(item)
    assert tab.pages.currentWidget() is tab.speaker_page


def test_import_folder_lists_clips(voice_tab, datasets_dir):
    _, tab = voice_tab
    page = tab.speaker_page
    files = page.import_folder(datasets_dir / "vcc2016_4spk" / "TF2")
    assert len(files) == len(vcc_files(datasets_dir, "TF2"))
    assert page.training_files() == files
    assert page.clip_list.count() == len(files)
    with pytest.raises(ValueError, match="contains no audio files"):
        page.import_folder(datasets_dir)


def test_finetune_cancel_and_resume(qtbot, voice_tab, job_recorder, datasets_dir):
    window, tab = voice_tab
    worker = window.context.worker
    jobs = job_recorder(worker)
    page = tab.speaker_page
    page.name_edit.setText("tf2_resumed")
    page.use_clips(new_speaker_clips(datasets_dir))
    page.steps_spin.setValue(RESUME_STEPS)  # long enough that the cancel lands before the end
    page.preview_spin.setValue(10)

    with qtbot.waitSignal(worker.checkpoint_saved, timeout=CONVERT_TIMEOUT_MS):
        first = page.start_finetune()
    page.cancel()
    kind, _, cancelled = jobs.wait(first, timeout_ms=CONVERT_TIMEOUT_MS)
    assert (kind, cancelled) == ("finished", True)
    assert page.resume_button.isEnabled(), "a checkpoint exists, so Resume must be offered"
    assert "tf2_resumed" not in tab.catalog.current_speakers

    kind, summary, cancelled = jobs.wait(page.start_finetune(resume=True), timeout_ms=CONVERT_TIMEOUT_MS)
    assert (kind, cancelled) == ("finished", False), summary
    steps, _ = page.loss_plot.series(page.loss_plot.keys()[0])
    assert steps[-1] == RESUME_STEPS
    assert "tf2_resumed" in tab.catalog.current_speakers
    assert tab.convert_page.target_panel.target_speaker == "tf2_resumed"


def test_copy_model_renames_when_taken(tmp_path):
    source = tmp_path / "voices.safetensors"
    source.write_bytes(b"weights")
    source.with_suffix(".json").write_text('{"kind": "voice.multi_target"}')
    folder = tmp_path / "installed"

    first = copy_model(source, folder)
    second = copy_model(source, folder, rename_if_taken=True)

    assert first.name == "voices.safetensors"
    assert second.name == "voices-2.safetensors"
    assert second.with_suffix(".json").read_text() == '{"kind": "voice.multi_target"}'
    with pytest.raises(ValueError, match="already exists"):
        copy_model(source, folder)


def test_options_persist_and_methods_listed(qtbot, voice_tab, make_window):
    window, tab = voice_tab
    target = tab.convert_page.target_panel
    methods = {target.method_combo.itemData(index): target.method_combo.model().item(index).isEnabled()
               for index in range(target.method_combo.count())}
    assert set(methods) == {"multi_target", "cyclegan_vc"}
    assert methods["multi_target"], "the shipped multi-target model must be selectable"
    has_pair_model = bool(tab.catalog.models_with_method("cyclegan_vc"))
    assert methods["cyclegan_vc"] == has_pair_model, "CycleGAN-VC is offered exactly when a pair model exists"

    target.pitch_spin.setValue(-3.5)
    target.vocoder_combo.setCurrentIndex(target.vocoder_combo.findData("griffin-lim"))
    tab.show_page("batch")
    reopened = make_window(tab_classes=(VoiceConversionTab,)).tabs.widget(0)

    assert reopened.convert_page.target_panel.pitch_shift == -3.5
    assert reopened.convert_page.target_panel.vocoder == "griffin-lim"
    assert reopened.pages.currentWidget() is reopened.batch_page


def test_metrics_flattened_for_table():
    from desktop_app.tabs.voice.models_page import flat_metrics, format_metrics

    metrics = {"vcc2016": {"stage2": {"mean": {"success": 0.75, "mcd_db": None}, "pairs": [{"success": 1.0}]}},
               "steps": 3000, "note": "text"}
    assert flat_metrics(metrics) == {"vcc2016/stage2/success": 0.75, "steps": 3000.0}
    assert format_metrics(metrics) == "vcc2016/stage2/success 0.75, steps 3000"
    assert format_metrics(None) == ""
