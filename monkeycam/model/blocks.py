"""Building blocks shared by the Monkey-Net networks.

The reference code is written with 3D layers whose kernels are (1, k, k); frames are
independent, so these 2D blocks are exactly equivalent. Module names match the reference
(``conv``, ``norm``, ``down_blocks``, ``up_blocks``) so converted weights load directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def level_width(block_expansion: int, max_features: int, level: int) -> int:
    """Channels of hourglass level ``level`` (level 0 is the first down block's output)."""
    return min(max_features, block_expansion * (2 ** (level + 1)))


class DownBlock2d(nn.Module):
    """conv3x3 -> BatchNorm -> ReLU -> avgpool 2: (B, Cin, H, W) -> (B, Cout, H/2, W/2)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.relu(self.norm(self.conv(x))), 2)


class UpBlock2d(nn.Module):
    """nearest x2 -> conv3x3 -> BatchNorm -> ReLU: (B, Cin, H, W) -> (B, Cout, 2H, 2W)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.relu(self.norm(self.conv(x)))


class SameBlock2d(nn.Module):
    """Grouped 1x1 conv -> BatchNorm -> ReLU, keeping the spatial size."""

    def __init__(self, in_features: int, out_features: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=1, groups=groups)
        self.norm = nn.BatchNorm2d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


class ResBlock2d(nn.Module):
    """Pre-activation residual block: x + conv(relu(bn(conv(relu(bn(x))))))."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(features, features, kernel_size=3, padding=1)
        self.norm1 = nn.BatchNorm2d(features)
        self.norm2 = nn.BatchNorm2d(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class Encoder(nn.Module):
    """Hourglass encoder. ``forward`` returns the skips ``[x, level0, ..., levelN-1]``."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int) -> None:
        super().__init__()
        blocks = []
        for i in range(num_blocks):
            cin = in_features if i == 0 else level_width(block_expansion, max_features, i - 1)
            blocks.append(DownBlock2d(cin, level_width(block_expansion, max_features, i)))
        self.down_blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        skips = [x]
        for block in self.down_blocks:
            skips.append(block(skips[-1]))
        return skips


class Decoder(nn.Module):
    """Hourglass decoder: up block, then concatenate the matching skip, level by level.

    Args:
        extra_features: channels concatenated to every skip beforehand (the generator's
            heatmap-difference inputs).
        out_features: channels of the final conv3x3; None keeps the concatenated features.
    """

    def __init__(
        self,
        block_expansion: int,
        in_features: int,
        num_blocks: int,
        max_features: int,
        out_features: int | None,
        extra_features: int = 0,
    ) -> None:
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            width = level_width(block_expansion, max_features, i)
            cin = (1 if i == num_blocks - 1 else 2) * width + extra_features
            blocks.append(UpBlock2d(cin, min(max_features, block_expansion * (2 ** i))))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_features = block_expansion + in_features + extra_features
        self.conv = None
        if out_features is not None:
            self.conv = nn.Conv2d(self.out_features, out_features, kernel_size=3, padding=1)
            self.out_features = out_features

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        out = skips[-1]
        for block, skip in zip(self.up_blocks, reversed(skips[:-1])):
            out = torch.cat([block(out), skip], dim=1)
        return out if self.conv is None else self.conv(out)


class Hourglass(nn.Module):
    """U-Net style encoder/decoder: (B, Cin, H, W) -> (B, out_features, H, W)."""

    def __init__(
        self, block_expansion: int, in_features: int, out_features: int, num_blocks: int, max_features: int
    ) -> None:
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def resize(x: torch.Tensor, size: tuple[int, int], mode: str = "nearest") -> torch.Tensor:
    """Resize (B, C, H, W) to ``size``; no-op when it already has that size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode=mode, align_corners=False)


def scale_image(x: torch.Tensor, scale_factor: float, mode: str = "nearest") -> torch.Tensor:
    """Resize (B, C, H, W) by ``scale_factor``: "nearest" (the reference's motion-net input)
    or "area" (the mean of the covered pixels; an integer shrink is one average pooling)."""
    if scale_factor == 1:
        return x
    if mode == "area" and scale_factor < 1:
        stride = round(1 / scale_factor)
        if abs(stride * scale_factor - 1) < 1e-6 and x.shape[-1] % stride == 0 and x.shape[-2] % stride == 0:
            return F.avg_pool2d(x, stride)
        size = (round(x.shape[-2] * scale_factor), round(x.shape[-1] * scale_factor))
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, scale_factor=scale_factor, mode="nearest")
