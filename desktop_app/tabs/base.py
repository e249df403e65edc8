"""The base class of a tab: a widget with a title, built from the AppContext."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtWidgets import QWidget

from desktop_app.context import AppContext


class Tab(QWidget):
    """A main-window tab. Subclasses set TITLE and hand all engine work to ``context.worker``.

    A tab must never run training or other long work on the GUI thread. It builds a job, submits
    it, and draws what the worker's signals deliver.
    """

    TITLE: ClassVar[str] = ""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context

    def autorun(self) -> bool:
        """Start the tab's demonstration job (``gan-studio --autorun``); return False when there is none."""
        return False

    def shutdown(self) -> None:
        """Save the tab's settings before the window closes; the worker is shut down afterwards."""
