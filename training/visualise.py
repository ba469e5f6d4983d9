"""Image grids for logs and model cards: frames with keypoints drawn."""

from __future__ import annotations

import numpy as np
import torch

from monkeycam.drawing import draw_keypoints as draw_on_image
from monkeycam.drawing import keypoint_overlay
from monkeycam.face.crop import CropBox
from monkeycam.model import Keypoints


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] -> uint8 (rounded), any shape."""
    return np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)


def tensor_to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float tensor in [0, 1] -> (B, H, W, 3) uint8."""
    return to_uint8(images.detach().float().permute(0, 2, 3, 1).cpu().numpy())


def draw_keypoints(image: np.ndarray, means: np.ndarray, covariances: np.ndarray | None = None) -> np.ndarray:
    """A copy of a square (S, S, 3) uint8 image with keypoints (K, 2) in [-1, 1] drawn, and their
    1-sigma ellipses when ``covariances`` (K, 2, 2, in [-1, 1] units) are given."""
    size = image.shape[0]
    if image.shape[1] != size:
        raise ValueError(f"draw_keypoints needs a square image, got {image.shape[1]}x{size}")
    shown = covariances if covariances is not None else np.zeros((len(means), 2, 2))
    overlay = keypoint_overlay(np.asarray(means, float), np.asarray(shown, float), size, CropBox(0.0, 0.0, size))
    return draw_on_image(image, overlay, ellipses=covariances is not None)


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
    columns = [tensor_to_uint8(t[:rows]) for t in (source, driving, prediction, deformed)]
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
