"""Patch discriminator D used for training (paper Sec. 3.5).

The frame is concatenated with the Gaussian encodings of its keypoints; four conv4x4 blocks
(InstanceNorm from the second on, LeakyReLU 0.2, avgpool 2) and a 1x1 conv give a score map.
All intermediate maps are returned for the feature-matching loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import level_width
from .config import ModelConfig
from .keypoints import Keypoints, keypoints_to_gaussians, normalise_heatmap


class DiscriminatorBlock(nn.Module):
    """conv4x4 (no padding) -> [InstanceNorm] -> LeakyReLU 0.2 -> avgpool 2."""

    def __init__(self, in_features: int, out_features: int, norm: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=4)
        self.norm = nn.InstanceNorm2d(out_features, affine=True) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.norm is not None:
            out = self.norm(out)
        return F.avg_pool2d(F.leaky_relu(out, 0.2), 2)


class Discriminator(nn.Module):
    """(image (B, C, H, W) in [0, 1], its keypoints) -> list of maps [image, blocks..., score]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        cfg = config.discriminator
        self.heatmap_norm = config.heatmap_norm
        blocks = []
        for i in range(cfg.num_blocks):
            cin = config.num_channels + config.num_kp if i == 0 else level_width(cfg.block_expansion, cfg.max_features, i - 1)
            blocks.append(DiscriminatorBlock(cin, level_width(cfg.block_expansion, cfg.max_features, i), norm=i != 0))
        self.down_blocks = nn.ModuleList(blocks)
        self.conv = nn.Conv2d(blocks[-1].conv.out_channels, 1, kernel_size=1)

    def forward(self, image: torch.Tensor, kp: Keypoints) -> list[torch.Tensor]:
        height, width = image.shape[-2:]
        heatmap = normalise_heatmap(keypoints_to_gaussians(kp, height, width), self.heatmap_norm)
        out = torch.cat([image, heatmap.to(image.dtype)], dim=1)
        maps = [image]
        for block in self.down_blocks:
            out = block(out)
            maps.append(out)
        maps.append(self.conv(out))
        return maps
