"""mediapipe face detection and face mesh behind small, numpy-only classes.

mediapipe is imported lazily (it is slow to import and pulls matplotlib). Both classes take
(H, W, 3) uint8 RGB frames and return pixel coordinates.
"""

from __future__ import annotations

import logging
import os
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
    try:
        import mediapipe as mp

        return mp.solutions
    except (ImportError, AttributeError) as error:
        raise FaceUnavailable(
            f"mediapipe face models are unavailable ({error}); install mediapipe==0.10.14"
        ) from None


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
        self._detector = _solutions().face_detection.FaceDetection(
            model_selection=1 if full_range else 0, min_detection_confidence=min_confidence
        )

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


class FaceMesh:
    """468 face landmarks (pixels) of the most prominent face.

    Args:
        static: treat every frame as a separate image (True) or track across a video.
    """

    def __init__(self, static: bool = True, min_confidence: float = 0.5) -> None:
        self._mesh = _solutions().face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=1, refine_landmarks=False,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence,
        )

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
