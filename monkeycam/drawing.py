"""Drawing keypoints: their colours (shared with the GUI), their place in an output picture,
and frames with them drawn on (the GUI overlay, showcase grids, training logs, model cards).
numpy and OpenCV only (no torch).
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from .face.crop import CropBox
from .live.api import KeypointOverlay


def keypoint_rgb(index: int, count: int) -> tuple[int, int, int]:
    """A distinct, bright colour (RGB 0..255) for keypoint ``index`` of ``count``; the GUI and
    every drawn image use the same colours."""
    red, green, blue = colorsys.hsv_to_rgb((index / max(1, count)) % 1.0, 0.85, 1.0)
    return round(red * 255), round(green * 255), round(blue * 255)


def draw_keypoints(image: np.ndarray, overlay: KeypointOverlay, ellipses: bool = True) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 image with the overlay's keypoints drawn as outlined dots,
    and with ``ellipses`` their 1-sigma covariance ellipses, in the GUI's colours."""
    out = np.ascontiguousarray(image.copy())
    radius = max(2, round(min(out.shape[:2]) / 64))
    shapes = overlay.ellipses()
    for index, shape in enumerate(shapes):
        colour = keypoint_rgb(index, len(shapes))
        centre = (round(shape.x), round(shape.y))
        if ellipses:
            axes = (round(shape.radius_major), round(shape.radius_minor))
            cv2.ellipse(out, centre, axes, shape.angle_deg, 0, 360, colour, 1, cv2.LINE_AA)
        cv2.circle(out, centre, radius + 1, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(out, centre, radius, colour, -1, cv2.LINE_AA)
    return out


def keypoint_overlay(
    means: np.ndarray, covariances: np.ndarray, crop_size: int, box: CropBox
) -> KeypointOverlay:
    """Keypoints of a ``crop_size`` crop, in the pixels of the picture ``box`` is placed in.

    Args:
        means: (K, 2) in [-1, 1] crop coordinates (-1/1 = centres of the first/last pixel).
        covariances: (K, 2, 2) in those coordinates.
        box: where the crop lies in the output picture (x, y, size in output pixels).
    """
    crop_pixels = (means + 1.0) * 0.5 * (crop_size - 1)
    scale = box.size / crop_size
    points = np.array([box.x, box.y]) + (crop_pixels + 0.5) * scale - 0.5
    units = 0.5 * (crop_size - 1) * scale  # output pixels per crop coordinate unit
    return KeypointOverlay(points.astype(np.float32), (covariances * units * units).astype(np.float32))
