"""Steady face crops in a video: a smoothed crop box and a face tracker.

Detections jitter by a few pixels from frame to frame; cropping them as they come makes the
animated face shake. :class:`CropBoxTracker` smooths the box with a One Euro filter (little lag
on fast moves, strong smoothing when still) and keeps it in place inside a small dead zone, so
small head movements stay visible to the keypoint detector instead of being cancelled by the
crop following them. Plain numpy; no mediapipe import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ..one_euro import one_euro_for_strength
from .crop import CropBox, square_box_around
from .detector import FaceBox


class CropBoxTracker:
    """Turns noisy per-frame crop boxes into a steady one.

    The box is smoothed with a One Euro filter in units of its own size, then held still until
    the smoothed box leaves a dead zone (``dead_zone`` of the size for the centre, ``size_tolerance``
    relative change for the size); beyond it the box follows just enough to bring it back to
    the zone's edge, so it never jumps.

    Args:
        smoothing: 0 (follow every detection) .. 1 (heavy smoothing).
        dead_zone: centre movement, as a fraction of the box size, ignored by the crop.
        size_tolerance: relative size change ignored by the crop.
    """

    def __init__(self, smoothing: float = 0.5, dead_zone: float = 0.04, size_tolerance: float = 0.06) -> None:
        self.dead_zone = dead_zone
        self.size_tolerance = size_tolerance
        self._filter = one_euro_for_strength(smoothing, beta=2.0)
        self._unit: float | None = None
        self._box: CropBox | None = None

    @property
    def box(self) -> CropBox | None:
        """The current steady box, or None before the first update."""
        return self._box

    def reset(self) -> None:
        self._unit = self._box = None
        if self._filter is not None:
            self._filter.reset()

    def update(self, box: CropBox, timestamp: float) -> CropBox:
        """Feed the box detected at ``timestamp`` (seconds) and get the steady box."""
        if self._unit is None:
            self._unit = max(box.size, 1.0)
        cx, cy = box.centre
        observed = np.array([cx, cy, box.size]) / self._unit
        smoothed = self._filter(observed, timestamp) if self._filter is not None else observed
        cx, cy, size = (smoothed * self._unit).tolist()
        self._box = self._hold(cx, cy, size)
        return self._box

    def _hold(self, cx: float, cy: float, size: float) -> CropBox:
        """Move the previous box only as far as needed to keep (cx, cy, size) in its dead zone."""
        if self._box is None:
            return CropBox(cx - size / 2, cy - size / 2, size)
        old_cx, old_cy = self._box.centre
        old_size = self._box.size
        new_size = _follow(old_size, size, self.size_tolerance * old_size)
        margin = self.dead_zone * new_size
        new_cx, new_cy = _follow(old_cx, cx, margin), _follow(old_cy, cy, margin)
        return CropBox(new_cx - new_size / 2, new_cy - new_size / 2, new_size)


def _follow(current: float, target: float, margin: float) -> float:
    """``current`` moved towards ``target`` until it is within ``margin`` of it."""
    if target > current + margin:
        return target - margin
    if target < current - margin:
        return target + margin
    return current


class FaceLocator(Protocol):
    """Anything that finds the largest face in an (H, W, 3) uint8 RGB frame (e.g. FaceDetector)."""

    def largest(self, frame: np.ndarray) -> FaceBox | None: ...


@dataclass(frozen=True)
class TrackedFace:
    """The crop to use for one frame: ``box`` in frame pixels; ``face_found`` for this frame."""

    box: CropBox
    face_found: bool


def whole_frame_box(width: int, height: int, cover: bool = False) -> CropBox:
    """A centred square over a frame: inside it (side min(w, h)), or covering it (max(w, h))."""
    size = float(max(width, height) if cover else min(width, height))
    return CropBox((width - size) / 2, (height - size) / 2, size)


class FaceTracker:
    """A steady square face crop for every frame of a video or camera stream.

    Runs the detector on a copy of the frame shrunk to ``detect_side`` pixels, every
    ``detect_every`` frames (faces move little between frames at 25-30 fps; detection costs
    a few milliseconds), turns the face into a crop box ``crop_scale`` times its size and
    smooths it with :class:`CropBoxTracker`. When the face is lost, the last box is kept;
    before any face, the centred square of the frame is used.

    Args:
        detector: the face finder, or None to always use the centred square.
    """

    def __init__(
        self,
        detector: FaceLocator | None,
        crop_scale: float = 2.0,
        smoothing: float = 0.5,
        detect_side: int = 320,
        detect_every: int = 1,
    ) -> None:
        self.detector = detector
        self.crop_scale = crop_scale
        self.detect_side = detect_side
        self.detect_every = max(1, detect_every)
        self._tracker = CropBoxTracker(smoothing)
        self._frames = 0
        self._last: TrackedFace | None = None
        self._shape: tuple[int, ...] | None = None

    def reset(self) -> None:
        self._tracker.reset()
        self._frames = 0
        self._last = self._shape = None

    def update(self, frame: np.ndarray, timestamp: float) -> TrackedFace:
        """The crop for ``frame`` (H, W, 3) uint8 RGB seen at ``timestamp`` seconds."""
        due = self._last is None or self._frames % self.detect_every == 0 or frame.shape != self._shape
        self._frames += 1
        self._shape = frame.shape
        if not due and self._last is not None:
            return self._last
        face = self._detect(frame)
        if face is None:
            box = self._tracker.box or whole_frame_box(frame.shape[1], frame.shape[0])
            self._last = TrackedFace(box, False)
        else:
            box = square_box_around(face, self.crop_scale)
            self._last = TrackedFace(self._tracker.update(box, timestamp), True)
        return self._last

    def _detect(self, frame: np.ndarray) -> FaceBox | None:
        if self.detector is None:
            return None
        return detect_scaled(self.detector, frame, self.detect_side)


PORTRAIT_DETECT_SIDE = 512  # portraits are shrunk to this side for face detection


def portrait_crop_box(image: np.ndarray, detector: FaceLocator | None, crop_scale: float) -> tuple[CropBox, bool]:
    """The square a portrait is animated in, and whether a face was found.

    With a face: ``crop_scale`` times its size around it (:func:`square_box_around`). Without
    one (or without a detector): the centred square covering the whole image. The engine and
    the GUI's preview both use this, so the preview shows exactly what is animated.
    """
    face = detect_scaled(detector, image, PORTRAIT_DETECT_SIDE) if detector is not None else None
    if face is None:
        return whole_frame_box(image.shape[1], image.shape[0], cover=True), False
    return square_box_around(face, crop_scale), True


def detect_scaled(detector: FaceLocator, frame: np.ndarray, max_side: int) -> FaceBox | None:
    """The largest face in ``frame``, detected on a copy shrunk to ``max_side`` pixels at most
    (detection cost grows with the frame; accuracy does not need more). Frame pixels."""
    height, width = frame.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    if factor == 1.0:
        return detector.largest(frame)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    face = detector.largest(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    if face is None:
        return None
    return FaceBox(face.x / factor, face.y / factor, face.width / factor, face.height / factor, face.score)
