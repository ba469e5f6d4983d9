"""Square crops around faces, allowed to extend past the frame (padded by edge replication)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .detector import FaceBox


@dataclass(frozen=True)
class CropBox:
    """A square region in pixels: top-left (x, y) and side ``size``; may lie partly outside."""

    x: float
    y: float
    size: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.size / 2, self.y + self.size / 2

    def as_int(self) -> tuple[int, int, int]:
        return int(round(self.x)), int(round(self.y)), max(1, int(round(self.size)))


def square_box_around(face: FaceBox, scale: float = 2.0, shift_up: float = 0.1) -> CropBox:
    """A square ``scale`` times the face's larger side, centred on it and moved up by
    ``shift_up`` of the face height (so forehead and hair are included, as in face datasets)."""
    cx, cy = face.centre
    cy -= shift_up * face.height
    size = scale * max(face.width, face.height)
    return CropBox(cx - size / 2, cy - size / 2, size)


def crop_square(frame: np.ndarray, box: CropBox, out_size: int) -> np.ndarray:
    """Cut ``box`` out of an (H, W, 3) frame and resize it to (out_size, out_size, 3).

    Parts outside the frame are filled by replicating the border.
    """
    x, y, size = box.as_int()
    height, width = frame.shape[:2]
    pad_left, pad_top = max(0, -x), max(0, -y)
    pad_right, pad_bottom = max(0, x + size - width), max(0, y + size - height)
    if pad_left or pad_top or pad_right or pad_bottom:
        frame = cv2.copyMakeBorder(frame, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
        x, y = x + pad_left, y + pad_top
    patch = frame[y : y + size, x : x + size]
    # area averaging only where it matters (>= 2x smaller): it is ~8x slower than bilinear
    interpolation = cv2.INTER_AREA if size >= 2 * out_size else cv2.INTER_LINEAR
    return cv2.resize(patch, (out_size, out_size), interpolation=interpolation)
