"""Fixtures for the playground tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run each playground test on one torch thread, then restore the previous count.

    The networks are so small that a second intra-op thread adds synchronisation without speeding
    anything up, and on a busy machine it made steps several times slower (bench/playground_steps.py).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
