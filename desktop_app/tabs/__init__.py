"""The registry of main-window tabs, in display order.

Adding a tab is one line in TAB_CLASS_PATHS: "package.module:ClassName" of a ``Tab`` subclass.
The modules are imported when the window is built, so one broken tab is reported and skipped
instead of stopping the whole application.
"""

from __future__ import annotations

import importlib
import logging

from desktop_app.tabs.base import Tab

logger = logging.getLogger(__name__)

TAB_CLASS_PATHS: list[str] = [
    "desktop_app.tabs.voice.tab:VoiceConversionTab",
    "desktop_app.tabs.playground:PlaygroundTab",
    "desktop_app.tabs.audio_lab:AudioLabTab",
    "desktop_app.tabs.image_generation:ImageGenerationTab",
    "desktop_app.tabs.text_style:TextStyleTab",
]


def load_tab_class(path: str) -> type[Tab]:
    """Import and return the tab class named by ``path`` ("package.module:ClassName").

    Raises:
        ImportError: when the module or the class is missing, or the class is not a Tab.
    """
    module_name, _, class_name = path.partition(":")
    if not class_name:
        raise ImportError(f"Tab path {path!r} in desktop_app/tabs/__init__.py must look like 'package.module:ClassName'.")
    module = importlib.import_module(module_name)
    tab_class = getattr(module, class_name, None)
    if not (isinstance(tab_class, type) and issubclass(tab_class, Tab)):
        raise ImportError(f"{path!r} in desktop_app/tabs/__init__.py is not a Tab subclass; found {tab_class!r}.")
    return tab_class


def load_tab_classes() -> tuple[list[type[Tab]], list[tuple[str, Exception]]]:
    """Import every registered tab class.

    Returns:
        (classes in display order, [(path, error)] for the tabs that failed to import).
    """
    classes: list[type[Tab]] = []
    failures: list[tuple[str, Exception]] = []
    for path in TAB_CLASS_PATHS:
        try:
            classes.append(load_tab_class(path))
        except Exception as error:  # noqa: BLE001 - any import error of one tab must not stop the app
            logger.exception("Could not load tab %s", path)
            failures.append((path, error))
    return classes, failures
