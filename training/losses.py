"""Monkey-Net training losses (paper Sec. 3.5; weights of the reference training recipe).

Generator side: feature matching sum_i w_i * mean |D_i(real) - D_i(fake)| over D's maps
[pixels, block 0, ..., block N-1] (entry 0 is a plain pixel L1, lambda_rec = 10) plus the
LSGAN term mean (1 - D(fake))^2. Discriminator side: mean (1 - D(real))^2 + D(fake)^2.

Beyond the paper (each off unless its weight in the training config is > 0): an L1 image
pyramid (cheap enough to train on a CPU without the discriminator), the keypoint
equivariance constraint, landmark guidance of keypoints on faces (training/landmarks.py),
and an L1 weighted towards the eyes and mouth (where expressions show).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from monkeycam.model.keypoints import Keypoints, identity_grid, keypoints_to_gaussians


class GeneratorLosses(NamedTuple):
    """Scalars; ``total`` is what is back-propagated."""

    total: torch.Tensor
    reconstruction: torch.Tensor  # the weighted feature-matching sum (pixel L1 included)
    pixel_l1: torch.Tensor  # unweighted mean |real - fake| in [0, 1] units
    gan: torch.Tensor


def generator_losses(
    maps_real: Sequence[torch.Tensor],
    maps_fake: Sequence[torch.Tensor],
    feature_matching_weights: Sequence[float],
    gan_weight: float,
) -> GeneratorLosses:
    """Losses for the keypoint detector and generator.

    Args:
        maps_real, maps_fake: discriminator outputs ``[image, block maps..., score]`` for the
            real driving frame and the prediction (both with the driving keypoints).
        feature_matching_weights: one weight per map before the score (zero skips it).
    """
    features_real, features_fake = maps_real[:-1], maps_fake[:-1]
    if len(feature_matching_weights) != len(features_real):
        raise ValueError(
            f"{len(feature_matching_weights)} feature-matching weights for {len(features_real)} discriminator maps"
        )
    reconstruction = maps_fake[0].new_zeros(())
    for weight, real, fake in zip(feature_matching_weights, features_real, features_fake):
        if weight:
            reconstruction = reconstruction + weight * (real.float() - fake.float()).abs().mean()
    gan = ((1 - maps_fake[-1].float()) ** 2).mean()
    pixel_l1 = (maps_real[0].float() - maps_fake[0].float()).abs().mean().detach()
    return GeneratorLosses(reconstruction + gan_weight * gan, reconstruction, pixel_l1, gan)


def discriminator_loss(score_real: torch.Tensor, score_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss on the score maps; ``score_fake`` from detached inputs."""
    return ((1 - score_real.float()) ** 2).mean() + (score_fake.float() ** 2).mean()


# --------------------------------------------------------------------------- beyond the paper


def pyramid_l1(real: torch.Tensor, fake: torch.Tensor, weights: Sequence[float]) -> torch.Tensor:
    """sum_i w_i * mean |real_i - fake_i| over an image pyramid: level 0 is the full size,
    each next level is shrunk 2x by averaging. real, fake: (B, C, H, W) in [0, 1].

    Coarse levels weigh the placement of whole regions (what a warp gets right or wrong);
    the fine level weighs detail.
    """
    total = fake.new_zeros((), dtype=torch.float32)
    real, fake = real.float(), fake.float()
    for level, weight in enumerate(weights):
        if level:
            real, fake = F.avg_pool2d(real, 2), F.avg_pool2d(fake, 2)
        if weight:
            total = total + weight * (real - fake).abs().mean()
    return total


def landmark_loss(means: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Mean |keypoint - landmark| over the guided keypoints where the landmark is known.

    means: (B, K, 2) keypoints in [-1, 1]; points: (B, L, 2), L <= K, NaN where unknown; the
    first L keypoints are guided. Returns 0 when no landmark is known.
    """
    guided = means[:, : points.shape[1]].float()
    known = torch.isfinite(points).all(dim=-1)  # (B, L)
    if not bool(known.any()):
        return guided.new_zeros(())
    distance = (guided - torch.nan_to_num(points)).abs().sum(dim=-1)  # (B, L)
    return distance[known].mean()


def region_l1(real: torch.Tensor, fake: torch.Tensor, points: torch.Tensor, sigma: float) -> torch.Tensor:
    """Mean |real - fake| weighted by Gaussian windows around chosen points of each image.

    real, fake: (B, C, H, W) in [0, 1]; points: (B, P, 2) in [-1, 1], NaN where unknown;
    sigma: window width in [-1, 1] units. A pixel's weight is its largest window value, so
    overlapping windows do not count twice. Images with no known point are left out;
    returns 0 when none has one.
    """
    known = torch.isfinite(points).all(dim=-1)  # (B, P)
    if not bool(known.any()):
        return fake.new_zeros((), dtype=torch.float32)
    centres = torch.nan_to_num(points.float())
    isotropic = torch.eye(2, device=centres.device) * sigma**2
    windows = keypoints_to_gaussians(Keypoints(centres, isotropic.expand(*centres.shape[:2], 2, 2)), *fake.shape[-2:])
    weights = (windows * known[:, :, None, None]).amax(dim=1, keepdim=True)  # (B, 1, H, W)
    error = (real.float() - fake.float()).abs().mean(dim=1, keepdim=True)  # (B, 1, H, W)
    used = known.any(dim=-1)
    per_image = (weights * error).sum(dim=(1, 2, 3)) / weights.sum(dim=(1, 2, 3)).clamp_min(1e-6)
    return per_image[used].mean()


class RandomAffine(NamedTuple):
    """Per-image affine maps p -> matrix @ p + shift in [-1, 1] coordinates: (B, 2, 2), (B, 2)."""

    matrix: torch.Tensor
    shift: torch.Tensor

    @classmethod
    def draw(cls, batch: int, strength: float, generator: torch.Generator, device) -> RandomAffine:
        """Rotation up to ``strength`` * 90 degrees, zoom and shift up to ``strength``."""
        u = (torch.rand(batch, 4, generator=generator) * 2 - 1).to(device)
        angle = u[:, 0] * strength * math.pi / 2
        zoom = 1 + u[:, 1] * strength
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        matrix = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
        return cls(matrix, u[:, 2:] * strength)

    def warp_image(self, images: torch.Tensor) -> torch.Tensor:
        """The image whose pixel at p shows ``images`` at matrix @ p + shift."""
        batch, _, height, width = images.shape
        grid = identity_grid(batch, height, width, images.device, images.dtype)
        grid = torch.einsum("bij,bhwj->bhwi", self.matrix.to(images.dtype), grid) + self.shift[:, None, None, :]
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=True)

    def apply(self, points: torch.Tensor) -> torch.Tensor:
        """matrix @ p + shift for (B, K, 2) points."""
        return torch.einsum("bij,bkj->bki", self.matrix, points) + self.shift[:, None, :]


def equivariance_loss(kp_original: torch.Tensor, kp_transformed: torch.Tensor, affine: RandomAffine) -> torch.Tensor:
    """Keypoints must move with the image (the equivariance constraint of the
    first-order-motion line of work): a point found at p in ``affine.warp_image(x)`` must
    be found at matrix @ p + shift in x. Both (B, K, 2) in [-1, 1]; mean L1."""
    return (affine.apply(kp_transformed.float()) - kp_original.float()).abs().sum(dim=-1).mean()
