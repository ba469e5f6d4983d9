"""Generator G with the deformation module (paper Sec. 3.4, Eq. 3).

The appearance encoder turns the source into a pyramid of features; the flow predicted by
the dense motion network warps every level (the image too); the normalised heatmap
difference of driving and source keypoints is concatenated to every level; a U-Net decoder,
pre-activation residual refinement blocks and a sigmoid give the predicted frame.

Beyond the paper (``GeneratorConfig.scale_factor`` < 1 with ``blend_source``): the encoder
and decoder work on a shrunk copy of the source, the decoder also predicts a blend mask, and
the output at full resolution is ``mask * warped source + (1 - mask) * decoded frame``,
where the full-resolution source is warped by the upsampled flow. The portrait's own pixels
keep the output sharp; the decoder only has to fill what a warp cannot show.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Decoder, Encoder, ResBlock2d, resize, scale_image
from .config import ModelConfig
from .dense_motion import DenseMotion, DenseMotionNetwork
from .keypoints import Keypoints, identity_grid, keypoints_to_gaussians, normalise_heatmap, warp

BLEND_MASK_INIT = 2.0  # initial blend-mask logit: the output starts as the warped source (88 %)


class SourceFeatures(NamedTuple):
    """Everything that depends on the source image only; computed once and cached.

    Attributes:
        image: (B, C, H, W) source in [0, 1] at full resolution.
        keypoints: source keypoints.
        skips: appearance encoder outputs ``[image at the generator's working size, level0, ...]``.
        heatmap: (B, K, h, w) normalised source Gaussians at the generator's working size.
        motion_image: (B, C, h, w) source at the dense-motion working size.
        motion_heatmap: (B, K, h, w) normalised source Gaussians at that size.
    """

    image: torch.Tensor
    keypoints: Keypoints
    skips: list[torch.Tensor]
    heatmap: torch.Tensor
    motion_image: torch.Tensor | None
    motion_heatmap: torch.Tensor | None


class GeneratorOutput(NamedTuple):
    """prediction, deformed: (B, C, H, W) in [0, 1]; motion: the flow (None for "No F");
    blend_mask: (B, 1, H, W) in [0, 1], the weight of the warped source (``blend_source`` only)."""

    prediction: torch.Tensor
    deformed: torch.Tensor
    motion: DenseMotion | None
    blend_mask: torch.Tensor | None = None


class Generator(nn.Module):
    """(source, source keypoints, driving keypoints) -> :class:`GeneratorOutput`."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        cfg = config.generator
        channels, num_kp = config.num_channels, config.num_kp
        self.heatmap_norm = config.heatmap_norm
        self.interpolation = cfg.interpolation
        self.motion_scale = config.dense_motion.scale_factor
        self.work_scale = cfg.scale_factor
        self.downsample = config.downsample
        self.blend_source = cfg.blend_source
        self.appearance_encoder = Encoder(cfg.block_expansion, channels, cfg.num_blocks, cfg.max_features)
        self.dense_motion_module = DenseMotionNetwork(config) if config.ablation.deformation else None
        self.video_decoder = Decoder(
            cfg.block_expansion, channels, cfg.num_blocks, cfg.max_features, out_features=None, extra_features=num_kp
        )
        features = self.video_decoder.out_features
        self.refinement_module = nn.Sequential()
        for i in range(cfg.num_refinement_blocks):
            self.refinement_module.add_module(f"r{i}", ResBlock2d(features))
        out_channels = channels + 1 if self.blend_source else channels  # + the blend-mask logit
        self.refinement_module.add_module("conv_last", nn.Conv2d(features, out_channels, kernel_size=1))
        if self.blend_source:
            with torch.no_grad():
                self.refinement_module.conv_last.weight[channels:].zero_()
                self.refinement_module.conv_last.bias[channels:].fill_(BLEND_MASK_INIT)

    # ------------------------------------------------------------------ source-only work
    def encode_source(self, source: torch.Tensor, kp_source: Keypoints) -> SourceFeatures:
        """Run everything that depends on the source only. source: (B, C, H, W) in [0, 1]."""
        work = scale_image(source, self.work_scale, self.downsample)
        height, width = work.shape[-2:]
        heatmap = normalise_heatmap(keypoints_to_gaussians(kp_source, height, width), self.heatmap_norm)
        motion_image = motion_heatmap = None
        if self.dense_motion_module is not None:
            motion_image = scale_image(source, self.motion_scale, self.downsample)
            motion_heatmap = self.dense_motion_module.source_heatmap(kp_source, *motion_image.shape[-2:])
        return SourceFeatures(
            source, kp_source, self.appearance_encoder(work), heatmap.to(source.dtype), motion_image, motion_heatmap
        )

    # ------------------------------------------------------------------ per-frame work
    def animate(self, features: SourceFeatures, kp_driving: Keypoints) -> GeneratorOutput:
        """Generate the frame showing the source with the driving keypoints."""
        source = features.image
        motion = grid = None  # "No F": features are not warped
        if self.dense_motion_module is not None:
            motion = self.dense_motion_module(
                features.motion_image, features.keypoints, kp_driving, features.motion_heatmap
            )
            grid = motion.grid
        skips = self._deform_skips(features.skips, grid)
        skips = self._add_heatmaps(skips, features, kp_driving)
        out = self.refinement_module(self.video_decoder(skips))
        if self.blend_source:
            return self._blend(source, out, motion)
        prediction = resize(torch.sigmoid(out), source.shape[-2:], "bilinear")
        deformed = source if grid is None else warp(source, self._resize_grid(grid, source.shape[-2:]))
        return GeneratorOutput(prediction, deformed, motion)

    def _blend(self, source: torch.Tensor, out: torch.Tensor, motion: DenseMotion) -> GeneratorOutput:
        """Full-resolution output: the source warped by the upsampled flow, blended with the
        decoded frame. out: (B, C + 1, h, w) logits (colours, then the blend mask)."""
        size = source.shape[-2:]
        channels = source.shape[1]
        warped = warp(source, self._full_resolution_grid(motion.grid, size))
        # colours and mask upsampled in one call, from a contiguous NCHW copy (faster on a CPU
        # than two calls on the decoder's channels_last output)
        upsampled = resize(torch.sigmoid(out).contiguous(), size, "bilinear")
        decoded, mask = upsampled[:, :channels], upsampled[:, channels:]
        prediction = decoded + mask * (warped - decoded)
        return GeneratorOutput(prediction, warped, motion, mask)

    @staticmethod
    def _full_resolution_grid(grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(B, h, w, 2) sampling grid -> (B, H, W, 2): the flow (grid - identity) is upsampled
        bilinearly and added to the full-size identity, so a zero flow stays an exact identity
        (resizing the grid itself would shift pixels near the borders and blur the output)."""
        batch, height, width, _ = grid.shape
        if (height, width) == tuple(size):
            return grid
        flow = grid - identity_grid(batch, height, width, grid.device, grid.dtype)
        flow = flow.permute(0, 3, 1, 2).contiguous()  # interpolating the permuted view is 2x slower
        flow = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
        return identity_grid(batch, *size, grid.device, grid.dtype) + flow.permute(0, 2, 3, 1)

    def forward(self, source: torch.Tensor, kp_source: Keypoints, kp_driving: Keypoints) -> GeneratorOutput:
        return self.animate(self.encode_source(source, kp_source), kp_driving)

    # ------------------------------------------------------------------ helpers
    def _resize_grid(self, grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(B, h, w, 2) grid -> (B, H, W, 2) with the configured interpolation."""
        if tuple(grid.shape[1:3]) == tuple(size):
            return grid
        return resize(grid.permute(0, 3, 1, 2), size, self.interpolation).permute(0, 2, 3, 1)

    def _deform_skips(self, skips: list[torch.Tensor], grid: torch.Tensor | None) -> list[torch.Tensor]:
        """Warp every encoder level with the flow (the deformation module, Eq. 3)."""
        if grid is None:
            return list(skips)
        return [warp(skip, self._resize_grid(grid, skip.shape[-2:])) for skip in skips]

    def _add_heatmaps(
        self, skips: list[torch.Tensor], features: SourceFeatures, kp_driving: Keypoints
    ) -> list[torch.Tensor]:
        """Concatenate the heatmap difference (driving - source), resized, to every level."""
        height, width = features.skips[0].shape[-2:]
        driving = normalise_heatmap(keypoints_to_gaussians(kp_driving, height, width), self.heatmap_norm)
        difference = driving.to(features.heatmap.dtype) - features.heatmap
        return [
            torch.cat([skip, resize(difference, skip.shape[-2:], self.interpolation).to(skip.dtype)], dim=1)
            for skip in skips
        ]
