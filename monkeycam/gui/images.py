"""Numpy frames to Qt images and back, and the keypoint colours as QColors."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

from ..drawing import keypoint_rgb


def qimage_from_rgb(frame: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 RGB array -> a QImage that owns its pixels (safe after the array dies)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.shape} {frame.dtype}")
    frame = np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    return QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def rgb_from_qimage(image: QImage) -> np.ndarray:
    """A QImage -> an (H, W, 3) uint8 RGB array (a copy)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, : 3 * width].reshape(height, width, 3).copy()


def keypoint_colour(index: int, count: int) -> QColor:
    """A distinct, bright colour for keypoint ``index`` of ``count`` (as in drawn images)."""
    return QColor(*keypoint_rgb(index, count))
