"""Monkey-Net training losses (paper Sec. 3.5; weights of the reference training recipe).

Generator side: feature matching sum_i w_i * mean |D_i(real) - D_i(fake)| over D's maps
[pixels, block 0, ..., block N-1] (entry 0 is a plain pixel L1, lambda_rec = 10) plus the
LSGAN term mean (1 - D(fake))^2. Discriminator side: mean (1 - D(real))^2 + D(fake)^2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch


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
