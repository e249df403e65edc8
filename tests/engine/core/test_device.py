"""Device and precision choice."""

from __future__ import annotations

import pytest
import torch

from engine.core.device import pick_compute


def test_cpu_fp32_override():
    compute = pick_compute("cpu", "fp32")
    assert compute.device == torch.device("cpu")
    assert compute.autocast_dtype is None


def test_bf16_autocast_runs_matmul_in_bf16():
    compute = pick_compute("cpu", "bf16")
    with compute.autocast():
        result = torch.randn(4, 4) @ torch.randn(4, 4)
    assert result.dtype == torch.bfloat16


def test_unknown_device_lists_choices():
    with pytest.raises(ValueError, match="expected one of auto, cuda, mps, cpu"):
        pick_compute("tpu")


def test_environment_override(monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_PRECISION", "fp32")
    assert pick_compute("cpu").precision == "fp32"
