"""The GUI's side of the engine: loads the model and drives the live pipeline off the GUI thread.

:class:`Session` lives in the GUI thread and owns one :class:`SerialWorker`. Every engine call
(loading a checkpoint, starting or stopping the pipeline, switching the source, the virtual
camera, recording) runs on that worker, in order; results and errors come back as signals.
Frames come from the pipeline's own threads through a :class:`PipelineBridge`.

The engine is reached only through :class:`EngineFactories`, so the GUI never imports torch
(the real factories import :mod:`monkeycam.engine` lazily, on the worker thread) and tests can
put a deliberately slow model behind the real pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..errors import UserError
from ..io.media import MediaError, VideoWriter
from ..live.api import (
    AnimationEngine,
    DrivingSpec,
    EngineSettings,
    LiveFrame,
    LivePipelineProtocol,
    VirtualCameraStatus,
)
from ..live.pipeline import EngineFactory, LivePipeline, StatusCallback
from .bridge import PipelineBridge
from .worker import SerialWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraChoice:
    """A camera the user can pick: its index and a name to show."""

    index: int
    name: str


@dataclass(frozen=True)
class PipelineCallbacks:
    """The callbacks a live pipeline calls from its threads."""

    on_frame: Callable[[LiveFrame], None]
    on_error: Callable[[str], None]
    on_status: Callable[[str], None]


PipelineCreator = Callable[[EngineSettings, AnimationEngine, DrivingSpec, PipelineCallbacks], LivePipelineProtocol]


@dataclass(frozen=True)
class EngineFactories:
    """How the session makes engines and pipelines and finds cameras."""

    create_engine: EngineFactory
    create_pipeline: PipelineCreator
    list_cameras: Callable[[], list[CameraChoice]]


def real_engine_factories() -> EngineFactories:
    """The factories of :mod:`monkeycam.engine`, imported lazily (it loads torch)."""
    return EngineFactories(_create_real_engine, _create_real_pipeline, _list_real_cameras)


def _create_real_engine(settings: EngineSettings, on_status: StatusCallback) -> AnimationEngine:
    from ..engine import create_engine  # torch, imported on the worker thread

    return create_engine(settings, on_status)


def _create_real_pipeline(settings: EngineSettings, engine: AnimationEngine, driving: DrivingSpec,
                          callbacks: PipelineCallbacks) -> LivePipelineProtocol:
    return make_live_pipeline(settings, engine, driving, callbacks)


def make_live_pipeline(settings: EngineSettings, engine: AnimationEngine, driving: DrivingSpec,
                       callbacks: PipelineCallbacks) -> LivePipelineProtocol:
    """The engine's real :class:`LivePipeline` around ``engine`` (tests put a slow engine here)."""
    return LivePipeline(settings, driving, engine=engine, on_frame=callbacks.on_frame, on_error=callbacks.on_error,
                        on_status=callbacks.on_status)


def _list_real_cameras() -> list[CameraChoice]:
    from ..io.camera import list_cameras

    return [camera_choice(item) for item in list_cameras()]


def camera_choice(item: Any) -> CameraChoice:
    """A :class:`CameraChoice` from an item of ``list_cameras()``: an ``(index, label)`` pair,
    a bare index, or an object with ``index`` (and optionally ``name``)."""
    if isinstance(item, int):
        return CameraChoice(item, f"Camera {item}")
    if isinstance(item, (tuple, list)):
        index, label = int(item[0]), str(item[1]) if len(item) > 1 else ""
        return CameraChoice(index, label or f"Camera {index}")
    index = int(item.index)
    return CameraChoice(index, str(getattr(item, "name", "") or f"Camera {index}"))


@dataclass(frozen=True)
class EngineInfo:
    """Which backend runs the model, and why; what the model animates ("face", "body", ...)."""

    backend: str
    reason: str
    category: str = "face"


