"""Numpy frames to Qt images, and the geometry of the keypoint covariance ellipses."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QColor, QImage

from ..engine.api import KeypointOverlay


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


@dataclass(frozen=True)
class EllipseShape:
    """One keypoint drawn as an ellipse: centre (x, y), semi-axes, rotation in degrees."""

    x: float
    y: float
    radius_major: float
    radius_minor: float
    angle_deg: float


def covariance_ellipses(overlay: KeypointOverlay, sigmas: float = 1.0, min_radius: float = 1.5) -> list[EllipseShape]:
    """The ``sigmas``-standard-deviation ellipse of each keypoint's covariance (pixels).

    The axes are the covariance's eigenvectors, the radii ``sigmas * sqrt(eigenvalue)``.
    """
    shapes = []
    for mean, covariance in zip(np.asarray(overlay.means, float), np.asarray(overlay.covariances, float)):
        symmetric = (covariance + covariance.T) / 2
        values, vectors = np.linalg.eigh(symmetric)
        values = np.clip(values, 0.0, None)
        major = vectors[:, 1]
        shapes.append(
            EllipseShape(
                x=float(mean[0]),
                y=float(mean[1]),
                radius_major=max(min_radius, sigmas * math.sqrt(values[1])),
                radius_minor=max(min_radius, sigmas * math.sqrt(values[0])),
                angle_deg=math.degrees(math.atan2(major[1], major[0])),
            )
        )
    return shapes


def keypoint_colour(index: int, count: int) -> QColor:
    """A distinct, bright colour for keypoint ``index`` of ``count``."""
    return QColor.fromHsvF((index / max(1, count)) % 1.0, 0.85, 1.0)
