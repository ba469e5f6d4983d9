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


def fit_similarity(points_from: torch.Tensor, points_to: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares similarity transform (rotation, uniform scale, translation) taking each
    point set ``points_from`` onto ``points_to``, about the centroid of ``points_from``.

    Args:
        points_from, points_to: (B, K, 2) corresponding points (K >= 2).

    Returns:
        (linear, centre, shift): linear (B, 2, 2) = scale * rotation; centre (B, 2) the centroid
        of ``points_from``; shift (B, 2) the centroid motion. The fitted map is
        ``p -> centre + shift + linear @ (p - centre)``.
    """
    centre = points_from.mean(dim=1)
    target_centre = points_to.mean(dim=1)
    source = points_from - centre[:, None]
    target = points_to - target_centre[:, None]
    norm = (source**2).sum(dim=(1, 2)).clamp_min(1e-12)
    cos_part = (source * target).sum(dim=(1, 2)) / norm  # scale * cos(angle)
    sin_part = (source[..., 0] * target[..., 1] - source[..., 1] * target[..., 0]).sum(dim=1) / norm
    linear = torch.stack([torch.stack([cos_part, -sin_part], -1), torch.stack([sin_part, cos_part], -1)], -2)
    return linear, centre, target_centre - centre


def _apply_similarity(points: torch.Tensor, linear: torch.Tensor, centre: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``centre + shift + linear @ (p - centre)`` for points (B, K, 2)."""
    return centre[:, None] + shift[:, None] + (points - centre[:, None]) @ linear.transpose(-1, -2)


def scale_motion(
    kp_driving: Keypoints, kp_reference: Keypoints, pose_strength: float = 1.0, expression_strength: float = 1.0
) -> Keypoints:
    """The driving keypoints with their motion since ``kp_reference`` split and rescaled.

    The motion reference -> driving is split into the similarity transform fitted to all
    keypoints (:func:`fit_similarity`: the head's rotation, scale and translation) and the rest
    (local motion: eyes, mouth). ``pose_strength`` scales the similarity part (angle, log-scale
    and translation times the strength), ``expression_strength`` the local part; both 0 .. 2
    and 1 leaves the driving keypoints as they are. The local motion and the covariances follow
    the change of the similarity's linear part (a blink seen on a turned head is a blink on
    the head that, at pose 0, did not turn). The covariances' own local change (a keypoint's
    blob stretching as the mouth opens) is scaled too: expression 0 gives the reference's
    covariances moved by the scaled head, 1 the driving ones (:func:`_blend_covariances`).

    Args:
        kp_driving, kp_reference: (B, K, ...) keypoints of the current and the reference frame.

    Returns:
        Keypoints shaped like ``kp_driving``: pose 0 keeps the reference's global placement,
        expression 0 keeps the reference's shape moved by the (scaled) similarity only.
    """
    if pose_strength == 1.0 and expression_strength == 1.0:
        return kp_driving
    linear, centre, shift = fit_similarity(kp_reference.mean, kp_driving.mean)
    global_motion = _apply_similarity(kp_reference.mean, linear, centre, shift)
    local = kp_driving.mean - global_motion
    scale = torch.sqrt(linear[:, 0, 0] ** 2 + linear[:, 1, 0] ** 2).clamp_min(1e-6)
    angle = torch.atan2(linear[:, 1, 0], linear[:, 0, 0])
    new_scale = scale**pose_strength
    new_angle = angle * pose_strength
    cos, sin = new_scale * torch.cos(new_angle), new_scale * torch.sin(new_angle)
    new_linear = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    change = new_linear @ inverse_2x2(linear)  # (B, 2, 2): undo the fitted global part, apply the scaled one
    # the local motion turns and scales with the head: carry it into the new head placement
    local = expression_strength * local @ change.transpose(-1, -2)
    mean = _apply_similarity(kp_reference.mean, new_linear, centre, shift * pose_strength) + local
    driven = change[:, None] @ kp_driving.covar @ change[:, None].transpose(-1, -2)
    head_only = new_linear[:, None] @ kp_reference.covar @ new_linear[:, None].transpose(-1, -2)
    covar = _blend_covariances(head_only, driven, expression_strength)
    return Keypoints(mean.to(kp_driving.mean.dtype), covar.to(kp_driving.covar.dtype))


def _blend_covariances(start: torch.Tensor, end: torch.Tensor, weight: float) -> torch.Tensor:
    """Covariances from ``start`` (weight 0) to ``end`` (weight 1), extrapolated beyond 1, on the
    log scale of the matrices so every result stays symmetric positive definite.

    start, end: (B, K, 2, 2) symmetric positive definite -> (B, K, 2, 2), ``end``'s dtype.
    """
    if weight == 0.0:
        return start.to(end.dtype)
    if weight == 1.0:
        return end
    blended = (1.0 - weight) * _spd_log(start.double()) + weight * _spd_log(end.double())
    eigenvalues, eigenvectors = torch.linalg.eigh(blended)
    return (eigenvectors @ torch.diag_embed(eigenvalues.exp()) @ eigenvectors.transpose(-1, -2)).to(end.dtype)


def _spd_log(matrix: torch.Tensor) -> torch.Tensor:
    """Matrix logarithm of symmetric positive definite (..., 2, 2) matrices (tiny eigenvalues floored)."""
    symmetric = 0.5 * (matrix + matrix.transpose(-1, -2))
    eigenvalues, eigenvectors = torch.linalg.eigh(symmetric)
    return eigenvectors @ torch.diag_embed(eigenvalues.clamp_min(1e-12).log()) @ eigenvectors.transpose(-1, -2)
