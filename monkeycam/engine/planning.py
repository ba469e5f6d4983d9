"""Choosing a backend: which to try for a requested name on this machine, in which order
(each later one is the fallback of the earlier), and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..live.api import BACKEND_NAMES
from ..model import MonkeyNet
from .backends import BUILDERS, Backend, openvino_installed, tensorrt_installed


@dataclass(frozen=True)
class BackendCandidate:
    """A backend that may be built: ``build(model)`` returns it ready (warmed up) or raises."""

    name: str
    build: Callable[[MonkeyNet], Backend]


@dataclass(frozen=True)
class BackendPlan:
    """The backends to try, in order (each later one is the fallback of the earlier), and why."""

    names: tuple[str, ...]
    reason: str


def plan_backends(requested: str, cuda: bool, tensorrt: bool) -> BackendPlan:
    """Which backends to try for ``requested`` ("auto", "cpu", "cuda", "compile", "tensorrt",
    "openvino").

    ``auto`` picks the fastest backend that builds in seconds: TensorRT when installed, else
    CUDA graphs in float16 on a GPU; the CPU otherwise. torch.compile is never picked by
    ``auto``: its build takes about a minute on a small CPU (choose it explicitly). Nor is
    OpenVINO: in float32 it measured no faster than torch's channels_last path on the CPUs
    tried (docs/performance.md).
    """
    gpu_chain = ("cuda", "cpu") if cuda else ("cpu",)
    if requested == "auto":
        if not cuda:
            return BackendPlan(("cpu",), "auto: no CUDA GPU, so cpu (float32); --backend compile runs faster "
                                         "after a build of about a minute")
        if tensorrt:
            return BackendPlan(("tensorrt", *gpu_chain), "auto: CUDA GPU with torch-tensorrt installed, so "
                                                         "tensorrt (float16), the fastest")
        return BackendPlan(gpu_chain, "auto: CUDA GPU, so cuda (float16, CUDA graphs), the fastest backend that "
                                      "builds in seconds (torch-tensorrt is not installed)")
    if requested == "cpu":
        return BackendPlan(("cpu",), "cpu as requested")
    if requested == "cuda":
        return BackendPlan(gpu_chain, "cuda as requested")
    if requested == "compile":
        return BackendPlan(("compile", *gpu_chain), "compile as requested")
    if requested == "tensorrt":
        return BackendPlan(("tensorrt", *gpu_chain), "tensorrt as requested")
    if requested == "openvino":
        return BackendPlan(("openvino", "cpu"), "openvino as requested")
    raise ValueError(f"unknown backend {requested!r}; choose one of {', '.join(BACKEND_NAMES)}")


def candidate(name: str, threads: int = 0) -> BackendCandidate:
    """The standard builder of backend ``name`` (built and warmed up when called)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BUILDERS)}")

    def build(model: MonkeyNet) -> Backend:
        backend = BUILDERS[name](model, threads)
        backend.warm_up()
        return backend

    return BackendCandidate(name, build)


def available_backends() -> list[str]:
    """Backends worth trying on this machine, in :data:`BUILDERS` order (cuda and tensorrt
    need a CUDA GPU, tensorrt also torch-tensorrt, openvino the openvino package)."""
    cuda = torch.cuda.is_available()
    usable = {"cuda": cuda, "tensorrt": cuda and tensorrt_installed(), "openvino": openvino_installed()}
    return [name for name in BUILDERS if usable.get(name, True)]
