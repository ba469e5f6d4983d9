"""Image grids for logs and model cards: frames with keypoints drawn."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from monkeycam.model import Keypoints

# Distinct colours (RGB) for up to 20 keypoints, cycled beyond.
PALETTE = np.array(
    [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
        (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
        (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
    ],
    dtype=np.uint8,
)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8."""
    return (images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255).round().astype(np.uint8)


def draw_keypoints(image: np.ndarray, means: np.ndarray, covariances: np.ndarray | None = None) -> np.ndarray:
    """Draw keypoints (K, 2) in [-1, 1] (and their 1-sigma ellipses) on an (H, W, 3) uint8 image."""
    out = np.ascontiguousarray(image.copy())
    height, width = out.shape[:2]
    radius = max(1, round(min(height, width) / 64))
    for k, (x, y) in enumerate(means):
        colour = tuple(int(c) for c in PALETTE[k % len(PALETTE)])
        centre = ((x + 1) / 2 * (width - 1), (y + 1) / 2 * (height - 1))
        if covariances is not None:
            _draw_ellipse(out, centre, covariances[k], (width - 1) / 2, (height - 1) / 2, colour)
        cv2.circle(out, (round(centre[0]), round(centre[1])), radius, colour, -1, lineType=cv2.LINE_AA)
    return out


def _draw_ellipse(image, centre, covariance, sx: float, sy: float, colour) -> None:
    scaled = np.diag([sx, sy]) @ covariance @ np.diag([sx, sy])
    values, vectors = np.linalg.eigh(scaled)
    values = np.sqrt(np.clip(values, 0, None))
    angle = float(np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1])))
    axes = (max(1, round(values[1])), max(1, round(values[0])))
    cv2.ellipse(image, (round(centre[0]), round(centre[1])), axes, angle, 0, 360, colour, 1, lineType=cv2.LINE_AA)


def pair_grid(
    source: torch.Tensor,
    driving: torch.Tensor,
    prediction: torch.Tensor,
    deformed: torch.Tensor,
    kp_source: Keypoints,
    kp_driving: Keypoints,
    rows: int = 4,
) -> np.ndarray:
    """Rows of [source+kp | driving+kp | prediction | deformed source] -> (H', W', 3) uint8."""
    rows = min(rows, source.shape[0])
    columns = [to_uint8(t[:rows]) for t in (source, driving, prediction, deformed)]
    ks, kd = kp_source.mean.detach().float().cpu().numpy(), kp_driving.mean.detach().float().cpu().numpy()
    lines = []
    for i in range(rows):
        lines.append(
            np.concatenate(
                [draw_keypoints(columns[0][i], ks[i]), draw_keypoints(columns[1][i], kd[i]), columns[2][i], columns[3][i]],
                axis=1,
            )
        )
    return np.concatenate(lines, axis=0)
