"""Paint monkeycam's demo portraits from OpenCV drawing primitives (no photos, no copied media).

Run ``python assets/make_portraits.py`` to rewrite ``assets/portrait_*.png``. Each portrait is
layered soft shapes: a background gradient, shoulders, neck, hair, a shaded face oval, ears,
eyes (white, iris, pupil, highlight, lids), brows, a nose drawn with shadows, lips, and blurred
shading masks for cheeks and jaw. The result is deterministic (no randomness but a fixed seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SIZE = 512
HERE = Path(__file__).resolve().parent

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class Look:
    """Colours and proportions of one painted person (colours are RGB)."""

    name: str
    background_top: Colour
    background_bottom: Colour
    skin: Colour
    hair: Colour
    iris: Colour
    lips: Colour
    shirt: Colour
    face_width: int
    face_height: int
    long_hair: bool
    beard: bool


def vertical_gradient(top: Colour, bottom: Colour) -> np.ndarray:
    """A SIZE x SIZE RGB float image blending ``top`` into ``bottom``."""
    t = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)[:, None, None]
    image = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return np.repeat(image, SIZE, axis=1)


def soft_mask(draw, blur: int) -> np.ndarray:
    """A float mask in [0, 1] from a drawing callback, softened with a Gaussian blur."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    draw(mask)
    if blur:
        mask = cv2.GaussianBlur(mask, (0, 0), blur)
    return mask.astype(np.float32)[..., None] / 255.0


def paint(canvas: np.ndarray, mask: np.ndarray, colour: Colour, opacity: float = 1.0) -> None:
    """Blend ``colour`` into ``canvas`` where ``mask`` is set."""
    canvas[:] = canvas * (1 - mask * opacity) + np.array(colour, np.float32) * mask * opacity


def shade(colour: Colour, factor: float) -> Colour:
    """``colour`` darkened (factor < 1) or lightened (factor > 1)."""
    return tuple(int(np.clip(c * factor, 0, 255)) for c in colour)


def ellipse(centre, axes, angle=0, start=0, end=360, thickness=-1):
    """A drawing callback for a (filled) ellipse in 255 on a mask."""
    return lambda m: cv2.ellipse(m, centre, axes, angle, start, end, 255, thickness, cv2.LINE_AA)


def polyline(points, thickness):
    """A drawing callback for an open smooth stroke."""
    pts = np.array(points, np.int32).reshape(-1, 1, 2)
    return lambda m: cv2.polylines(m, [pts], False, 255, thickness, cv2.LINE_AA)


def paint_body(canvas: np.ndarray, look: Look, cx: int) -> None:
    paint(canvas, soft_mask(ellipse((cx, 560), (230, 150)), 3), look.shirt)
    paint(canvas, soft_mask(ellipse((cx, 560), (230, 150), thickness=10), 12), shade(look.shirt, 0.6), 0.5)
    paint(canvas, soft_mask(lambda m: cv2.rectangle(m, (cx - 48, 330), (cx + 48, 430), 255, -1), 4), shade(look.skin, 0.85))
    paint(canvas, soft_mask(ellipse((cx, 420), (60, 30)), 3), shade(look.skin, 0.85))
    paint(canvas, soft_mask(ellipse((cx, 345), (55, 25)), 10), shade(look.skin, 0.55), 0.6)


def paint_hair_back(canvas: np.ndarray, look: Look, cx: int, cy: int) -> None:
    if look.long_hair:
        paint(canvas, soft_mask(ellipse((cx, cy + 40), (look.face_width + 45, look.face_height + 70)), 4), look.hair)
        paint(canvas, soft_mask(lambda m: cv2.rectangle(m, (cx - look.face_width - 45, cy + 40),
                                                         (cx + look.face_width + 45, cy + 200), 255, -1), 6), look.hair)
    else:
        paint(canvas, soft_mask(ellipse((cx, cy - 25), (look.face_width + 14, look.face_height + 10)), 3), look.hair)


def paint_face(canvas: np.ndarray, look: Look, cx: int, cy: int) -> None:
    w, h = look.face_width, look.face_height
    for side in (-1, 1):  # ears
        paint(canvas, soft_mask(ellipse((cx + side * (w - 2), cy + 5), (16, 30)), 2), shade(look.skin, 0.9))
        paint(canvas, soft_mask(ellipse((cx + side * (w + 2), cy + 5), (7, 17)), 3), shade(look.skin, 0.7), 0.6)
    paint(canvas, soft_mask(ellipse((cx, cy), (w, h)), 2), look.skin)
    # shading: darker rim and jaw, lighter forehead and cheeks
    paint(canvas, soft_mask(ellipse((cx, cy), (w, h), thickness=14), 14), shade(look.skin, 0.7), 0.6)
    paint(canvas, soft_mask(ellipse((cx, cy - 60), (w - 35, 40)), 25), shade(look.skin, 1.12), 0.6)
    for side in (-1, 1):
        paint(canvas, soft_mask(ellipse((cx + side * 52, cy + 35), (26, 18)), 14), shade(look.lips, 1.1), 0.35)


