"""From the model's S x S prediction to the output picture: resize, or paste back into the
full portrait (colour-matched, with a feathered mask), optionally laid out in the frame a call
receives. numpy and OpenCV only (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face.crop import CropBox
from ..framing import Layout, keep_region, plan_layout, render

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


RING = 0.18  # the band along the crop's edges where colours are matched, as a fraction of its side
GAIN_RANGE = (0.5, 2.0)  # colour matching never scales a channel's contrast beyond this


@dataclass(frozen=True)
class ColourMatch:
    """Matches the colours of generated faces to the portrait they are pasted into: per
    channel, the mean and standard deviation over a band along the crop's edges (where the
    seam lies) are moved to the portrait's own, by a gain and an offset.

    Attributes:
        ring: (S, S) uint8, 1 on the band of an (S, S) crop.
        mean, std: (3,) float32, the portrait crop's statistics over the band.
    """

    ring: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def prepare(cls, reference: np.ndarray, band: float = RING) -> ColourMatch:
        """``reference``: (S, S, 3) uint8, the portrait's crop the model animates."""
        side = reference.shape[0]
        width = max(1, round(band * side))
        ring = np.ones((side, side), dtype=np.uint8)
        ring[width : side - width, width : side - width] = 0
        mean, std = cv2.meanStdDev(reference, mask=ring)
        return cls(ring, mean.ravel().astype(np.float32), std.ravel().astype(np.float32))

    def gains(self, face: np.ndarray) -> np.ndarray:
        """(3, 4) float32 affine colour map (for cv2.transform) that matches ``face`` (S, S, 3)."""
        mean, std = (values.ravel().astype(np.float32) for values in cv2.meanStdDev(face, mask=self.ring))
        gain = np.clip(self.std / np.maximum(std, 1.0), *GAIN_RANGE)
        matrix = np.zeros((3, 4), dtype=np.float32)
        matrix[[0, 1, 2], [0, 1, 2]] = gain
        matrix[:, 3] = self.mean - gain * mean
        return matrix

    def apply(self, face: np.ndarray) -> np.ndarray:
        """(S, S, 3) uint8 -> (S, S, 3) uint8 with the portrait's colours along the edges."""
        if face.shape[:2] != self.ring.shape:
            return face  # a face of another size than the reference (not expected)
        return cv2.transform(face, self.gains(face))


