"""Fitting a picture into the frame a video call receives (16:9 or 4:3) the way a webcam
picture fills it: no black bars, the face whole and near the centre.

The picture is scaled to cover the frame when the face region still fits inside it (the usual
case: some of the top and bottom of a portrait is cut, as a webcam would). When covering would
cut the face (a face crop, or a tall portrait in a wide frame), the picture is scaled just so
the face region fits, and the rest of the frame shows the picture's own edges drawn outwards
and blurred. numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KEEP_FRACTION = 0.85  # of a face crop box that must stay in the frame: the head (half the box) and a margin
FILL_SHRINK = 8  # the blurred fill is made at 1/8 of the frame size (cheap, and blurred anyway)
FILL_SIGMA = 2.0  # its blur in those small pixels (16 frame pixels)


@dataclass(frozen=True)
class Layout:
    """Where a picture lies in a frame: frame pixel = picture pixel * ``scale`` + offset.

    Attributes:
        frame_size: (width, height) of the frame.
        picture_size: (width, height) of the picture.
        scale: frame pixels per picture pixel.
        offset: (x, y) of the picture's top-left corner in the frame (may be negative).
        scaled_size: (width, height) of the scaled picture (rounded).
    """

    frame_size: tuple[int, int]
    picture_size: tuple[int, int]
    scale: float
    offset: tuple[int, int]
    scaled_size: tuple[int, int]

    @property
    def covers(self) -> bool:
        """Whether the picture covers the whole frame (no fill needed)."""
        (ox, oy), (sw, sh), (fw, fh) = self.offset, self.scaled_size, self.frame_size
        return ox <= 0 and oy <= 0 and ox + sw >= fw and oy + sh >= fh

    def visible_rect(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the part of the frame the picture's own pixels fill."""
        (ox, oy), (sw, sh), (fw, fh) = self.offset, self.scaled_size, self.frame_size
        return max(0, ox), max(0, oy), min(fw, ox + sw), min(fh, oy + sh)

    def to_frame(self, x: float, y: float, size: float) -> tuple[float, float, float]:
        """A square (x, y, side) in picture pixels -> the same square in frame pixels."""
        return x * self.scale + self.offset[0], y * self.scale + self.offset[1], size * self.scale


def keep_region(box: tuple[float, float, float], fraction: float = KEEP_FRACTION) -> tuple[float, float, float, float]:
    """The central ``fraction`` of a face crop box (x, y, side) as (x, y, width, height)."""
    x, y, size = box
    margin = size * (1.0 - fraction) / 2.0
    return x + margin, y + margin, size * fraction, size * fraction


def plan_layout(
    picture_size: tuple[int, int], frame_size: tuple[int, int], keep: tuple[float, float, float, float] | None = None
) -> Layout:
    """Scale and place a picture in a frame like a webcam picture.

    Args:
        picture_size: (width, height) of the picture.
        frame_size: (width, height) of the frame.
        keep: (x, y, width, height) in picture pixels that must stay whole in the frame and is
            centred as far as the picture allows (the face); None: the whole picture.

    Returns:
        The largest scale up to "cover the frame" at which ``keep`` still fits (never smaller
        than "the whole picture fits"), placed so ``keep`` is centred, shifted back where that
        would leave an empty strip the picture could have filled.
    """
    width, height = picture_size
    frame_width, frame_height = frame_size
    kx, ky, kw, kh = keep if keep is not None else (0.0, 0.0, float(width), float(height))
    kx, ky = max(0.0, kx), max(0.0, ky)
    kw, kh = max(1.0, min(kw, width - kx)), max(1.0, min(kh, height - ky))
    cover = max(frame_width / width, frame_height / height)
    contain = min(frame_width / width, frame_height / height)
    keep_fits = min(frame_width / kw, frame_height / kh)
    scale = max(contain, min(cover, keep_fits))
    view_x = _place(kx + kw / 2 - frame_width / scale / 2, frame_width / scale, width)
    view_y = _place(ky + kh / 2 - frame_height / scale / 2, frame_height / scale, height)
    scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Layout(frame_size, (width, height), scale, (round(-view_x * scale), round(-view_y * scale)), scaled)


def _place(start: float, view: float, extent: float) -> float:
    """Where a view of length ``view`` starts on a picture of length ``extent``: at ``start``
    but inside the picture; centred on the picture when the view is the longer."""
    if view >= extent:
        return (extent - view) / 2.0
    return min(max(start, 0.0), extent - view)


def render(picture: np.ndarray, layout: Layout) -> np.ndarray:
    """(H, W, 3) uint8 picture -> (frame height, frame width, 3) uint8 frame laid out by
    ``layout``; where the picture does not reach, its edges drawn outwards and blurred."""
    frame_width, frame_height = layout.frame_size
    frame = _blurred_fill(picture, layout) if not layout.covers else np.empty((frame_height, frame_width, 3), np.uint8)
    (ox, oy), (sw, sh) = layout.offset, layout.scaled_size
    x0, y0, x1, y1 = layout.visible_rect()
    if x1 <= x0 or y1 <= y0:
        return frame
    # resize only the part of the picture that shows (a portrait may be far larger than the frame)
    scale_x, scale_y = sw / picture.shape[1], sh / picture.shape[0]
    matrix = np.array([[scale_x, 0.0, ox - x0], [0.0, scale_y, oy - y0]], dtype=np.float64)
    if scale_x < 1.0:  # shrinking: area averaging first, so fine detail does not alias
        picture = cv2.resize(picture, (sw, sh), interpolation=cv2.INTER_AREA)
        matrix[0, 0] = matrix[1, 1] = 1.0
    frame[y0:y1, x0:x1] = cv2.warpAffine(picture, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REPLICATE)
    return frame


def _blurred_fill(picture: np.ndarray, layout: Layout) -> np.ndarray:
    """The whole frame as the picture with its edge pixels drawn outwards, blurred (made small)."""
    frame_width, frame_height = layout.frame_size
    small_size = (max(2, frame_width // FILL_SHRINK), max(2, frame_height // FILL_SHRINK))
    shrink = small_size[0] / frame_width
    small_scale = layout.scale * shrink
    source = picture
    if small_scale < 0.5:  # bring the picture near the small size first (area averaging)
        target = (max(2, round(picture.shape[1] * small_scale * 2)), max(2, round(picture.shape[0] * small_scale * 2)))
        source = cv2.resize(picture, target, interpolation=cv2.INTER_AREA)
    ratio = small_scale * picture.shape[1] / source.shape[1]
    matrix = np.array([[ratio, 0.0, layout.offset[0] * shrink], [0.0, ratio, layout.offset[1] * shrink]])
    small = cv2.warpAffine(source, matrix, small_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    small = cv2.GaussianBlur(small, (0, 0), FILL_SIGMA, borderType=cv2.BORDER_REFLECT_101)
    return cv2.resize(small, (frame_width, frame_height), interpolation=cv2.INTER_LINEAR)


def fill_frame(
    picture: np.ndarray, width: int, height: int, keep: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    """(H, W, 3) uint8 -> (height, width, 3) uint8, filled like a webcam picture (no black
    bars; ``keep`` as in :func:`plan_layout`, by default the picture's central part)."""
    if picture.shape[1] == width and picture.shape[0] == height:
        return picture
    if keep is None:
        side = min(picture.shape[:2])
        keep = keep_region(((picture.shape[1] - side) / 2, (picture.shape[0] - side) / 2, side))
    return render(picture, plan_layout((picture.shape[1], picture.shape[0]), (width, height), keep))
