"""Finding, cropping and tracking faces (mediapipe 0.10.14, which ships its models in the wheel)."""

from .crop import CropBox, crop_square, square_box_around
from .detector import FaceBox, FaceDetector, FaceMesh, FaceUnavailable, PortraitDetector
from .tracker import (
    CropBoxTracker,
    FaceLocator,
    FaceTracker,
    TrackedFace,
    detect_scaled,
    portrait_crop_box,
    whole_frame_box,
)

__all__ = [
    "CropBox",
    "CropBoxTracker",
    "FaceBox",
    "FaceDetector",
    "FaceLocator",
    "FaceMesh",
    "FaceTracker",
    "FaceUnavailable",
    "PortraitDetector",
    "TrackedFace",
    "crop_square",
    "detect_scaled",
    "portrait_crop_box",
    "square_box_around",
    "whole_frame_box",
]
