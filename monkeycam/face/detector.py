"""mediapipe face detection and face mesh behind small, numpy-only classes.

mediapipe is imported lazily (it is slow to import and pulls matplotlib). Both classes take
(H, W, 3) uint8 RGB frames and return pixel coordinates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import UserError

log = logging.getLogger(__name__)


class FaceUnavailable(UserError, RuntimeError):
    """mediapipe (or its bundled models) cannot be loaded."""


@dataclass(frozen=True)
class FaceBox:
    """A detected face in pixels: top-left corner (x, y), size (width, height), score in [0, 1]."""

    x: float
    y: float
    width: float
    height: float
    score: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2

    @property
    def area(self) -> float:
        return self.width * self.height


def _solutions():
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # mediapipe 0.10.14 calls a protobuf API deprecated in newer protobuf on every result
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)
    try:
        import mediapipe as mp

        return mp.solutions
    except (ImportError, AttributeError) as error:
        raise FaceUnavailable(
            f"mediapipe face models are unavailable ({error}); install mediapipe==0.10.14"
        ) from None


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment (debug logging, -v, keeps it)."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _started_quietly(create):
    """Create a mediapipe solution and run it once on a blank frame, with stderr silenced:
    mediapipe starts its graph on threads of its own that load the models and print
    TensorFlow Lite and absl notices ("Created TensorFlow Lite XNNPACK delegate", "Feedback
    manager requires...") straight to the process's stderr, burying the commands' one-line
    messages. The first ``process`` call waits until the graph is up, so nothing is left to
    print once this returns."""
    with _native_stderr_silenced():
        solution = create()
        solution.process(np.zeros((64, 64, 3), np.uint8))
    return solution


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.shape} {frame.dtype}")
    return np.ascontiguousarray(frame)


class FaceDetector:
    """Face boxes in a frame.

    Args:
        min_confidence: detections below this score are ignored.
        full_range: mediapipe's full-range model (faces up to ~5 m, better for small faces);
            False uses the short-range model (faces within ~2 m, a webcam).
    """

    def __init__(self, min_confidence: float = 0.5, full_range: bool = True) -> None:
        solutions = _solutions()
        self._detector = _started_quietly(lambda: solutions.face_detection.FaceDetection(
            model_selection=1 if full_range else 0, min_detection_confidence=min_confidence
        ))

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """All faces, largest first."""
        frame = _check_frame(frame)
        height, width = frame.shape[:2]
        result = self._detector.process(frame)
        boxes = []
        for detection in result.detections or []:
            rel = detection.location_data.relative_bounding_box
            boxes.append(
                FaceBox(rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height, float(detection.score[0]))
            )
        return sorted(boxes, key=lambda b: b.area, reverse=True)

    def largest(self, frame: np.ndarray) -> FaceBox | None:
        """The largest face, or None."""
        boxes = self.detect(frame)
        return boxes[0] if boxes else None

    def close(self) -> None:
        self._detector.close()

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PortraitDetector:
    """Faces in still portraits: mediapipe's full-range model, and when it finds nothing the
    short-range one (the full-range model misses some large, close-up faces; the short-range
    one misses small faces). The short-range model is loaded on first need."""

    def __init__(self, min_confidence: float = 0.5) -> None:
        self._min_confidence = min_confidence
        self._full = FaceDetector(min_confidence, full_range=True)
        self._short: FaceDetector | None = None

    def largest(self, frame: np.ndarray) -> FaceBox | None:
        """The largest face found by the full-range model, else by the short-range one, or None."""
        face = self._full.largest(frame)
        if face is not None:
            return face
        if self._short is None:
            self._short = FaceDetector(self._min_confidence, full_range=False)
        return self._short.largest(frame)

    def close(self) -> None:
        self._full.close()
        if self._short is not None:
            self._short.close()

    def __enter__(self) -> PortraitDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FaceMesh:
    """468 face landmarks (pixels) of the most prominent face.

    Args:
        static: treat every frame as a separate image (True) or track across a video.
    """

    def __init__(self, static: bool = True, min_confidence: float = 0.5) -> None:
        solutions = _solutions()
        self._mesh = _started_quietly(lambda: solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=1, refine_landmarks=False,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence,
        ))

    def landmarks(self, frame: np.ndarray) -> np.ndarray | None:
        """(468, 2) float32 (x, y) pixel coordinates, or None when no face is found."""
        frame = _check_frame(frame)
        height, width = frame.shape[:2]
        result = self._mesh.process(frame)
        if not result.multi_face_landmarks:
            return None
        points = result.multi_face_landmarks[0].landmark
        return np.array([(p.x * width, p.y * height) for p in points], dtype=np.float32)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
