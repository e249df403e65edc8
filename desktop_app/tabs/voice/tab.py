"""The Voice conversion tab: convert a clip, convert live, add a speaker, convert a folder, manage models."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from desktop_app.context import AppContext
from desktop_app.tabs.base import Tab
from desktop_app.tabs.voice.batch_page import BatchPage
from desktop_app.tabs.voice.common import BackgroundRunner, audio_files_in
from desktop_app.tabs.voice.convert_page import ConvertPage
from desktop_app.tabs.voice.live_page import LivePage
from desktop_app.tabs.voice.models_page import ModelCatalog, ModelsPage
from desktop_app.tabs.voice.speaker_page import NewSpeakerPage
from engine.core.paths import shared_datasets_dir

logger = logging.getLogger(__name__)

KEY_PAGE = "voice/page"
PAGE_KEYS = ("convert", "live", "new_speaker", "batch", "models")
# The demonstration (--autorun) uses real VCC 2016 speech from the shared data sets folder
# (engine.core.paths.shared_datasets_dir) when it is present: a sentence of SF1 converted to TM3,
# and 20 clips of TF2, whom the default model has not heard.
DEMO_SOURCE = ("vcc2016_4spk", "SF1", "100010.wav")
DEMO_TARGET = "TM3"
DEMO_NEW_SPEAKER = ("vcc2016_4spk", "TF2")
DEMO_CLIPS = 20
DEMO_FINETUNE_STEPS = 200


class VoiceConversionTab(Tab):
    """Pages for voice conversion; engine work goes through the worker, file analysis through a runner.

    The live page runs its own processing thread (see ``desktop_app.audio.live``), because it must
    keep up with the audio clock even while the worker fine-tunes. Keys: Space plays or stops, R
    starts or stops recording.
    """

    TITLE = "Voice conversion"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.runner = BackgroundRunner("voice-loader", self)
        self.catalog = ModelCatalog(context.settings, self)
        self.convert_page = ConvertPage(context, self.catalog, self.runner)
        self.live_page = LivePage(context, self.catalog)
        self.speaker_page = NewSpeakerPage(context, self.catalog)
        self.batch_page = BatchPage(context, self.catalog, self._conversion_options)
        self.models_page = ModelsPage(self.catalog, context.settings)

        self.pages = QTabWidget()
        self.pages.addTab(self.convert_page, "Convert")
        self.pages.addTab(self.live_page, "Live")
        self.pages.addTab(self.speaker_page, "New speaker")
        self.pages.addTab(self.batch_page, "Batch")
        self.pages.addTab(self.models_page, "Models")
        saved = context.settings.get_str(KEY_PAGE, PAGE_KEYS[0])
        self.pages.setCurrentIndex(PAGE_KEYS.index(saved) if saved in PAGE_KEYS else 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages)

        self.pages.currentChanged.connect(lambda index: context.settings.set(KEY_PAGE, PAGE_KEYS[index]))
        self._build_shortcuts()
        self.convert_page.target_panel.new_speaker_requested.connect(self.show_new_speaker_page)
        self.speaker_page.speaker_added.connect(self._on_speaker_added)

    def _build_shortcuts(self) -> None:
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self._play_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self, context=context)
        self._play_shortcut.activated.connect(self.toggle_playback)
        self._record_shortcut = QShortcut(QKeySequence(Qt.Key.Key_R), self, context=context)
        self._record_shortcut.activated.connect(self.toggle_recording)

    def toggle_playback(self) -> None:
        """Play or stop the converted clip (or the source before any conversion), or the new speaker's take."""
        if self.pages.currentWidget() is self.speaker_page:
            self.speaker_page.take_player.toggle_playback()
            return
        result = self.convert_page.result_panel
        player = result.player_widget if result.converted is not None else self.convert_page.source_panel.player_widget
        player.toggle_playback()

    def toggle_recording(self) -> None:
        """Start or stop recording the source (Convert page) or the shown prompt (New speaker page)."""
        if self.pages.currentWidget() is self.speaker_page:
            self.speaker_page.recorder_widget.toggle_recording()
        elif self.pages.currentWidget() is self.convert_page:
            self.convert_page.source_panel.recorder_widget.toggle_recording()

    def show_page(self, key: str) -> None:
        """Show the page ``key``, one of PAGE_KEYS.

        Raises:
            ValueError: for an unknown key.
        """
        if key not in PAGE_KEYS:
            raise ValueError(f"Unknown voice page {key!r}; expected one of {', '.join(PAGE_KEYS)}.")
        self.pages.setCurrentIndex(PAGE_KEYS.index(key))

    def show_new_speaker_page(self) -> None:
        self.show_page("new_speaker")
        self.speaker_page.name_edit.setFocus()

    def autorun(self) -> bool:
        """Convert a VCC 2016 sentence (Convert page) or fine-tune on 20 TF2 clips (New speaker page)."""
        datasets = shared_datasets_dir()
        page = PAGE_KEYS[self.pages.currentIndex()]
        if page == "new_speaker":
            folder = datasets.joinpath(*DEMO_NEW_SPEAKER)
            if not folder.is_dir():
                logger.warning("The fine-tuning demonstration needs %s; it is missing", folder)
                return False
            clips = sorted(audio_files_in(folder), key=lambda path: path.stat().st_size)[:DEMO_CLIPS]
            self.speaker_page.name_edit.setText(DEMO_NEW_SPEAKER[1])
            self.speaker_page.use_clips(clips)
            self.speaker_page.steps_spin.setValue(DEMO_FINETUNE_STEPS)
            self.speaker_page.preview_spin.setValue(max(1, DEMO_FINETUNE_STEPS // 8))
            return self.speaker_page.start_finetune() is not None
        source = datasets.joinpath(*DEMO_SOURCE)
        if not source.is_file():
            logger.warning("The conversion demonstration needs %s; it is missing", source)
            return False
        self.show_page("convert")
        page_ = self.convert_page
        try:
            page_.target_panel.select_speaker(DEMO_TARGET)
        except ValueError as error:
            logger.warning("%s", error)
            return False
        page_.source_panel.clip_changed.connect(self._convert_once_loaded)
        page_.source_panel.open_file(source)
        return True

    def shutdown(self) -> None:
        self.live_page.shutdown()
        self.convert_page.shutdown()
        self.speaker_page.shutdown()
        self.runner.shutdown()

    def _convert_once_loaded(self, _analysis: object) -> None:
        self.convert_page.source_panel.clip_changed.disconnect(self._convert_once_loaded)
        self.convert_page.source_panel.trim_silence()
        self.convert_page.convert()

    def _conversion_options(self) -> tuple[str | None, float, str]:
        target = self.convert_page.target_panel
        return target.target_speaker, target.pitch_shift, target.vocoder

    def _on_speaker_added(self, _model_path: Path) -> None:
        name = self.speaker_page.speaker_name
        try:
            self.convert_page.target_panel.select_speaker(name)
        except ValueError as error:
            logger.warning("The new speaker is not in the model's list: %s", error)
