"""Self-supervised keypoint detector (paper Sec. 3.2).

An hourglass predicts K heatmaps; each is turned into a probability map by a softmax with
temperature and summarised by its mean and full 2x2 covariance (Eq. 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Hourglass, scale_image
from .config import ModelConfig
from .keypoints import Keypoints, fixed_covariance, heatmap_to_keypoints


class KPDetector(nn.Module):
    """Image (B, C, H, W) in [0, 1] -> :class:`Keypoints` (means in [-1, 1])."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        cfg = config.kp_detector
        self.predictor = Hourglass(
            cfg.block_expansion, config.num_channels, config.num_kp, cfg.num_blocks, cfg.max_features
        )
        self.temperature = cfg.temperature
        self.scale_factor = cfg.scale_factor
        self.downsample = config.downsample
        self.clip_variance = cfg.clip_variance
        self.learned_covariance = config.ablation.learned_covariance
        self.fixed_variance = config.ablation.fixed_variance

    def heatmaps(self, image: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, K, h, w) softmax heatmaps (each sums to 1)."""
        logits = self.predictor(scale_image(image, self.scale_factor, self.downsample))
        batch, num_kp, height, width = logits.shape
        flat = F.softmax(logits.reshape(batch, num_kp, -1).float() / self.temperature, dim=2)
        return flat.reshape(batch, num_kp, height, width)

    def forward(self, image: torch.Tensor) -> Keypoints:
        kp = heatmap_to_keypoints(self.heatmaps(image), self.clip_variance)
        if not self.learned_covariance:
            kp = Keypoints(kp.mean, fixed_covariance(kp.mean, self.fixed_variance))
        return kp