def paint_hair_front(canvas: np.ndarray, look: Look, cx: int, cy: int) -> None:
    w, h = look.face_width, look.face_height
    top = cy - h
    cap = ellipse((cx, top + 62), (w + 8, 78), start=180, end=360)
    paint(canvas, soft_mask(cap, 2), look.hair)
    fringe = ellipse((cx + 18, top + 58), (w - 6, 26), angle=-8, start=0, end=180)
    paint(canvas, soft_mask(fringe, 2), look.hair)
    for offset in range(-w + 26, w - 16, 18):  # strands catching the light
        stroke = [(cx + offset - 10, top - 5), (cx + offset + 4, top + 30), (cx + offset + 14, top + 60)]
        paint(canvas, soft_mask(polyline(stroke, 3), 2), shade(look.hair, 1.6), 0.45)


def paint_eye(canvas: np.ndarray, look: Look, centre: tuple[int, int]) -> None:
    x, y = centre
    paint(canvas, soft_mask(ellipse((x, y + 2), (32, 16)), 6), shade(look.skin, 0.7), 0.5)  # socket
    paint(canvas, soft_mask(ellipse((x, y), (24, 11)), 1), (245, 242, 236))
    paint(canvas, soft_mask(lambda m: cv2.circle(m, (x, y), 10, 255, -1, cv2.LINE_AA), 1), look.iris)
    paint(canvas, soft_mask(lambda m: cv2.circle(m, (x, y), 5, 255, -1, cv2.LINE_AA), 1), (15, 12, 10))
    paint(canvas, soft_mask(lambda m: cv2.circle(m, (x + 3, y - 3), 2, 255, -1, cv2.LINE_AA), 0), (255, 255, 255))
    paint(canvas, soft_mask(ellipse((x, y + 1), (25, 12), start=190, end=350, thickness=3), 1), (30, 22, 20))
    paint(canvas, soft_mask(ellipse((x, y - 2), (26, 15), start=200, end=340, thickness=2), 1), shade(look.skin, 0.6), 0.6)


def paint_features(canvas: np.ndarray, look: Look, cx: int, cy: int) -> None:
    eye_y = cy - 12
    for side in (-1, 1):
        paint_eye(canvas, look, (cx + side * 44, eye_y))
        brow = [(cx + side * 18, eye_y - 30), (cx + side * 42, eye_y - 38), (cx + side * 68, eye_y - 30)]
        paint(canvas, soft_mask(polyline(brow, 8), 1), shade(look.hair, 0.9))
    # nose: a bridge shadow, a lit tip, nostrils
    paint(canvas, soft_mask(polyline([(cx - 9, eye_y + 5), (cx - 12, cy + 35)], 5), 5), shade(look.skin, 0.65), 0.6)
    paint(canvas, soft_mask(ellipse((cx, cy + 40), (22, 13)), 6), shade(look.skin, 0.7), 0.6)
    paint(canvas, soft_mask(ellipse((cx + 2, cy + 34), (9, 7)), 4), shade(look.skin, 1.2), 0.6)
    for side in (-1, 1):
        paint(canvas, soft_mask(ellipse((cx + side * 10, cy + 45), (6, 3)), 1), shade(look.skin, 0.35), 0.8)
    mouth_y = cy + 82
    if look.beard:
        paint(canvas, soft_mask(ellipse((cx, cy + 75), (look.face_width - 8, 80), start=0, end=180), 6), look.hair, 0.85)
        paint(canvas, soft_mask(ellipse((cx, mouth_y - 12), (40, 10)), 3), look.hair, 0.9)
    paint(canvas, soft_mask(ellipse((cx, mouth_y), (34, 11)), 2), look.lips)
    paint(canvas, soft_mask(ellipse((cx, mouth_y - 4), (34, 5)), 1), shade(look.lips, 0.75))
    paint(canvas, soft_mask(polyline([(cx - 34, mouth_y), (cx, mouth_y + 2), (cx + 34, mouth_y)], 2), 1), shade(look.lips, 0.4))
    paint(canvas, soft_mask(ellipse((cx, mouth_y + 6), (16, 4)), 3), shade(look.lips, 1.3), 0.5)


def paint_portrait(look: Look) -> np.ndarray:
    """The RGB uint8 portrait described by ``look``."""
    cx, cy = SIZE // 2, 230
    canvas = vertical_gradient(look.background_top, look.background_bottom)
    paint_hair_back(canvas, look, cx, cy)
    paint_body(canvas, look, cx)
    paint_face(canvas, look, cx, cy)
    paint_hair_front(canvas, look, cx, cy)
    paint_features(canvas, look, cx, cy)
    noise = np.random.default_rng(7).normal(0.0, 2.0, canvas.shape).astype(np.float32)  # canvas grain
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


LOOKS = (
    Look("ada", (70, 110, 160), (25, 40, 70), (232, 190, 160), (70, 40, 25), (60, 110, 160),
         (190, 80, 80), (150, 40, 60), 102, 132, long_hair=True, beard=False),
    Look("bram", (200, 175, 120), (120, 95, 60), (150, 100, 70), (30, 25, 22), (70, 45, 25),
         (130, 65, 60), (40, 90, 80), 108, 136, long_hair=False, beard=True),
)


def main() -> None:
    for look in LOOKS:
        path = HERE / f"portrait_{look.name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(paint_portrait(look), cv2.COLOR_RGB2BGR))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
