"""The shared objects every tab receives: the engine worker, the settings and the compute choice."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.device import Compute

from desktop_app.settings import Settings
from desktop_app.worker import EngineWorker


@dataclass(frozen=True)
class AppContext:
    worker: EngineWorker  # the only way a tab runs engine work
    settings: Settings
    compute: Compute  # the device and precision jobs must use
