"""Images and video files as RGB uint8 numpy arrays, with one-line errors.

Frames are ``(H, W, 3)`` uint8 RGB everywhere in monkeycam; OpenCV's BGR stays inside
this module. Output files are written to a temporary name and renamed when complete, so a
failed or interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from .atomic import atomic_path, commit, temporary_sibling

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".gif", ".m4v")


class MediaError(UserError, ValueError):
    """An image or video cannot be read or written; the message is one line for the user."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int  # as reported by the container; may be 0 or approximate


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file -> (H, W, 3) uint8 RGB (alpha dropped, grey expanded)."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"image not found: {path}")
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not an image")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise MediaError(f"{path} is not a readable image (supported: {', '.join(IMAGE_SUFFIXES)})")
    return _to_rgb(image)


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB image atomically; the format follows the suffix."""
    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    ok, encoded = cv2.imencode(suffix, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise MediaError(f"cannot encode an image as {suffix}")
    if not path.parent.is_dir():
        raise MediaError(f"output folder does not exist: {path.parent}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())
    return path


def open_video_capture(path: Path) -> cv2.VideoCapture:
    """An opened OpenCV capture of a video file; MediaError when it is missing or undecodable."""
    if not path.exists():
        raise MediaError(f"video not found: {path}")
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not a video")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise MediaError(f"{path} cannot be decoded as a video")
    return capture


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate and frame count of a video file."""
    capture = open_video_capture(Path(path))
    try:
        return VideoInfo(
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0,
            max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        )
    finally:
        capture.release()


def iter_video(path: str | os.PathLike, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video file as (H, W, 3) uint8 RGB.

    Raises MediaError when the file cannot be opened or yields no frame at all.
    """
    path = Path(path)
    capture = open_video_capture(path)
    count = 0
    try:
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if count == 0:
        raise MediaError(f"{path} contains no decodable frame")


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> np.ndarray:
    """All frames of a video file -> (T, H, W, 3) uint8 RGB."""
    return np.stack(list(iter_video(path, max_frames)))


class VideoWriter:
    """Write RGB frames to a video file; the file appears only when :meth:`close` succeeds.

    ``.mp4`` is encoded with H.264 (libx264 from imageio-ffmpeg, plays everywhere);
    ``.avi`` with MJPG and ``.webm`` with VP8 through OpenCV. Use as a context manager: on an
    exception the partial file is deleted.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 25.0) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        suffix = self.path.suffix.lower()
        if suffix not in (".mp4", ".avi", ".webm"):
            raise MediaError(f"cannot write {self.path.name}: use a .mp4, .avi or .webm file name")
        if not self.path.parent.is_dir():
            raise MediaError(f"output folder does not exist: {self.path.parent}")
        if not os.access(self.path.parent, os.W_OK):
            raise MediaError(f"output folder is not writable: {self.path.parent}")
        self._tmp = temporary_sibling(self.path, suffix)
        self._size: tuple[int, int] | None = None
        self._sink = None
        self.frames_written = 0

    def _open(self, width: int, height: int) -> None:
        suffix = self.path.suffix.lower()
        if suffix == ".mp4":
            import imageio_ffmpeg

            self._sink = imageio_ffmpeg.write_frames(
                str(self._tmp), (width, height), fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                output_params=["-pix_fmt", "yuv420p"], macro_block_size=2, ffmpeg_log_level="error",
            )
            self._sink.send(None)
        else:
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if suffix == ".avi" else "VP80"))
            self._sink = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (width, height))
            if not self._sink.isOpened():
                raise MediaError(f"cannot open a {suffix} encoder for {self.path}")
        self._size = (width, height)

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame; every frame must have the first frame's size."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise MediaError(f"frames must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        height, width = frame.shape[:2]
        if self._sink is None:
            self._open(width - width % 2, height - height % 2)
        frame = frame[: self._size[1], : self._size[0]]
        if (frame.shape[1], frame.shape[0]) != self._size:
            raise MediaError(f"frame size {width}x{height} differs from the first frame's {self._size}")
        if self.path.suffix.lower() == ".mp4":
            self._sink.send(np.ascontiguousarray(frame))
        else:
            self._sink.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file and move it into place. Raises MediaError if no frame was written."""
        self._finish_sink()
        if self.frames_written == 0:
            self._tmp.unlink(missing_ok=True)
            raise MediaError(f"no frame was written; {self.path} was not created")
        return commit(self._tmp, self.path)

    def abort(self) -> None:
        """Stop and delete the partial file."""
        try:
            self._finish_sink()
        finally:
            self._tmp.unlink(missing_ok=True)

    def _finish_sink(self) -> None:
        sink, self._sink = self._sink, None
        if sink is None:
            return
        if self.path.suffix.lower() == ".mp4":
            sink.close()
        else:
            sink.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

