"""What a call receives: portraits laid out in 16:9 and 4:3 frames like a webcam picture (no black
bars, the face whole and near the centre), and paste-back without a visible seam (feathered
mask, colours matched to the portrait), on the shipped portraits in assets/."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from monkeycam.engine.compose import FEATHER, PasteBack
from monkeycam.face.crop import CropBox, crop_square
from monkeycam.framing import keep_region, plan_layout, render
from monkeycam.io import read_image
from monkeycam.live.api import FRAME_SIZES

ASSETS = Path(__file__).resolve().parents[1] / "assets"
PORTRAITS = sorted(ASSETS.glob("portrait_*.png"))
FACE_BOX = CropBox(106, 60, 300)  # around the face of the 512x512 shipped portraits


def dark_border(frame: np.ndarray, level: int = 16) -> bool:
    """Whether any outermost row or column is entirely dark (a black bar's edge)."""
    edges = (frame[0], frame[-1], frame[:, 0], frame[:, -1])
    return any(int(edge.max()) <= level for edge in edges)


def test_the_portraits_are_there():
    assert len(PORTRAITS) >= 2


@pytest.mark.parametrize("frame_size", FRAME_SIZES)
@pytest.mark.parametrize("path", PORTRAITS, ids=lambda path: path.stem)
def test_a_portrait_fills_the_frame_with_the_face_whole_and_centred(path, frame_size):
    image = read_image(path)
    keep = keep_region((FACE_BOX.x, FACE_BOX.y, FACE_BOX.size))
    layout = plan_layout((image.shape[1], image.shape[0]), frame_size, keep)
    frame = render(image, layout)
    assert frame.shape == (frame_size[1], frame_size[0], 3)
    assert not dark_border(frame)
    x, y, side = layout.to_frame(keep[0], keep[1], keep[2])
    assert x >= 0 and y >= 0 and x + side <= frame_size[0] and y + side <= frame_size[1]  # the face is whole
    assert abs(x + side / 2 - frame_size[0] / 2) < 0.1 * frame_size[0]  # and near the middle
    # the frame shows the portrait (not stretched): the face box, mapped back, matches it
    fx, fy, fside = (round(v) for v in layout.to_frame(FACE_BOX.x, FACE_BOX.y, FACE_BOX.size))
    fx0, fy0 = max(fx, 0), max(fy, 0)
    shown = cv2.resize(frame[fy0 : fy + fside, fx0 : fx + fside], (64, 64), interpolation=cv2.INTER_AREA)
    scale = fside / FACE_BOX.size
    expected_box = CropBox(FACE_BOX.x + (fx0 - fx) / scale, FACE_BOX.y + (fy0 - fy) / scale, 0)
    original = image[round(expected_box.y) : round(FACE_BOX.y + FACE_BOX.size),
                     round(expected_box.x) : round(FACE_BOX.x + FACE_BOX.size)]
    original = cv2.resize(original, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(shown.astype(int) - original).mean() < 6


def test_a_tall_portrait_in_a_wide_frame_gets_blurred_surroundings_not_bars():
    image = read_image(PORTRAITS[0])
    tall = np.ascontiguousarray(np.concatenate([image, image[::-1]], axis=0)[:, 100:400])  # 300 x 1024
    box = (0.0, 150.0, 300.0)  # a face crop box that covers the whole width
    layout = plan_layout((tall.shape[1], tall.shape[0]), (1280, 720), keep_region(box))
    assert not layout.covers  # covering 16:9 with a 300-wide picture would cut the face
    frame = render(tall, layout)
    x0, y0, x1, y1 = layout.visible_rect()
    assert x0 > 0 and x1 < 1280 and (y0, y1) == (0, 720)
    assert not dark_border(frame)
    left = frame[:, : x0 - 2].astype(float)
    assert np.abs(np.diff(left, axis=1)).mean() < np.abs(np.diff(frame[:, x0:x1].astype(float), axis=1)).mean()


def test_random_face_boxes_always_stay_whole_in_the_frame():
    rng = np.random.default_rng(3)
    for _ in range(200):
        width, height = (int(v) for v in rng.integers(64, 2000, 2))
        side = float(rng.uniform(16, min(width, height)))
        box = (float(rng.uniform(0, width - side)), float(rng.uniform(0, height - side)), side)
        frame_size = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
        keep = keep_region(box)
        layout = plan_layout((width, height), frame_size, keep)
        x, y, kside = layout.to_frame(*keep[:3])
        assert x >= -1 and y >= -1 and x + kside <= frame_size[0] + 1 and y + kside <= frame_size[1] + 1
        # never a strip the picture could have filled: the visible part is as wide as possible
        x0, y0, x1, y1 = layout.visible_rect()
        assert x1 - x0 >= min(frame_size[0], layout.scaled_size[0]) - 1
        assert y1 - y0 >= min(frame_size[1], layout.scaled_size[1]) - 1


# --------------------------------------------------------------------------- paste-back seam


def generated_like(crop: np.ndarray) -> np.ndarray:
    """The portrait's crop as a weak model returns it: soft, with shifted colours and contrast."""
    soft = cv2.GaussianBlur(crop, (0, 0), 1.5).astype(np.float32)
    shifted = (soft - 128.0) * np.float32([0.85, 1.0, 1.1]) + 128.0 + np.float32([28.0, -6.0, -22.0])
    return np.clip(shifted, 0, 255).astype(np.uint8)


def seam_figures(paste: PasteBack, face: np.ndarray) -> tuple[float, np.ndarray]:
    """(the most the paste adds to the portrait's own column-to-column gradient across the
    box's left edge and its feathered band, the colour difference at the inner end of that band)
    for a box whose left edge lies inside the portrait."""
    out = paste.apply(face).astype(np.float32)
    own = paste.background.astype(np.float32)  # the portrait as laid out, without a new face
    fx, fy, fside = paste.face_box.as_int()
    rows = slice(max(fy, 0) + 10, min(fy + fside, out.shape[0]) - 10)
    band = round(FEATHER * fside)

    def steps(image: np.ndarray) -> np.ndarray:  # mean |difference| between neighbouring columns
        return np.abs(np.diff(image[rows, fx - 4 : fx + band + 4], axis=1)).sum(axis=2).mean(axis=0)

    strip = (rows, slice(fx + band, fx + band + 12))  # where the face's weight has reached 1
    colour = out[strip].mean(axis=(0, 1)) - own[strip].mean(axis=(0, 1))
    return float((steps(out) - steps(own)).max()), colour


@pytest.mark.parametrize("frame_size", [None, (1280, 720)])
def test_paste_back_shows_no_seam_and_matches_the_portrait_colours(frame_size):
    image = read_image(PORTRAITS[1])
    reference = crop_square(image, FACE_BOX, 256)
    face = generated_like(reference)
    paste = PasteBack.prepare(image, FACE_BOX, reference, frame_size)
    assert paste.frame_size == (frame_size or (image.shape[1], image.shape[0]))
    added, colour = seam_figures(paste, face)
    # across the crop's edge the picture is no sharper than the portrait is there on its own
    assert added < 1.0, added
    assert np.abs(colour).max() < 6, colour
    # the same face pasted without colour matching and feathering does show a seam
    hard = PasteBack.prepare(image, FACE_BOX, None, frame_size, feather=0.0)
    added_hard, colour_hard = seam_figures(hard, face)
    assert added_hard > 10 and np.abs(colour_hard).max() > 15, (added_hard, colour_hard)
    # colour matching alone (still feathered) is what brings the colours together
    unmatched = PasteBack.prepare(image, FACE_BOX, None, frame_size)
    assert np.abs(seam_figures(unmatched, face)[1]).max() > 15


def test_paste_back_respects_the_frame_size_and_changes_only_the_face_region():
    image = read_image(PORTRAITS[0])
    reference = crop_square(image, FACE_BOX, 128)
    paste = PasteBack.prepare(image, FACE_BOX, reference, (640, 480))
    out = paste.apply(generated_like(reference))
    assert out.shape == (480, 640, 3) and not dark_border(out)
    fx, fy, fside = paste.face_box.as_int()
    outside = np.ones(out.shape[:2], bool)
    outside[max(fy, 0) : fy + fside, max(fx, 0) : fx + fside] = False
    assert np.array_equal(out[outside], paste.background[outside])
    assert not np.array_equal(out[~outside], paste.background[~outside])
