"""Process-wide torch settings, in one place: the device to run on and CPU threads/denormals.

Used by the engine's CPU backends, ``monkeycam train`` and the evaluations. Flushing denormals
matters: without it BatchNorm/ReLU on denormal numbers ran the networks up to 3x slower on CPU.
"""

from __future__ import annotations

import os

import torch

from .errors import UserError


def default_threads() -> int:
    """CPU threads for the networks: every core but one (left to capture, face detection and
    output), at least one. On 2 cores the second thread mostly waits at synchronisation points."""
    cores = os.cpu_count() or 1
    return max(1, cores - 1)


def configure_cpu(threads: int | None = None) -> None:
    """Flush denormals, and with ``threads`` > 0 use that many intra-op threads (None or 0:
    leave torch's thread count as it is)."""
    torch.set_flush_denormal(True)
    if threads:
        torch.set_num_threads(threads)


def resolve_device(name: str) -> str:
    """``auto`` (CUDA when available, else the CPU), ``cpu``, ``cuda`` or ``cuda:N`` -> the device
    to use. UserError for another name, or for CUDA where torch sees none."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA GPU is available here (use --device cpu)")
    return name
