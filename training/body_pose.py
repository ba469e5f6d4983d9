"""Body keypoints for evaluating body models (AKD and MKR on full bodies, issue 14).

mediapipe's pose solution (``model_complexity=1``: the ``pose_landmark_full`` model shipped in
the mediapipe 0.10.14 wheel, so it runs offline) finds the 33 landmarks of one person per frame.
Each frame gets a grey margin of ``margin`` times its side first (a person whose feet touch the
frame's edge is otherwise often missed: on the 64-px Weizmann test frames, every 12th frame, a
person was found in 36 of 52 frames without it and in 52 of 52 with a quarter-side margin), then
small frames are upscaled (bicubic) to at least ``min_size`` px, as pose detection fails on 64-px
people; the points are moved back into the frame's own pixels. A landmark counts as found when
its visibility is at least ``min_visibility``; the others are NaN.
"""

from __future__ import annotations

import cv2
import numpy as np

from monkeycam.face.detector import _check_frame, _solutions, _started_quietly

POSE_POINTS = 33
POSE_SIZE = 256


class BodyPoseFinder:
    """(33, 2) body landmarks (x, y in the input's pixels, NaN where not visible) per frame."""

    def __init__(self, min_size: int = POSE_SIZE, min_visibility: float = 0.5, min_confidence: float = 0.5,
                 margin: float = 0.25) -> None:
        solutions = _solutions()
        self.min_size = min_size
        self.margin = margin
        self.min_visibility = min_visibility
        self._pose = _started_quietly(lambda: solutions.pose.Pose(
            static_image_mode=True, model_complexity=1, smooth_landmarks=False, enable_segmentation=False,
            min_detection_confidence=min_confidence,
        ))

    def upscale(self, height: int) -> float:
        """The factor applied before pose detection (1 when the frame is already large enough)."""
        return max(1.0, self.min_size / height)

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """(33, 2) float32 points of an (H, W, 3) uint8 RGB frame, NaN rows for landmarks not
        visible; None when no person is found."""
        frame = _check_frame(frame)
        pad = round(self.margin * max(frame.shape[:2]))
        if pad:
            frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        factor = self.upscale(frame.shape[0])
        if factor > 1:
            size = (round(frame.shape[1] * factor), round(frame.shape[0] * factor))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)
        height, width = frame.shape[:2]
        result = self._pose.process(frame)
        if result.pose_landmarks is None:
            return None
        points = np.array([(p.x * width, p.y * height, p.visibility) for p in result.pose_landmarks.landmark],
                          dtype=np.float32)
        out = points[:, :2] / factor - pad
        out[points[:, 2] < self.min_visibility] = np.nan
        return out

    def close(self) -> None:
        self._pose.close()
