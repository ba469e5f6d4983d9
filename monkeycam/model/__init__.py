"""Monkey-Net networks and keypoint math. Plain PyTorch: no Qt, no OpenCV, no file I/O."""

from .config import (
    PRESETS,
    AblationConfig,
    DenseMotionConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    KeypointDetectorConfig,
    ModelConfig,
    preset,
)
from .dense_motion import DenseMotion, DenseMotionNetwork
from .discriminator import Discriminator
from .generator import Generator, GeneratorOutput, SourceFeatures
from .keypoints import Keypoints
from .kp_detector import KPDetector
from .monkeynet import MonkeyNet, Reconstruction, build_model, count_parameters
from .transfer import absolute_keypoints, relative_keypoints

__all__ = [
    "PRESETS", "AblationConfig", "DenseMotionConfig", "DiscriminatorConfig", "GeneratorConfig",
    "KeypointDetectorConfig", "ModelConfig", "preset", "DenseMotion", "DenseMotionNetwork",
    "Discriminator", "Generator", "GeneratorOutput", "SourceFeatures", "Keypoints", "KPDetector",
    "MonkeyNet", "Reconstruction", "build_model", "count_parameters", "absolute_keypoints",
    "relative_keypoints",
]
