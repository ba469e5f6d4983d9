"""Webcams as RGB uint8 frames, and a quick list of the cameras present.

OpenCV's BGR stays inside this module. OpenCV prints warnings for every camera index it
cannot open; probing silences them for its own duration only.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .media import MediaError

DEFAULT_CAMERA_FPS = 30.0


class CameraError(MediaError):
    """A camera cannot be opened or stopped delivering frames (one line for the user)."""


class CameraLost(CameraError):
    """An open camera stopped delivering frames (unplugged, taken by another program...)."""


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's log while probing devices, then restore the previous level."""
    logging = cv2.utils.logging
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def _capture_api() -> int:
    """The OpenCV capture API for local cameras on this platform."""
    if sys.platform.startswith("linux"):
        return cv2.CAP_V4L2
    if sys.platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_ANY


def _open_capture(device: int | str) -> cv2.VideoCapture:
    with _quiet_opencv():
        capture = cv2.VideoCapture(device, _capture_api()) if isinstance(device, int) else cv2.VideoCapture(device)
    return capture


def _linux_label(index: int) -> str | None:
    name = Path(f"/sys/class/video4linux/video{index}/name")
    try:
        return name.read_text().strip() or None
    except OSError:
        return None


def _candidate_indices(max_index: int) -> list[int]:
    """Indices worth probing: on Linux only existing /dev/videoN nodes (probing is instant)."""
    if sys.platform.startswith("linux"):
        found = []
        for node in Path("/dev").glob("video*"):
            suffix = node.name[len("video"):]
            if suffix.isdigit() and int(suffix) <= max_index:
                found.append(int(suffix))
        return sorted(found)
    return list(range(max_index + 1))


def list_cameras(max_index: int = 9) -> list[tuple[int, str]]:
    """Cameras that open, as (index, label), probing indices 0..max_index.

    Fast: on Linux only the /dev/videoN nodes that exist are tried; elsewhere probing stops
    after two consecutive indices fail to open.
    """
    cameras: list[tuple[int, str]] = []
    misses = 0
    for index in _candidate_indices(max_index):
        capture = _open_capture(index)
        try:
            opened = capture.isOpened()
            if opened:
                width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
                height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        finally:
            capture.release()
        if not opened:
            misses += 1
            if misses >= 2 and not sys.platform.startswith("linux"):
                break
            continue
        misses = 0
        label = _linux_label(index) or f"Camera {index}"
        cameras.append((index, f"{label} ({width}x{height})" if width and height else label))
    return cameras


def describe_cameras(cameras: list[tuple[int, str]]) -> str:
    """'cameras found: 0 (Integrated Camera), 2 (...)' or 'no camera found'."""
    if not cameras:
        return "no camera found"
    return "cameras found: " + ", ".join(f"{index} ({label})" for index, label in cameras)


class Camera:
    """A camera (or any device/URL OpenCV opens) delivering (H, W, 3) uint8 RGB frames.

    Args:
        device: camera index, or a device path / stream URL (e.g. ``/dev/video2``, ``rtsp://...``).
        width, height, fps: requested capture format (the camera may pick another).

    Raises:
        CameraError: the camera does not exist or delivers no frame.
    """

    def __init__(
        self, device: int | str, width: int | None = None, height: int | None = None, fps: float | None = None
    ) -> None:
        self.device = device
        self._capture = _open_capture(device)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(f"{self.name} not found ({describe_cameras(list_cameras())})")
        self._request_format(width, height, fps)
        self._first: np.ndarray | None = self._grab()
        if self._first is None:
            self._capture.release()
            raise CameraError(f"{self.name} opened but delivered no frame (is another program using it?)")

    @property
    def name(self) -> str:
        return f"camera {self.device}"

    @property
    def fps(self) -> float:
        """The frame rate the camera reports (30 when it reports none)."""
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        return fps if 1.0 <= fps <= 240.0 else DEFAULT_CAMERA_FPS

    def _request_format(self, width: int | None, height: int | None, fps: float | None) -> None:
        if width:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self._capture.set(cv2.CAP_PROP_FPS, fps)

    def _grab(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if not ok or frame is None:
            return None
        if frame.ndim == 2:
            return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def read(self) -> np.ndarray:
        """The next frame (blocks until the camera delivers it). Raises CameraLost."""
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        frame = self._grab()
        if frame is None:
            raise CameraLost(f"{self.name} stopped delivering frames")
        return frame

    def close(self) -> None:
        """Release the device; safe to call twice."""
        self._capture.release()

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