@dataclass(frozen=True)
class PasteBack:
    """Blends animated faces into a prepared output frame (prepared once per source and size).

    The frame is the portrait laid out in the output size like a webcam picture (see
    :mod:`monkeycam.framing`), or the portrait itself when no size is given. Each face is
    colour-matched to the portrait and blended in with a feathered mask over its crop box.

    Attributes:
        portrait: (H, W, 3) uint8 RGB, the full source image.
        box: the square the model's crop was cut from (portrait pixels; may pass the border).
        layout: where the portrait lies in the output frame.
        background: (frame H, frame W, 3) uint8, the laid-out portrait without a new face.
        face_box: ``box`` in output-frame pixels.
    """

    portrait: np.ndarray
    box: CropBox
    layout: Layout
    background: np.ndarray
    face_box: CropBox
    colour: ColourMatch | None
    _region: tuple[int, int, int, int]  # x0, y0, x1, y1 in the frame: where faces go
    _inner: tuple[slice, slice]  # the part of the region where the face's weight is 1 (copied)
    _bands: tuple[tuple[tuple[slice, slice], np.ndarray, np.ndarray], ...]  # (rows, cols), weight, 1 - weight

    @classmethod
    def prepare(
        cls,
        portrait: np.ndarray,
        box: CropBox,
        reference: np.ndarray | None = None,
        frame_size: tuple[int, int] | None = None,
        feather: float = FEATHER,
    ) -> PasteBack:
        """Lay out ``portrait`` in ``frame_size`` (width, height; None: its own size) and
        prepare the mask. ``reference``: (S, S, 3) uint8, the portrait's crop at ``box`` that the
        model animates, to match colours to (None: no colour matching)."""
        height, width = portrait.shape[:2]
        x, y, size = box.as_int()
        if min(width, x + size) <= max(0, x) or min(height, y + size) <= max(0, y):
            raise ValueError(f"the crop box {box} does not overlap the {width}x{height} portrait")
        if frame_size is None:
            layout = Layout((width, height), (width, height), 1.0, (0, 0), (width, height))
        else:
            layout = plan_layout((width, height), frame_size, keep_region((box.x, box.y, box.size)))
        face_box = CropBox(*layout.to_frame(box.x, box.y, box.size))
        fx, fy, fsize = face_box.as_int()
        px0, py0, px1, py1 = layout.visible_rect()
        x0, y0, x1, y1 = max(px0, fx), max(py0, fy), min(px1, fx + fsize), min(py1, fy + fsize)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"the crop box {box} lies outside the {frame_size} frame")
        # soft edges where the portrait goes on beyond the box; hard at the portrait's border
        # and the frame's (nothing of the portrait there to blend with)
        soft = (x0 > px0, y0 > py0, x1 < px1, y1 < py1)
        ramp = feathered_mask(fsize, fsize, feather * fsize, soft)[y0 - fy : y1 - fy, x0 - fx : x1 - fx]
        colour = ColourMatch.prepare(reference) if reference is not None else None
        background = render(portrait, layout) if frame_size is not None else portrait.copy()
        inner, bands = _split_mask(ramp)
        return cls(portrait, box, layout, background, face_box, colour, (x0, y0, x1, y1), inner, bands)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the output frames."""
        return self.layout.frame_size

    def apply(self, face: np.ndarray) -> np.ndarray:
        """(S, S, 3) uint8 animated crop -> (frame H, frame W, 3) uint8 frame with it blended in."""
        if self.colour is not None:
            face = self.colour.apply(face)
        x0, y0, x1, y1 = self._region
        out = self.background.copy()
        target = out[y0:y1, x0:x1]
        patch = self._resized(face)
        target[self._inner] = patch[self._inner]  # most of the region: the face alone
        for where, weight, inverse in self._bands:  # the feathered edges: blended
            target[where] = cv2.blendLinear(patch[where], target[where], weight, inverse)
        return out

    def _resized(self, face: np.ndarray) -> np.ndarray:
        """The face scaled to its box and cut to the region (only the visible part is computed)."""
        x0, y0, x1, y1 = self._region
        scale = self.face_box.size / face.shape[0]
        if scale < 1.0:  # shrinking: area averaging (rare: a small portrait or frame)
            fx, fy, fsize = self.face_box.as_int()
            return cv2.resize(face, (fsize, fsize), interpolation=cv2.INTER_AREA)[y0 - fy : y1 - fy, x0 - fx : x1 - fx]
        shift = 0.5 * scale - 0.5  # pixel centres, as cv2.resize places them
        matrix = np.array([[scale, 0.0, self.face_box.x - x0 + shift], [0.0, scale, self.face_box.y - y0 + shift]])
        return cv2.warpAffine(face, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _split_mask(weights: np.ndarray) -> tuple[tuple[slice, slice], tuple]:
    """Split a feathered mask into its inner rectangle of weight 1 and the edge bands around it
    (top and bottom full width, left and right between them), each with its weights."""
    height, width = weights.shape
    # the mask is separable (a minimum of a row ramp and a column ramp): rows and columns that
    # reach 1 anywhere bound the weight-1 rectangle
    full_rows = np.flatnonzero(weights.max(axis=1) >= 1.0)
    full_cols = np.flatnonzero(weights.max(axis=0) >= 1.0)
    if full_rows.size == 0 or full_cols.size == 0:  # no weight-1 part: one band, all of it
        everything = (slice(0, height), slice(0, width))
        return (slice(0, 0), slice(0, 0)), ((everything, weights, 1.0 - weights),)
    top, bottom = int(full_rows[0]), int(full_rows[-1]) + 1
    left, right = int(full_cols[0]), int(full_cols[-1]) + 1
    areas = [(slice(0, top), slice(0, width)), (slice(bottom, height), slice(0, width)),
             (slice(top, bottom), slice(0, left)), (slice(top, bottom), slice(right, width))]
    bands = tuple((area, np.ascontiguousarray(weights[area]), np.ascontiguousarray(1.0 - weights[area]))
                  for area in areas if weights[area].size)
    return (slice(top, bottom), slice(left, right)), bands
