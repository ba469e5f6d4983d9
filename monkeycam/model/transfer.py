"""Motion transfer between objects (paper Sec. 3.6, Eq. 7). Pure functions on keypoints.

Relative transfer moves the source keypoints by the driving keypoints' displacement since a
reference ("first") driving frame, so the source keeps its own shape:

    mean' = mean_source + scale * (mean_driving_t - mean_driving_ref)
    covar' = covar_driving_t                (or the adapted covariance, see below)

Every function takes batched :class:`Keypoints` (B, K, ...) and returns new ones.
"""

from __future__ import annotations

import torch

from .keypoints import Keypoints, inverse_2x2


def convex_hull_area(points: torch.Tensor) -> torch.Tensor:
    """Area of the convex hull of each point set. points: (B, K, 2) -> (B,) float.

    Andrew's monotone chain on the CPU; K is small (tens of keypoints).
    """
    areas = [_hull_area(p) for p in points.detach().double().cpu().tolist()]
    return torch.tensor(areas, dtype=points.dtype, device=points.device)


def _hull_area(points: list[list[float]]) -> float:
    pts = sorted(map(tuple, points))
    if len(pts) < 3:
        return 0.0

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(sequence) -> list:
        chain: list = []
        for p in sequence:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    hull = half(pts) + half(reversed(pts))
    twice_area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(hull, hull[1:] + hull[:1]))
    return abs(twice_area) / 2.0


def movement_scale(kp_source: Keypoints, kp_reference: Keypoints) -> torch.Tensor:
    """sqrt(hull area of source keypoints / hull area of reference driving keypoints): (B,).

    Adapts the size of the motion to the size of the object in the source (paper Sec. 3.6).
    Degenerate hulls give a scale of 1.
    """
    source_area = convex_hull_area(kp_source.mean)
    reference_area = convex_hull_area(kp_reference.mean)
    scale = torch.sqrt(source_area / reference_area.clamp_min(1e-12))
    return torch.where((source_area > 1e-12) & (reference_area > 1e-12), scale, torch.ones_like(scale))


def adapt_covariance(covar_driving: torch.Tensor, covar_reference: torch.Tensor, covar_source: torch.Tensor) -> torch.Tensor:
    """Sigma' = Sigma_t inv(Sigma_ref) Sigma_source, symmetrised, eigenvalues kept positive.

    All inputs and the output: (B, K, 2, 2).
    """
    adapted = covar_driving @ inverse_2x2(covar_reference) @ covar_source
    adapted = 0.5 * (adapted + adapted.transpose(-1, -2))
    eigenvalues, eigenvectors = torch.linalg.eigh(adapted.double())
    eigenvalues = eigenvalues.clamp_min(1e-6)
    rebuilt = eigenvectors @ torch.diag_embed(eigenvalues) @ eigenvectors.transpose(-1, -2)
    return rebuilt.to(covar_driving.dtype)


def relative_keypoints(
    kp_source: Keypoints,
    kp_driving: Keypoints,
    kp_reference: Keypoints,
    adapt_movement_scale: bool = False,
    adapt_covariances: bool = False,
    clip_to_frame: bool = False,
) -> Keypoints:
    """Relative motion transfer (Eq. 7).

    Args:
        kp_source: keypoints of the source image.
        kp_driving: keypoints of the current driving frame.
        kp_reference: keypoints of the reference driving frame (the anchor of motion).
        adapt_movement_scale: scale displacements by :func:`movement_scale`.
        adapt_covariances: use :func:`adapt_covariance` instead of the driving covariance.
        clip_to_frame: clamp the new means to [-1, 1].

    With kp_driving == kp_reference the result is exactly the source means.
    """
    displacement = kp_driving.mean - kp_reference.mean
    if adapt_movement_scale:
        displacement = displacement * movement_scale(kp_source, kp_reference)[:, None, None]
    mean = kp_source.mean + displacement
    if clip_to_frame:
        mean = mean.clamp(-1.0, 1.0)
    covar = kp_driving.covar
    if adapt_covariances:
        covar = adapt_covariance(kp_driving.covar, kp_reference.covar, kp_source.covar)
    return Keypoints(mean, covar)


def absolute_keypoints(kp_driving: Keypoints) -> Keypoints:
    """Absolute transfer: the driving keypoints are used as they are (the paper's naive mode)."""
    return Keypoints(kp_driving.mean.clone(), kp_driving.covar.clone())
