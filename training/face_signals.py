"""Five scale-free face signals from the mediapipe face mesh (468 points), for cross-identity
evaluation: does the animated portrait open its eyes and mouth and turn its head when the
driver does?

Every signal is a ratio of distances (or an angle), so it does not depend on the image size,
the face size or where the face lies in the frame:

- **eye**: eye openness, the mean over both eyes of lid distance / eye width
  (points 159-145 over 33-133, and 386-374 over 362-263);
- **mouth**: mouth opening, lip distance / mouth width (13-14 over 78-308);
- **yaw**: (nose tip 1 x - middle of 234/454 x) / distance 234-454 (0 when frontal; the sign
  flips with a mirrored face);
- **pitch**: (nose tip y - middle of eye corners 33/263 y) / (chin 152 y - that middle y);
- **roll**: the angle of the line from eye corner 33 to eye corner 263, in degrees.
"""

from __future__ import annotations

import math

import numpy as np

from .config import MOUTH_POINTS

SIGNALS: tuple[str, ...] = ("eye", "mouth", "yaw", "pitch", "roll")


def _distance(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a] - points[b]))


def signals_from_landmarks(points: np.ndarray) -> dict[str, float]:
    """The five signals of one face. points: (468, 2) face-mesh (x, y) in pixels (any scale)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 468 or points.shape[1] < 2:
        raise ValueError(f"expected (468, 2) face-mesh landmarks, got {points.shape}")
    right_eye = _distance(points, 159, 145) / max(_distance(points, 33, 133), 1e-9)
    left_eye = _distance(points, 386, 374) / max(_distance(points, 362, 263), 1e-9)
    top, bottom, left, right = MOUTH_POINTS
    mouth = _distance(points, top, bottom) / max(_distance(points, left, right), 1e-9)
    cheeks_mid = (points[234] + points[454]) / 2
    yaw = (points[1, 0] - cheeks_mid[0]) / max(_distance(points, 234, 454), 1e-9)
    eyes_mid = (points[33] + points[263]) / 2
    chin_drop = points[152, 1] - eyes_mid[1]
    pitch = (points[1, 1] - eyes_mid[1]) / (chin_drop if abs(chin_drop) > 1e-9 else 1e-9)
    dx, dy = points[263] - points[33]
    roll = math.degrees(math.atan2(dy, dx))
    return {"eye": (right_eye + left_eye) / 2, "mouth": mouth, "yaw": yaw, "pitch": pitch, "roll": roll}


def signal_series(landmarks: list[np.ndarray | None]) -> dict[str, np.ndarray]:
    """Per-signal series over frames: {signal: (T,) float64}, NaN where a frame has no face."""
    series = {name: np.full(len(landmarks), np.nan) for name in SIGNALS}
    for index, points in enumerate(landmarks):
        if points is None:
            continue
        for name, value in signals_from_landmarks(points).items():
            series[name][index] = value
    return series


class FaceSignals:
    """The five signals of frames: face mesh (static images; frames smaller than 256 px are
    upscaled first, as for AKD) then :func:`signals_from_landmarks`."""

    def __init__(self) -> None:
        from .evaluate import LandmarkFinder

        self._landmarks = LandmarkFinder()

    def landmarks(self, frame: np.ndarray) -> np.ndarray | None:
        """(468, 2) landmarks of an (H, W, 3) uint8 RGB frame in its pixels, or None."""
        return self._landmarks(frame)

    def __call__(self, frame: np.ndarray) -> dict[str, float] | None:
        """The signals of one (H, W, 3) uint8 RGB frame, or None when no face is found."""
        points = self._landmarks(frame)
        return None if points is None else signals_from_landmarks(points)

    def close(self) -> None:
        self._landmarks.close()

    def __enter__(self) -> FaceSignals:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
