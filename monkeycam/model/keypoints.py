"""Keypoint math: coordinate grids, heatmap -> Gaussian fit (Eq. 1), Gaussian encoding (Eq. 2).

Coordinates are in [-1, 1], x first then y, with -1 and 1 on the centres of the first and
last pixels (the convention of ``grid_sample(..., align_corners=True)``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Keypoints(NamedTuple):
    """K keypoints per image.

    Attributes:
        mean: (B, K, 2) positions (x, y) in [-1, 1].
        covar: (B, K, 2, 2) symmetric positive-definite covariances.
    """

    mean: torch.Tensor
    covar: torch.Tensor

    def detach(self) -> Keypoints:
        return Keypoints(self.mean.detach(), self.covar.detach())

    def to(self, *args, **kwargs) -> Keypoints:
        return Keypoints(self.mean.to(*args, **kwargs), self.covar.to(*args, **kwargs))


def coordinate_grid(height: int, width: int, device=None, dtype=None) -> torch.Tensor:
    """(H, W, 2) grid of (x, y) pixel-centre coordinates in [-1, 1]."""
    x = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype) if width > 1 else torch.zeros(1, device=device, dtype=dtype)
    y = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype) if height > 1 else torch.zeros(1, device=device, dtype=dtype)
    return torch.stack(torch.meshgrid(x, y, indexing="xy"), dim=-1)


def identity_grid(batch: int, height: int, width: int, device=None, dtype=None) -> torch.Tensor:
    """(B, H, W, 2) sampling grid that leaves an image unchanged under :func:`warp`."""
    return coordinate_grid(height, width, device, dtype).unsqueeze(0).expand(batch, -1, -1, -1)


def warp(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Sample (B, C, H, W) ``image`` at (B, h, w, 2) ``grid`` -> (B, C, h, w).

    Bilinear, zeros outside, ``align_corners=True`` (the reference convention).
    """
    if grid.dtype != image.dtype:
        grid = grid.to(image.dtype)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def smallest_singular_value(matrix: torch.Tensor) -> torch.Tensor:
    """Smallest singular value of (..., 2, 2) matrices, in closed form -> (...)."""
    a, b = matrix[..., 0, 0], matrix[..., 0, 1]
    c, d = matrix[..., 1, 0], matrix[..., 1, 1]
    s1 = a**2 + b**2 + c**2 + d**2
    s2 = torch.sqrt((a**2 + b**2 - c**2 - d**2) ** 2 + 4 * (a * c + b * d) ** 2)
    return torch.sqrt(((s1 - s2) / 2).clamp_min(0))


def inverse_2x2(matrix: torch.Tensor) -> torch.Tensor:
    """Closed-form inverse of (..., 2, 2) matrices."""
    a, b = matrix[..., 0, 0], matrix[..., 0, 1]
    c, d = matrix[..., 1, 0], matrix[..., 1, 1]
    det = (a * d - b * c).unsqueeze(-1).unsqueeze(-1)
    adjugate = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2)
    return adjugate / det


def heatmap_to_keypoints(heatmap: torch.Tensor, clip_variance: float | None) -> Keypoints:
    """Fit a Gaussian to each normalised heatmap (paper Eq. 1).

    Args:
        heatmap: (B, K, H, W) probabilities, each map summing to 1.
        clip_variance: covariances are rescaled so their smallest singular value is at
            least this (None: no clipping).

    Returns:
        Keypoints with mean = sum p * z and covariance = sum p (z - mean)(z - mean)^T.
    """
    batch, num_kp, height, width = heatmap.shape
    grid = coordinate_grid(height, width, heatmap.device, heatmap.dtype).reshape(-1, 2)  # (HW, 2)
    weights = heatmap.reshape(batch, num_kp, -1) + 1e-7  # the reference adds this to keep covariances finite
    mean = weights @ grid  # (B, K, 2)
    # sum w (z - m)(z - m)^T expanded, so no (B, K, H, W, 2, 2) tensor is built:
    # sum w z z^T - 2 m m^T + (sum w) m m^T  (sum w is 1 + HW * 1e-7, kept for exactness)
    second_moment = torch.einsum("bkn,ni,nj->bkij", weights, grid, grid)
    outer_mean = mean.unsqueeze(-1) * mean.unsqueeze(-2)
    covar = second_moment + (weights.sum(-1)[..., None, None] - 2.0) * outer_mean
    if clip_variance:
        smallest = smallest_singular_value(covar)[..., None, None]
        covar = torch.clamp(smallest, min=clip_variance) * covar / smallest
    return Keypoints(mean, covar)


def fixed_covariance(mean: torch.Tensor, variance: float) -> torch.Tensor:
    """(B, K, 2, 2) covariances ``variance * I`` for (B, K, 2) means ("No Sigma_k")."""
    eye = torch.eye(2, device=mean.device, dtype=mean.dtype)
    return (variance * eye).expand(*mean.shape[:-1], 2, 2).clone()


EXPONENT_FLOOR = -80.0  # exp(-80) is about 1.8e-35, still a normal float32: zero for every purpose


def falloff(exponent: torch.Tensor) -> torch.Tensor:
    """``exp(exponent)`` for exponents <= 0, the exponent floored at :data:`EXPONENT_FLOOR`.

    Gaussian maps and kernels put most pixels thousands of units below zero, and torch's CPU
    ``exp`` is some 50x slower on arguments far past its underflow point (0.56 against 0.01
    ms for 41k values on one thread); the floor changes no value by more than 2e-35.
    """
    return torch.exp(exponent.clamp_min(EXPONENT_FLOOR))


def keypoints_to_gaussians(kp: Keypoints, height: int, width: int) -> torch.Tensor:
    """Encode keypoints as unnormalised Gaussians exp(-d^T inv(S) d / 2) (paper Eq. 2).

    Returns:
        (B, K, H, W) maps with peak value 1 at each keypoint mean.
    """
    axes = coordinate_grid(height, width, kp.mean.device, kp.mean.dtype)
    x, y = axes[0, :, 0], axes[:, 0, 1]  # (W,), (H,): the grid's columns and rows
    dx = x - kp.mean[:, :, None, None, 0]  # (B, K, 1, W): x - mean depends on the column only
    dy = y[:, None] - kp.mean[:, :, None, None, 1]  # (B, K, H, 1)
    precision = inverse_2x2(kp.covar)[:, :, None, None]  # (B, K, 1, 1, 2, 2)
    # the squared terms are computed per row or column and only broadcast at the end, so just
    # the cross term and the sum touch every pixel
    mahalanobis = (
        (precision[..., 0, 1] + precision[..., 1, 0]) * dx * dy
        + precision[..., 0, 0] * dx * dx
        + precision[..., 1, 1] * dy * dy
    )
    return falloff(-0.5 * mahalanobis)


def normalise_heatmap(gaussians: torch.Tensor, norm: float | str) -> torch.Tensor:
    """Divide (B, K, H, W) Gaussians by a constant, or by their spatial sum when norm == 'sum'."""
    if norm == "sum":
        return gaussians / gaussians.sum(dim=(2, 3), keepdim=True)
    return gaussians / float(norm)


def heatmap_difference(
    kp_driving: Keypoints, kp_source: Keypoints, height: int, width: int, norm: float | str
) -> torch.Tensor:
    """Normalised Gaussian encoding of driving minus that of source: (B, K, H, W)."""
    driving = normalise_heatmap(keypoints_to_gaussians(kp_driving, height, width), norm)
    source = normalise_heatmap(keypoints_to_gaussians(kp_source, height, width), norm)
    return driving - source
