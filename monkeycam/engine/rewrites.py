"""Graph rewrites that make a MonkeyNet faster for inference without changing its outputs
(up to float rounding): BatchNorm folded into the preceding convolutions, grouped 1x1
convolutions made dense, convolution channels padded to a multiple, NHWC kept between blocks.
:func:`inference_copy` applies them to a frozen copy; every backend runs such a copy.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..model import MonkeyNet
from ..model.blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d


def fold_batch_norms(model: nn.Module) -> int:
    """Fold every BatchNorm that directly follows a convolution into it (eval-mode maths).

    Only the conv -> BatchNorm blocks (down, up and grouped 1x1 blocks) are folded; the
    pre-activation residual blocks normalise before their convolutions and are left alone.
    Returns the number of folded layers.
    """
    folded = 0
    for block in model.modules():
        if isinstance(block, (DownBlock2d, UpBlock2d, SameBlock2d)) and isinstance(block.norm, nn.BatchNorm2d):
            _fold_into_conv(block.conv, block.norm)
            block.norm = nn.Identity()
            folded += 1
    return folded


@torch.no_grad()
def _fold_into_conv(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    conv.bias = nn.Parameter((bias - norm.running_mean) * scale + norm.bias)


@torch.no_grad()
def densify_grouped_pointwise(model: nn.Module, max_channels: int = 512) -> int:
    """Replace grouped 1x1 convolutions by dense ones with block-diagonal weights.

    The same sums (the extra weights are exact zeros), but one fast kernel instead of a loop
    over groups: the dense motion network's per-keypoint 1x1 blocks took ~3 ms per frame on a
    CPU as 22 grouped calls, ~0.2 ms dense. Returns the number of replaced layers.
    """
    replaced = 0
    for block in model.modules():
        conv = getattr(block, "conv", None)
        if not isinstance(conv, nn.Conv2d) or conv.groups == 1 or conv.kernel_size != (1, 1):
            continue
        if conv.in_channels > max_channels:
            continue
        block.conv = _block_diagonal(conv)
        replaced += 1
    return replaced


def _block_diagonal(conv: nn.Conv2d) -> nn.Conv2d:
    groups = conv.groups
    out_per_group, in_per_group = conv.out_channels // groups, conv.in_channels // groups
    dense = nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None)
    weight = torch.zeros_like(dense.weight)
    for group in range(groups):
        rows = slice(group * out_per_group, (group + 1) * out_per_group)
        weight[rows, group * in_per_group : (group + 1) * in_per_group] = conv.weight[rows]
    dense.weight.copy_(weight)
    if conv.bias is not None:
        dense.bias.copy_(conv.bias)
    return dense


class ChannelPaddedConv2d(nn.Module):
    """A convolution whose channel counts are rounded up to a multiple (zero weights), so
    fp16 tensor-core kernels apply; the result is sliced back, so values are unchanged.

    Monkey-Net's decoder inputs carry K heatmap channels plus the image's 3 (e.g. 45, 138,
    1034 channels), which is not a multiple of 8.
    """

    def __init__(self, conv: nn.Conv2d, multiple: int = 8) -> None:
        super().__init__()
        self.pad_in = (-conv.in_channels) % multiple
        self.out_channels = conv.out_channels
        padded = nn.Conv2d(
            conv.in_channels + self.pad_in, conv.out_channels + (-conv.out_channels) % multiple, conv.kernel_size,
            conv.stride, conv.padding, bias=conv.bias is not None,
        ).to(conv.weight.device, conv.weight.dtype)
        with torch.no_grad():
            padded.weight.zero_()
            padded.weight[: conv.out_channels, : conv.in_channels] = conv.weight
            if conv.bias is not None:
                padded.bias.zero_()
                padded.bias[: conv.out_channels] = conv.bias
        self.conv = padded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_in:
            x = F.pad(x, (0, 0, 0, 0, 0, self.pad_in))
        out = self.conv(x)
        return out if out.shape[1] == self.out_channels else out[:, : self.out_channels]


def pad_channels(model: nn.Module, multiple: int = 8) -> int:
    """Wrap every ungrouped convolution with channel counts off ``multiple`` in a
    :class:`ChannelPaddedConv2d`. Returns the number of wrapped layers."""
    wrapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, nn.Conv2d) or child.groups != 1:
                continue
            if child.in_channels % multiple == 0 and child.out_channels % multiple == 0:
                continue
            setattr(parent, name, ChannelPaddedConv2d(child, multiple))
            wrapped += 1
    return wrapped


def _to_channels_last(module: nn.Module, args: tuple) -> tuple | None:
    first = args[0] if args else None
    if isinstance(first, torch.Tensor) and first.dim() == 4 and not first.is_contiguous(
        memory_format=torch.channels_last
    ):
        return (first.contiguous(memory_format=torch.channels_last), *args[1:])
    return None


def keep_channels_last(model: nn.Module) -> int:
    """Make every convolution block receive NHWC tensors (a forward pre-hook per block).

    The model's warps (grid_sample) and concatenations with heatmaps return NCHW tensors;
    fed to NHWC weights they made the following nearest upsampling ~30x slower on a CPU
    (1.3 ms instead of 0.04 ms at 74x32x32) plus layout copies. Values are unchanged.
    """
    hooked = 0
    for block in model.modules():
        if isinstance(block, (DownBlock2d, UpBlock2d, SameBlock2d, ResBlock2d, nn.Conv2d)):
            block.register_forward_pre_hook(_to_channels_last)
            hooked += 1
    return hooked


def inference_copy(
    model: MonkeyNet, device: torch.device, dtype: torch.dtype, channels_last: bool, pad_to: int = 0
) -> MonkeyNet:
    """A frozen copy of the keypoint detector and generator on ``device``/``dtype``, rewritten
    for inference (BatchNorm folded, grouped 1x1 convolutions made dense, NHWC kept, and with
    ``pad_to`` > 0 convolution channels padded to multiples of it)."""
    discriminator, model.discriminator = model.discriminator, None
    try:
        clone = copy.deepcopy(model)
    finally:
        model.discriminator = discriminator
    clone = clone.float().eval()
    fold_batch_norms(clone)
    densify_grouped_pointwise(clone)
    if pad_to:
        pad_channels(clone, pad_to)
    clone = clone.to(device=device, dtype=dtype)
    if channels_last:
        clone = clone.to(memory_format=torch.channels_last)
        keep_channels_last(clone)
    return clone.requires_grad_(False)
