"""Where live driving frames come from: a camera, a video file (looped) or scripted motion.

Each source is opened and read on the pipeline's capture thread. ``read()`` blocks until the
next item is due and returns a :class:`DrivingItem`; a camera that stops delivering raises
:class:`~monkeycam.io.camera.CameraLost`. No torch here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..io.camera import Camera
from ..io.media import MediaError, open_video_capture
from .api import DrivingSpec

SCRIPTED_FPS = 30.0


@dataclass(frozen=True)
class DrivingItem:
    """One unit of driving motion.

    frame: (H, W, 3) uint8 RGB, or None for scripted motion; seconds: its time on the
    motion's own clock (video position, scripted trajectory time); captured: when it was
    captured (time.monotonic()), for latency.
    """

    frame: np.ndarray | None
    seconds: float
    captured: float


class FrameSource(Protocol):
    """A source of driving items, used from one thread."""

    name: str
    fps: float
    paced: bool  # True: items come in real time (drop stale ones); False: as fast as taken

    def open(self) -> None: ...

    def read(self, stop: threading.Event) -> DrivingItem | None:
        """The next item; None when the source has ended or ``stop`` was set."""
        ...

    def close(self) -> None: ...


class CameraSource:
    """A webcam (index) or any device/URL OpenCV opens, at the camera's own pace."""

    paced = True

    def __init__(self, device: int | str) -> None:
        self.device = device
        self.name = f"camera {device}"
        self.fps = 30.0
        self._camera: Camera | None = None

    def open(self) -> None:
        self.close()
        self._camera = Camera(self.device)
        self.fps = self._camera.fps

    def read(self, stop: threading.Event) -> DrivingItem | None:
        if self._camera is None:
            self.open()
        frame = self._camera.read()
        now = time.monotonic()
        return DrivingItem(frame, now, now)

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()


class VideoSource:
    """A video file, looped, delivered at its frame rate (or as fast as taken when unpaced)."""

    def __init__(self, path: str | Path, loop: bool = True, fps: float | None = None, paced: bool = True) -> None:
        self.path = Path(path)
        self.name = f"video {self.path.name}"
        self.loop = loop
        self.paced = paced
        self._requested_fps = fps
        self.fps = fps or _reported_fps(self.path) or 25.0
        self._capture = None
        self._index = 0
        self._clock_start = 0.0

    def open(self) -> None:
        self.close()
        self._capture = open_video_capture(self.path)
        if self._requested_fps is None:
            self.fps = _capture_fps(self._capture) or 25.0
        self._index = 0
        self._clock_start = time.monotonic()

    def read(self, stop: threading.Event) -> DrivingItem | None:
        if self._capture is None:
            self.open()
        frame = self._next_frame()
        if frame is None:
            return None
        seconds = self._index / self.fps
        if self.paced and stop.wait(max(0.0, self._clock_start + seconds - time.monotonic())):
            return None
        self._index += 1
        return DrivingItem(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), seconds, time.monotonic())

    def _next_frame(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if ok and frame is not None:
            return frame
        if not self.loop or self._index == 0:
            if self._index == 0:
                raise MediaError(f"{self.path} contains no decodable frame")
            return None
        loop_start = self._clock_start + self._index / self.fps
        self.open()  # rewinding by reopening works for every container
        self._clock_start = loop_start
        ok, frame = self._capture.read()
        return frame if ok else None

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


class ScriptedSource:
    """Ticks of the built-in head-movement trajectory (no frames) at ``fps``."""

    def __init__(self, fps: float | None = None, paced: bool = True) -> None:
        self.name = "scripted motion"
        self.fps = fps or SCRIPTED_FPS
        self.paced = paced
        self._index = 0
        self._clock_start: float | None = None

    def open(self) -> None:
        self._index = 0
        self._clock_start = time.monotonic()

    def read(self, stop: threading.Event) -> DrivingItem | None:
        if self._clock_start is None:
            self.open()
        seconds = self._index / self.fps
        if self.paced and stop.wait(max(0.0, self._clock_start + seconds - time.monotonic())):
            return None
        self._index += 1
        return DrivingItem(None, seconds, time.monotonic())

    def close(self) -> None:
        """The next read starts the trajectory's clock again."""
        self._clock_start = None


def _capture_fps(capture: cv2.VideoCapture) -> float | None:
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    return fps if 1.0 <= fps <= 240.0 else None


def _reported_fps(path: Path) -> float | None:
    """The frame rate a video file reports, or None when it cannot be opened (yet)."""
    try:
        capture = open_video_capture(path)
    except MediaError:
        return None
    try:
        return _capture_fps(capture)
    finally:
        capture.release()


def source_for(spec: DrivingSpec) -> FrameSource:
    """The frame source a :class:`DrivingSpec` describes."""
    if spec.kind == "camera":
        return CameraSource(spec.camera_index)
    if spec.kind == "video":
        if not spec.path:
            raise ValueError("a video driving source needs a path")
        return VideoSource(spec.path, spec.loop, spec.fps, spec.paced)
    if spec.kind == "scripted":
        return ScriptedSource(spec.fps, spec.paced)
    raise ValueError(f"unknown driving kind {spec.kind!r}; choose camera, video or scripted")
