"""The Monkey-Net model: keypoint detector + generator (with dense motion) + discriminator.

Siarohin, Lathuiliere, Tulyakov, Ricci, Sebe. "Animating Arbitrary Objects via Deep Motion
Transfer", CVPR 2019. Implemented from the paper and the reference-code facts in
../shared/reference; frames are processed as 2D images (the reference's 3D layers all have
depth-1 kernels).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .config import ModelConfig
from .discriminator import Discriminator
from .generator import Generator, GeneratorOutput, SourceFeatures
from .keypoints import Keypoints
from .kp_detector import KPDetector


class Reconstruction(NamedTuple):
    """Output of :meth:`MonkeyNet.forward` (video reconstruction, used in training).

    prediction / deformed: (B, C, H, W) in [0, 1].
    """

    kp_source: Keypoints
    kp_driving: Keypoints
    generated: GeneratorOutput


class MonkeyNet(nn.Module):
    """Container of the three networks sharing one :class:`ModelConfig`."""

    def __init__(self, config: ModelConfig, with_discriminator: bool = True) -> None:
        super().__init__()
        self.config = config
        self.kp_detector = KPDetector(config)
        self.generator = Generator(config)
        self.discriminator = Discriminator(config) if with_discriminator else None

    def forward(self, source: torch.Tensor, driving: torch.Tensor) -> Reconstruction:
        """Reconstruct ``driving`` from ``source``: both (B, C, H, W) in [0, 1]."""
        kp_source = self.kp_detector(source)
        kp_driving = self.kp_detector(driving)
        return Reconstruction(kp_source, kp_driving, self.generator(source, kp_source, kp_driving))

    def prepare_source(self, source: torch.Tensor) -> SourceFeatures:
        """Everything that depends on the source only (keypoints, encoder features, heatmaps)."""
        return self.generator.encode_source(source, self.kp_detector(source))

    def animate(self, features: SourceFeatures, kp_driving: Keypoints) -> GeneratorOutput:
        """Generate a frame from cached source features and (transferred) driving keypoints."""
        return self.generator.animate(features, kp_driving)


def count_parameters(module: nn.Module | None) -> int:
    """Number of trainable parameters (0 for None)."""
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def build_model(
    config: ModelConfig,
    with_discriminator: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> MonkeyNet:
    """Create a model on ``device`` with ``dtype`` (the only place models are created)."""
    model = MonkeyNet(config, with_discriminator)
    if device is not None or dtype is not None:
        model = model.to(device=device, dtype=dtype)
    return model
