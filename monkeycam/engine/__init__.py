"""The real-time animation engine and the live pipeline.

Importing this package does not import torch (the GUI imports it): the boundary types come
from :mod:`.api`, the pipeline is torch-free, and the torch-based engine (:mod:`.engine`,
:mod:`.backends`) is imported on first use of :func:`create_engine` or :class:`Engine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..io.camera import list_cameras
from .api import (
    BACKEND_NAMES,
    AnimatedFrame,
    AnimationEngine,
    DrivingSpec,
    EngineError,
    EngineSettings,
    HeadPose,
    KeypointOverlay,
    LiveFrame,
    LivePipelineProtocol,
    PipelineStats,
    ScriptedAnimationEngine,
    SourceInfo,
    StageTimings,
)
from .fake import FakeEngine
from .pipeline import LatestSlot, LivePipeline
from .scripted import scripted_pose

if TYPE_CHECKING:
    from .engine import Engine

__all__ = [
    "BACKEND_NAMES", "AnimatedFrame", "AnimationEngine", "DrivingSpec", "Engine", "EngineError", "EngineSettings",
    "FakeEngine", "HeadPose", "KeypointOverlay", "LatestSlot", "LiveFrame", "LivePipeline", "LivePipelineProtocol",
    "PipelineStats", "ScriptedAnimationEngine", "SourceInfo", "StageTimings", "available_backends",
    "create_engine", "list_cameras", "scripted_pose",
]


def create_engine(settings: EngineSettings, **options: Any) -> Engine:
    """Load the model and build the backend (imports torch). See :func:`.engine.create_engine`
    for the options (model, face_detection, reuse_source_features, fallback, on_status)."""
    from .engine import create_engine as _create_engine

    return _create_engine(settings, **options)


def available_backends() -> list[str]:
    """Backend names worth offering on this machine (imports torch)."""
    from .backends import available_backends as _available

    return _available()


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from .engine import Engine

        return Engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