class Session(QObject):
    """Engine and live pipeline, operated from the GUI thread without ever blocking it.

    Signals:
        engine_ready(EngineInfo), engine_failed(message): a model was (not) loaded.
        running_changed(bool): the pipeline started or stopped.
        frame_ready(): a new frame can be taken with :meth:`take_frame`.
        virtual_camera_status(VirtualCameraStatus): the virtual camera's state.
        recording_finished(message): a recording ended (where it was saved, or why not).
        error(message), status(message): from the engine or the pipeline, in words.
    """

    engine_ready = Signal(object)
    engine_failed = Signal(str)
    running_changed = Signal(bool)
    frame_ready = Signal()
    virtual_camera_status = Signal(object)  # VirtualCameraStatus
    recording_finished = Signal(str)
    error = Signal(str)
    status = Signal(str)
    cameras_found = Signal(list)
    _armed_failed = Signal(str)  # emitted on the worker thread, handled in the GUI thread

    def __init__(self, factories: EngineFactories, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factories = factories
        self._worker = SerialWorker("engine", self)
        self._bridge = PipelineBridge(self)
        self._bridge.frame_ready.connect(self.frame_ready)
        self._bridge.error.connect(self.error)
        self._bridge.status.connect(self.status)
        self._armed_failed.connect(self._on_recording_failed)
        # Owned by the worker thread: touched only inside jobs.
        self._engine: AnimationEngine | None = None
        self._engine_settings: EngineSettings | None = None  # what the engine was loaded with
        self._pipeline: LivePipelineProtocol | None = None
        self._armed_recording: str | None = None  # asked for before Start: begins with the pipeline
        # GUI-thread view of the state.
        self._running = False
        self._recording = False

    # ------------------------------------------------------------------ GUI-thread API

    @property
    def running(self) -> bool:
        """The pipeline is (believed to be) running."""
        return self._running

    @property
    def recording(self) -> bool:
        """A recording is in progress."""
        return self._recording

    @property
    def busy(self) -> bool:
        """Engine work is queued or running."""
        return self._worker.busy

    def take_frame(self) -> LiveFrame | None:
        """The newest frame from the pipeline not yet taken, or None."""
        return self._bridge.take_frame()

    def find_cameras(self) -> None:
        """List the cameras in the background; emits :attr:`cameras_found`."""
        self._worker.submit("cameras", self._factories.list_cameras, self.cameras_found.emit,
                            lambda message: self.cameras_found.emit([]))

    def load_engine(self, settings: EngineSettings) -> None:
        """Load (or reload) the model for ``settings`` in the background."""
        self._worker.submit("load", lambda: self._ensure_engine(settings), self.engine_ready.emit,
                            self.engine_failed.emit, supersede=True)

    def start(self, driving: DrivingSpec, source: np.ndarray, settings: EngineSettings, virtual_camera: bool) -> None:
        """Start animating ``source`` with ``driving``; the result arrives as signals."""
        self._running = True
        self.running_changed.emit(True)
        self._worker.submit("start", lambda: self._start_job(driving, source, settings, virtual_camera),
                            self._on_started, self._on_start_failed)

    def stop(self) -> None:
        """Stop the pipeline (and any recording) in the background."""
        self._running = False
        self.running_changed.emit(False)
        self._worker.submit("stop", self._stop_job, self._on_recording_result)

    def set_source(self, source: np.ndarray) -> None:
        """Switch the running animation to a new portrait."""
        self._worker.submit("source", lambda: self._with_pipeline(lambda p: p.set_source_image(source)),
                            on_error=self.error.emit, supersede=True)

    def reset_reference(self) -> None:
        """Re-anchor relative motion on the next driving frame."""
        self._worker.submit("reset", lambda: self._with_pipeline(lambda p: p.reset_reference()), on_error=self.error.emit)

    def set_frozen(self, frozen: bool) -> None:
        """Hold the output frame the call sees (True) or follow the animation again (False)."""
        self._worker.submit("freeze", lambda: self._with_pipeline(lambda p: p.set_frozen(frozen)),
                            on_error=self.error.emit)

    def update_settings(self, settings: EngineSettings) -> None:
        """Apply changed settings; a new checkpoint or backend reloads the model."""
        self._worker.submit("settings", lambda: self._update_settings_job(settings), self._on_settings_applied,
                            self._on_engine_error, supersede=True)

    def set_virtual_camera(self, enabled: bool) -> None:
        """Turn the virtual camera on or off; emits :attr:`virtual_camera_status`."""
        self._worker.submit("vcam", lambda: self._virtual_camera_job(enabled), self._on_virtual_camera_result,
                            self._on_virtual_camera_failed, supersede=True)

    def start_recording(self, path: str) -> None:
        """Record the animated output to ``path`` (.mp4, .avi or .webm)."""
        self._recording = True
        self._worker.submit("record", lambda: self._start_recording_job(path), on_error=self._on_recording_failed)

    def stop_recording(self) -> None:
        """Finish the recording; emits :attr:`recording_finished`."""
        self._worker.submit("record", self._stop_recording_job, self._on_recording_result, self._on_recording_failed)

    def poll(self) -> None:
        """Notice a pipeline that stopped by itself (called by the window's status timer)."""
        pipeline = self._pipeline
        if self._running and pipeline is not None and not self._worker.busy and not pipeline.running:
            self._running = False
            self.running_changed.emit(False)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop everything and join the worker (window closing)."""
        self._worker.shutdown(timeout, final=self._shutdown_job)

    # ------------------------------------------------------------------ worker-thread jobs

    def _ensure_engine(self, settings: EngineSettings) -> EngineInfo:
        if self._engine is None or settings.needs_reload(self._engine_settings):
            self._stop_pipeline()
            self._close_engine()
            self._engine = self._factories.create_engine(settings, self._bridge.on_status)
            self._engine_settings = settings
        else:
            self._engine.update_settings(settings)
        category = getattr(self._engine, "category", "face")  # engines without one animate faces
        return EngineInfo(self._engine.backend_name, self._engine.backend_reason, category)

    def _start_job(self, driving: DrivingSpec, source: np.ndarray, settings: EngineSettings,
                   virtual_camera: bool) -> tuple[EngineInfo, VirtualCameraStatus | None]:
        self._stop_pipeline()
        info = self._ensure_engine(settings)
        callbacks = PipelineCallbacks(self._bridge.on_frame, self._bridge.on_error, self._bridge.on_status)
        pipeline = self._factories.create_pipeline(settings, self._engine, driving, callbacks)  # type: ignore[arg-type]
        pipeline.set_source_image(source)
        pipeline.update_settings(settings)
        pipeline.reset_reference()  # the engine outlives pipelines: anchor on this run's first frame
        vcam_status = pipeline.set_virtual_camera(True) if virtual_camera else None
        pipeline.start()
        self._pipeline = pipeline
        armed, self._armed_recording = self._armed_recording, None
        if armed is not None:
            try:
                pipeline.start_recording(armed)
            except (MediaError, UserError, OSError) as error:  # the animation runs anyway
                self._armed_failed.emit(str(error))
        return info, vcam_status

    def _stop_job(self) -> str | None:
        self._armed_recording = None
        return self._stop_pipeline()

    def _stop_pipeline(self) -> str | None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is None:
            return None
        recorded = pipeline.stop_recording()
        pipeline.set_virtual_camera(False)
        pipeline.stop()
        return recorded

    def _with_pipeline(self, action: Callable[[LivePipelineProtocol], Any]) -> Any:
        if self._pipeline is None:
            return None
        return action(self._pipeline)

    def _update_settings_job(self, settings: EngineSettings) -> tuple[EngineInfo | None, VirtualCameraStatus | None]:
        """(the engine loaded again, the virtual camera reopened at a new frame size), or Nones."""
        if self._engine is not None and settings.needs_reload(self._engine_settings):
            if self._pipeline is not None:
                raise UserError("stop the animation before changing the model or the backend")
            return self._ensure_engine(settings), None
        if self._pipeline is not None:
            return None, self._pipeline.update_settings(settings)
        if self._engine is not None:
            self._engine.update_settings(settings)
        return None, None

    def _virtual_camera_job(self, enabled: bool) -> VirtualCameraStatus | None:
        if self._pipeline is None:
            return None
        return self._pipeline.set_virtual_camera(enabled)

    def _start_recording_job(self, path: str) -> None:
        if self._pipeline is None:
            VideoWriter(path).abort()  # a bad name or folder is said now, not at Start
            self._armed_recording = path
        else:
            self._pipeline.start_recording(path)

    def _stop_recording_job(self) -> str | None:
        self._armed_recording = None
        if self._pipeline is None:
            return None
        return self._pipeline.stop_recording()

    def _shutdown_job(self) -> None:
        self._stop_pipeline()
        self._close_engine()

    def _close_engine(self) -> None:
        engine, self._engine, self._engine_settings = self._engine, None, None
        close = getattr(engine, "close", None)  # the real engine releases its backend and detectors
        if callable(close):
            close()

    # ------------------------------------------------------------------ results (GUI thread)

    def _on_started(self, result: tuple[EngineInfo, VirtualCameraStatus | None]) -> None:
        info, vcam_status = result
        self.engine_ready.emit(info)
        if vcam_status is not None:
            self.virtual_camera_status.emit(vcam_status)

    def _on_start_failed(self, message: str) -> None:
        self._running = False
        self.running_changed.emit(False)
        if self._recording:  # one armed before Start: disarm it, and say so
            self.stop_recording()
        self.engine_failed.emit(message)

    def _on_engine_error(self, message: str) -> None:
        self.error.emit(message)

    def _on_settings_applied(self, result: tuple[EngineInfo | None, VirtualCameraStatus | None]) -> None:
        info, status = result
        if info is not None:
            self.engine_ready.emit(info)
        if status is not None:
            self.virtual_camera_status.emit(status)

    def _on_virtual_camera_result(self, status: VirtualCameraStatus | None) -> None:
        if status is not None:
            self.virtual_camera_status.emit(status)

    def _on_virtual_camera_failed(self, message: str) -> None:
        self.virtual_camera_status.emit(VirtualCameraStatus("unavailable", reason=message))

    def _on_recording_result(self, path: str | None) -> None:
        if self._recording:
            self._recording = False
            self.recording_finished.emit(f"Recording saved to {path}" if path else "Nothing was recorded.")

    def _on_recording_failed(self, message: str) -> None:
        self._recording = False
        self.recording_finished.emit(f"Recording failed: {message}")
