"""From the model's S x S prediction to the output picture: resize, or paste back into the
full portrait with a feathered mask. numpy and OpenCV only (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face.crop import CropBox

FEATHER = 0.12  # width of the soft edge of the paste-back mask, as a fraction of the crop side


def resize_square(image: np.ndarray, side: int) -> np.ndarray:
    """(S, S, 3) -> (side, side, 3); area averaging when shrinking, bicubic when enlarging."""
    if image.shape[0] == side and image.shape[1] == side:
        return image
    interpolation = cv2.INTER_AREA if side < image.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(image, (side, side), interpolation=interpolation)


def feathered_mask(height: int, width: int, feather: float, soft_edges: tuple[bool, bool, bool, bool]) -> np.ndarray:
    """(H, W) float32 weights: 1 inside, falling smoothly to 0 over ``feather`` pixels at each
    soft edge (left, top, right, bottom); hard edges (at the portrait border) stay 1."""
    left, top, right, bottom = soft_edges
    xs, ys = np.arange(width, dtype=np.float32) + 0.5, np.arange(height, dtype=np.float32) + 0.5
    ramp_x = np.ones(width, dtype=np.float32)
    ramp_y = np.ones(height, dtype=np.float32)
    feather = max(feather, 1.0)
    if left:
        ramp_x = np.minimum(ramp_x, xs / feather)
    if right:
        ramp_x = np.minimum(ramp_x, (width - xs) / feather)
    if top:
        ramp_y = np.minimum(ramp_y, ys / feather)
    if bottom:
        ramp_y = np.minimum(ramp_y, (height - ys) / feather)
    ramp = np.clip(np.minimum.outer(ramp_y, ramp_x), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)  # smoothstep: no visible seam


@dataclass(frozen=True)
class PasteBack:
    """Blends animated faces into a portrait at a fixed crop box (prepared once per source).

    Attributes:
        portrait: (H, W, 3) uint8 RGB, the full source image.
        box: the square the model's crop was cut from (portrait pixels; may pass the border).
    """

    portrait: np.ndarray
    box: CropBox
    _region: tuple[int, int, int, int]  # x0, y0, x1, y1 in the portrait
    _weights: np.ndarray  # (y1 - y0, x1 - x0) float32, the face's weight
    _inverse: np.ndarray  # 1 - _weights

    @classmethod
    def prepare(cls, portrait: np.ndarray, box: CropBox, feather: float = FEATHER) -> PasteBack:
        x, y, size = box.as_int()
        height, width = portrait.shape[:2]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + size), min(height, y + size)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"the crop box {box} does not overlap the {width}x{height} portrait")
        soft = (x0 > 0, y0 > 0, x1 < width, y1 < height)
        weights = feathered_mask(y1 - y0, x1 - x0, feather * size, soft)
        return cls(portrait, box, (x0, y0, x1, y1), weights, 1.0 - weights)

    def apply(self, face: np.ndarray) -> np.ndarray:
        """(S, S, 3) uint8 animated crop -> (H, W, 3) uint8 portrait with the face blended in."""
        x, y, size = self.box.as_int()
        x0, y0, x1, y1 = self._region
        interpolation = cv2.INTER_CUBIC if size > face.shape[0] else cv2.INTER_AREA
        resized = cv2.resize(face, (size, size), interpolation=interpolation)
        patch = resized[y0 - y : y1 - y, x0 - x : x1 - x]
        out = self.portrait.copy()
        out[y0:y1, x0:x1] = cv2.blendLinear(patch, out[y0:y1, x0:x1], self._weights, self._inverse)
        return out
