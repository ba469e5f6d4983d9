"""Synthetic videos for fast training tests: shapes that move, rotate and deform."""

from __future__ import annotations

import math

import cv2
import numpy as np


def shape_clip(seed: int, frames: int = 12, size: int = 64) -> np.ndarray:
    """(T, size, size, 3) uint8 RGB: a coloured ellipse and a square moving on a plain background.

    The ellipse orbits and stretches, the square translates and rotates; colours and
    trajectories depend on ``seed``.
    """
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 80, 3)
    colours = rng.integers(120, 256, (2, 3))
    phase, speed = rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 0.6)
    out = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        frame = np.empty((size, size, 3), np.uint8)
        frame[:] = background
        a = phase + speed * t
        centre = (size / 2 + size / 5 * math.cos(a), size / 2 + size / 6 * math.sin(a))
        axes = (size / 6 * (1 + 0.3 * math.sin(2 * a)), size / 9)
        cv2.ellipse(frame, (round(centre[0]), round(centre[1])), (round(axes[0]), round(axes[1])),
                    math.degrees(a), 0, 360, tuple(int(c) for c in colours[0]), -1, cv2.LINE_AA)
        square_centre = (size * 0.3 + t * size / (3 * frames), size * 0.7)
        box = cv2.boxPoints((square_centre, (size / 6, size / 6), math.degrees(-a)))
        cv2.fillConvexPoly(frame, box.astype(np.int32), tuple(int(c) for c in colours[1]), cv2.LINE_AA)
        out[t] = frame
    return out


def shape_clips(count: int, frames: int = 12, size: int = 64) -> list[np.ndarray]:
    return [shape_clip(seed, frames, size) for seed in range(count)]
