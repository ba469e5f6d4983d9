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
from .transfer import absolute_keypoints, relative_keypoints, scale_motion

__all__ = [
    "PRESETS",
    "AblationConfig",
    "DenseMotion",
    "DenseMotionConfig",
    "DenseMotionNetwork",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "GeneratorOutput",
    "KPDetector",
    "KeypointDetectorConfig",
    "Keypoints",
    "ModelConfig",
    "MonkeyNet",
    "Reconstruction",
    "SourceFeatures",
    "absolute_keypoints",
    "build_model",
    "count_parameters",
    "preset",
    "relative_keypoints",
]
