"""Dense motion network M (paper Sec. 3.3): keypoint motion -> optical flow.

M receives, for each keypoint slot k (slot 0 is the static background), the difference of
the Gaussian encodings of driving and source keypoints and a copy of the source shifted by
the keypoint's translation. It predicts K + 1 part masks (softmax over slots, Eq. 4) and a
residual flow. The coarse flow is the mask-weighted sum of per-part translations; the
sampling grid is identity + coarse + residual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Hourglass, SameBlock2d
from .config import ModelConfig
from .keypoints import Keypoints, falloff, identity_grid, keypoints_to_gaussians, normalise_heatmap, warp


class DenseMotion(NamedTuple):
    """Output of the dense motion network at its working size (h, w).

    Attributes:
        grid: (B, h, w, 2) sampling grid in [-1, 1] coordinates (identity + flow).
        masks: (B, K + 1, h, w) part masks summing to 1 over slots, or None ("No F_coarse").
        residual: (B, 2, h, w) residual flow, or None ("No F_residual").
    """

    grid: torch.Tensor
    masks: torch.Tensor | None
    residual: torch.Tensor | None


class DenseMotionNetwork(nn.Module):
    """(source at working size, source keypoints, driving keypoints) -> :class:`DenseMotion`."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        cfg = config.dense_motion
        self.num_kp = config.num_kp
        self.heatmap_norm = config.heatmap_norm
        self.use_difference = cfg.use_keypoint_difference
        self.use_source = config.ablation.source_in_dense_motion
        self.use_mask = config.ablation.coarse_flow
        self.use_residual = config.ablation.residual_flow
        self.local_keypoints = cfg.local_flow_keypoints
        self.local_sigma = cfg.local_flow_sigma
        # the local flow's small linear solve; backends swap in solve_by_elimination where
        # linalg.solve does not work (it syncs a GPU, breaking CUDA graphs; OpenVINO lacks it)
        self.linear_solver: LinearSolver = torch.linalg.solve
        slots = config.num_kp + 1
        per_slot = 1 + 2 * self.use_difference + config.num_channels * self.use_source
        in_features = slots * per_slot
        self.group_blocks = nn.ModuleList(
            [SameBlock2d(in_features, in_features, groups=slots) for _ in range(cfg.num_group_blocks)]
        )
        out_features = slots * self.use_mask + 2 * self.use_residual
        self.hourglass = Hourglass(cfg.block_expansion, in_features, out_features, cfg.num_blocks, cfg.max_features)
        self._init_last_conv(cfg.bg_init)

    def _init_last_conv(self, bg_init: float) -> None:
        """Zero weights and a bias favouring the background mask: M starts as "no motion"."""
        conv = self.hourglass.decoder.conv
        bias = [bg_init] + [0.0] * self.num_kp if self.use_mask else []
        bias += [0.0, 0.0] if self.use_residual else []
        with torch.no_grad():
            conv.weight.zero_()
            conv.bias.copy_(torch.tensor(bias))

    def source_heatmap(self, kp_source: Keypoints, height: int, width: int) -> torch.Tensor:
        """Normalised source Gaussians (B, K, h, w): depends on the source only (cacheable)."""
        return normalise_heatmap(keypoints_to_gaussians(kp_source, height, width), self.heatmap_norm)

    def forward(
        self,
        source: torch.Tensor,
        kp_source: Keypoints,
        kp_driving: Keypoints,
        source_heatmap: torch.Tensor | None = None,
    ) -> DenseMotion:
        """Predict the flow.

        Args:
            source: (B, C, h, w) source image in [0, 1], already at the working size.
            kp_source, kp_driving: keypoints (means in [-1, 1]).
            source_heatmap: optional cached :meth:`source_heatmap` for this source.
        """
        batch, _, height, width = source.shape
        shifts = self._shifts(kp_source, kp_driving)  # (B, K + 1, 2)
        inputs = self._slot_inputs(source, kp_source, kp_driving, shifts, source_heatmap)
        for block in self.group_blocks:
            inputs = block(inputs)
        prediction = self.hourglass(inputs)

        flow = torch.zeros(batch, 2, height, width, device=source.device, dtype=prediction.dtype)
        masks = residual = None
        if self.use_mask:
            masks = F.softmax(prediction[:, : self.num_kp + 1].float(), dim=1).to(prediction.dtype)
            flow = flow + torch.einsum("bkhw,bkc->bchw", masks, shifts.to(masks.dtype))
        if self.use_residual:
            residual = prediction[:, -2:]
            flow = flow + residual
        if self.local_keypoints:
            flow = flow + local_flow_correction(
                flow, kp_source, kp_driving, self.local_keypoints, self.local_sigma, self.linear_solver
            )
        grid = identity_grid(batch, height, width, source.device, flow.dtype) + flow.permute(0, 2, 3, 1)
        return DenseMotion(grid, masks, residual)

    def _shifts(self, kp_source: Keypoints, kp_driving: Keypoints) -> torch.Tensor:
        """Per-slot translations (B, K + 1, 2): mean_source - mean_driving, 0 for background."""
        shifts = kp_source.mean - kp_driving.mean
        return torch.cat([torch.zeros_like(shifts[:, :1]), shifts], dim=1)

    def _slot_inputs(
        self,
        source: torch.Tensor,
        kp_source: Keypoints,
        kp_driving: Keypoints,
        shifts: torch.Tensor,
        source_heatmap: torch.Tensor | None,
    ) -> torch.Tensor:
        """Stack per-slot inputs into (B, (K + 1) * per_slot, h, w), slot by slot."""
        batch, _, height, width = source.shape
        if source_heatmap is None:
            source_heatmap = self.source_heatmap(kp_source, height, width)
        driving_heatmap = normalise_heatmap(keypoints_to_gaussians(kp_driving, height, width), self.heatmap_norm)
        difference = driving_heatmap - source_heatmap
        difference = torch.cat([torch.zeros_like(difference[:, :1]), difference], dim=1)
        parts = [difference.unsqueeze(2).to(source.dtype)]  # (B, K + 1, 1, h, w)
        if self.use_difference:
            parts.append(shifts[..., None, None].expand(-1, -1, -1, height, width).to(source.dtype))
        if self.use_source:
            parts.append(self._shifted_sources(source, shifts))
        return torch.cat(parts, dim=2).reshape(batch, -1, height, width)

    @staticmethod
    def _shifted_sources(source: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
        """The source sampled at z + shift_k for every slot: (B, K + 1, C, h, w)."""
        batch, channels, height, width = source.shape
        slots = shifts.shape[1]
        grid = identity_grid(batch, height, width, source.device, source.dtype).unsqueeze(1)
        grid = (grid + shifts[:, :, None, None, :].to(source.dtype)).reshape(batch * slots, height, width, 2)
        repeated = source.unsqueeze(1).expand(-1, slots, -1, -1, -1).reshape(batch * slots, channels, height, width)
        return warp(repeated, grid).reshape(batch, slots, channels, height, width)


LOCAL_FLOW_RIDGE = 0.05  # keeps the RBF system well posed when two keypoints meet (closed lips)
LinearSolver = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def solve_by_elimination(system: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve ``system @ x = rhs`` by Gauss-Jordan elimination without pivoting, unrolled.

    The same answer as ``torch.linalg.solve`` for symmetric positive definite systems (such
    as the local flow's ridge-regularised Gaussian kernel), written with elementwise ops only,
    so that exporters without a linear-solve operator (OpenVINO) can convert it.

    Args:
        system: (B, n, n) symmetric positive definite matrices.
        rhs: (B, n, m) right-hand sides.

    Returns:
        (B, n, m) solutions.
    """
    n = system.shape[-1]
    augmented = torch.cat([system, rhs.to(system.dtype)], dim=-1)  # (B, n, n + m)
    unit = torch.eye(n, device=system.device, dtype=system.dtype)
    for i in range(n):
        pivot_row = augmented[:, i : i + 1] / augmented[:, i : i + 1, i : i + 1]  # (B, 1, n + m)
        # every row j loses a[j, i] times the pivot row; row i itself becomes the pivot row
        factors = augmented[:, :, i : i + 1] - unit[:, i : i + 1]  # (B, n, 1)
        augmented = augmented - factors * pivot_row
    return augmented[:, :, n:]


def local_flow_correction(
    flow: torch.Tensor,
    kp_source: Keypoints,
    kp_driving: Keypoints,
    count: int,
    sigma: float,
    solve: LinearSolver = torch.linalg.solve,
) -> torch.Tensor:
    """Beyond the paper: a smooth flow that makes the first ``count`` keypoints move as they should.

    A backward flow maps each output position to where it is sampled in the source; at a
    driving keypoint it should point at the matching source keypoint. The error of ``flow``
    there is interpolated between the keypoints by Gaussian radial basis functions of width
    ``sigma`` (a ridge-regularised solve, so near-coincident keypoints stay stable).

    Args:
        flow: (B, 2, h, w) backward flow in [-1, 1] units (x, y).
        kp_source, kp_driving: keypoints with (B, K, 2) means in [-1, 1].
        count: how many of the first keypoints to enforce (1 .. K).
        sigma: Gaussian width in [-1, 1] units.
        solve: ``torch.linalg.solve`` or :func:`solve_by_elimination` (same result).

    Returns:
        (B, 2, h, w) correction to add to ``flow``; it decays to 0 away from the keypoints.
    """
    batch, _, height, width = flow.shape
    driving = kp_driving.mean[:, :count].to(flow.dtype)  # (B, n, 2)
    wanted = kp_source.mean[:, :count].to(flow.dtype) - driving
    found = F.grid_sample(flow, driving.unsqueeze(1), mode="bilinear", align_corners=True)  # (B, 2, 1, n)
    error = wanted - found[:, :, 0].transpose(1, 2)  # (B, n, 2)
    between = torch.cdist(driving.float(), driving.float()) ** 2  # (B, n, n)
    system = falloff(-between / (2 * sigma**2)) + LOCAL_FLOW_RIDGE * torch.eye(count, device=flow.device)
    weights = solve(system, error.float()).to(flow.dtype)  # (B, n, 2)
    grid = identity_grid(batch, height, width, flow.device, flow.dtype).reshape(batch, -1, 1, 2)
    spread = falloff(-((grid - driving.unsqueeze(1)) ** 2).sum(-1) / (2 * sigma**2))  # (B, h*w, n)
    return (spread @ weights).transpose(1, 2).reshape(batch, 2, height, width)
