"""Finding and cropping faces (mediapipe 0.10.14, which ships its models in the wheel)."""

from .detector import FaceBox, FaceDetector, FaceMesh, FaceUnavailable
from .crop import CropBox, crop_square, square_box_around

__all__ = ["FaceBox", "FaceDetector", "FaceMesh", "FaceUnavailable", "CropBox", "crop_square", "square_box_around"]
