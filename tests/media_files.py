"""Synthetic media files for the dataset, prepare and evaluate tests.

Frames show shapes that move, rotate and deform; the files are written in every form a
dataset item can take (video file, folder of frames, frames concatenated in one image) and in
the broken forms the data layer must survive (junk bytes, truncated files, one frame).
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import cv2
import numpy as np

from monkeycam.io import VideoWriter, write_image


def moving_shapes(frames: int = 8, height: int = 64, width: int | None = None, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB: an ellipse that orbits and stretches and a square that slides
    and rotates, on a plain background whose colour depends on ``seed``."""
    width = width or height
    rng = np.random.default_rng(seed)
    background = tuple(int(v) for v in rng.integers(0, 90, 3))
    ellipse_colour = tuple(int(v) for v in rng.integers(140, 256, 3))
    square_colour = tuple(int(v) for v in rng.integers(140, 256, 3))
    out = np.empty((frames, height, width, 3), np.uint8)
    scale = min(height, width)
    for t in range(frames):
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = background
        angle = 0.6 * t + seed
        centre = (round(width / 2 + scale / 5 * math.cos(angle)), round(height / 2 + scale / 6 * math.sin(angle)))
        axes = (round(scale / 6 * (1 + 0.3 * math.sin(2 * angle))), round(scale / 9))
        cv2.ellipse(frame, centre, axes, math.degrees(angle), 0, 360, ellipse_colour, -1, cv2.LINE_AA)
        square = cv2.boxPoints(((width * 0.3 + t * scale / (3 * frames), height * 0.7), (scale / 6, scale / 6), 20.0 * t))
        cv2.fillConvexPoly(frame, square.astype(np.int32), square_colour, cv2.LINE_AA)
        out[t] = frame
    return out


def write_video(path: Path, frames: np.ndarray, fps: float = 25.0) -> Path:
    """Write frames with monkeycam's VideoWriter (.mp4 H.264, .avi MJPG, .webm VP8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def write_gif(path: Path, frames: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)
    return path


def write_frame_folder(folder: Path, frames: np.ndarray, names: list[str] | None = None) -> Path:
    """One PNG per frame (lossless), named 0.png, 1.png, ... unless ``names`` are given."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        write_image(folder / (names[index] if names else f"{index}.png"), frame)
    return folder


def write_strip(path: Path, frames: np.ndarray) -> Path:
    """The reference format: square frames side by side in one lossless image (H x T*H)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_image(path, np.concatenate(list(frames), axis=1))


def write_junk(path: Path, size: int = 4000) -> Path:
    """A file with a video suffix and random bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def write_truncated_mp4(path: Path, frames: np.ndarray, keep: float = 0.8) -> Path:
    """An .mp4 with its index at the start (faststart) cut off at ``keep`` of its length, so
    the container promises every frame but only the first ones decode."""
    import imageio_ffmpeg

    whole = write_video(path.with_name(f"whole_{path.name}"), frames)
    faststart = path.with_name(f"faststart_{path.name}")
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(whole), "-c", "copy",
         "-movflags", "+faststart", str(faststart)],
        check=True,
    )
    data = faststart.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    whole.unlink()
    faststart.unlink()
    return path


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 arrays, in grey levels (0-255)."""
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())
