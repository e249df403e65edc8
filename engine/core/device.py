"""Choose the compute device and numeric precision in one place, overridable by the user."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Iterator

import torch

logger = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
PRECISION_CHOICES = ("auto", "bf16", "fp32")

# Environment overrides, so a user or a CI run can force a choice without touching settings.
DEVICE_ENV = "GAN_STUDIO_DEVICE"
PRECISION_ENV = "GAN_STUDIO_PRECISION"


@dataclass(frozen=True)
class Compute:
    """A resolved device and precision: what jobs run on and how they autocast."""

    device: torch.device
    precision: str  # "bf16" or "fp32"
    reason: str  # why this precision was picked, shown in the status bar tooltip

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.precision == "bf16" else None

    def describe(self) -> str:
        """Return a short label such as "cpu · bf16"."""
        return f"{self.device.type} · {self.precision}"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Run the enclosed block under bf16 autocast when that precision was chosen."""
        if self.autocast_dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype):
            yield


def cpu_supports_bf16() -> bool:
    """Return True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX on x86, BF16 on Arm).

    Without it, bf16 autocast on the CPU is emulated and slower than fp32.
    """
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # older torch builds lack the helper
        capability = ""
    if capability in ("AVX512_BF16", "AMX", "AVX512_AMX"):
        return True
    flags = _cpu_flags()
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & flags)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _available_device(requested: str) -> torch.device:
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("Device 'cuda' was requested but no CUDA GPU is visible; choose 'auto' or 'cpu'.")
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if requested == "mps" or (requested == "auto" and mps_ok):
        if not mps_ok:
            raise ValueError("Device 'mps' was requested but Metal is not available; choose 'auto' or 'cpu'.")
        return torch.device("mps")
    return torch.device("cpu")


def pick_compute(device: str | None = None, precision: str | None = None) -> Compute:
    """Resolve the device and precision for jobs.

    Args:
        device: one of DEVICE_CHOICES; None reads GAN_STUDIO_DEVICE, then falls back to "auto".
        precision: one of PRECISION_CHOICES; None reads GAN_STUDIO_PRECISION, then "auto".

    Returns:
        The resolved Compute. "auto" precision means bf16 on a CUDA GPU with bf16 support or a CPU
        with native bf16 instructions, fp32 everywhere else.

    Raises:
        ValueError: for an unknown name, or a device that is not present.
    """
    device = (device or os.environ.get(DEVICE_ENV) or "auto").lower()
    precision = (precision or os.environ.get(PRECISION_ENV) or "auto").lower()
    if device not in DEVICE_CHOICES:
        raise ValueError(f"Unknown device {device!r}; expected one of {', '.join(DEVICE_CHOICES)}.")
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"Unknown precision {precision!r}; expected one of {', '.join(PRECISION_CHOICES)}.")

    resolved = _available_device(device)
    if resolved.type == "cpu":
        # Subnormal floats (below about 1e-38) are slow on x86 CPUs, and the cross-aligned text model's
        # low-temperature softmax produces them: bench/text_style_speed.py --keep-subnormals measures
        # its fp32 step at 910 ms against 544 ms flushed. This setting applies to the whole process.
        torch.set_flush_denormal(True)
    if precision != "auto":
        return Compute(resolved, precision, f"{precision} requested")

    if resolved.type == "cuda" and torch.cuda.is_bf16_supported():
        return Compute(resolved, "bf16", "the GPU supports bf16")
    if resolved.type == "cpu" and cpu_supports_bf16():
        return Compute(resolved, "bf16", "the CPU has native bf16 instructions")
    return Compute(resolved, "fp32", f"no native bf16 on this {resolved.type}")
