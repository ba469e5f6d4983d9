"""The torch-free live layer: the engine boundary's types, the live pipeline, driving sources
and scripted head motion.

Nothing here imports torch (an import-linter contract in pyproject.toml keeps it so), so the
GUI and the commands can use it freely. The torch engine (:mod:`monkeycam.engine`) implements
:class:`AnimationEngine`; the pipeline is handed an engine, or a factory that builds one on its
inference thread.
"""

from __future__ import annotations

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
    SettingsError,
    SourceInfo,
    StageTimings,
    VirtualCameraStatus,
)
from .pipeline import LatestSlot, LivePipeline
from .scripted import scripted_pose

__all__ = [
    "BACKEND_NAMES", "AnimatedFrame", "AnimationEngine", "DrivingSpec", "EngineError", "EngineSettings", "HeadPose",
    "KeypointOverlay", "LatestSlot", "LiveFrame", "LivePipeline", "LivePipelineProtocol", "PipelineStats",
    "ScriptedAnimationEngine", "SettingsError", "SourceInfo", "StageTimings", "VirtualCameraStatus", "scripted_pose",
]
