"""Detects Qt binding releases with bugs known to crash GAN Studio."""

from __future__ import annotations

import logging
import sys

import PySide6
from PySide6.QtCore import QObject, Signal

logger = logging.getLogger(__name__)

# Measured with CPython 3.11: PySide6 6.12.0 drops a reference to True on every Python-side
# Signal.emit and to None on every Python paint() override, so a plotting app aborts with
# "deallocating True or False" / "deallocating None" after a few thousand emits. 6.11.3 is fine.
SAFE_PYSIDE_HINT = ".venv/bin/pip install 'PySide6-Essentials==6.11.3'"


class _Probe(QObject):
    fired = Signal(int)


def signal_emit_leaks_references(emits: int = 64) -> bool:
    """Return True when emitting a signal loses a reference to True (the PySide6 6.12.0 bug).

    Always False on CPython 3.12 and later, where True and None are immortal and the lost
    references do no harm.
    """
    if sys.version_info >= (3, 12):
        return False
    probe = _Probe()
    before = sys.getrefcount(True)
    for value in range(emits):
        probe.fired.emit(value)
    return sys.getrefcount(True) - before <= -emits // 2


def binding_problem() -> str | None:
    """Return a message for the user when the installed PySide6 is known to crash, else None."""
    if not signal_emit_leaks_references():
        return None
    return (f"PySide6 {PySide6.__version__} loses a Python reference on every Qt signal, so GAN Studio "
            f"will crash after a few minutes of training. Install a fixed version with: {SAFE_PYSIDE_HINT}")
