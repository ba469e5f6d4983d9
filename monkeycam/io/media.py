"""Images and video files as RGB uint8 numpy arrays, with one-line errors.

Frames are ``(H, W, 3)`` uint8 RGB everywhere in monkeycam; OpenCV's BGR stays inside
this module. Output files are written to a temporary name and renamed when complete, so a
failed or interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from .atomic import atomic_path, commit, disk_full_message, temporary_sibling, write_failed

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".gif", ".m4v", ".mpg", ".mpeg")
_MUXERS = {".mp4": "mp4", ".avi": "avi", ".webm": "webm"}
# Images larger than this are refused before decoding (a small compressed file can hold a
# huge picture): 100 megapixels (e.g. 12000 x 8000) and 512 MB on disk.
MAX_IMAGE_PIXELS = 100_000_000
MAX_IMAGE_BYTES = 512_000_000


class MediaError(UserError, ValueError):
    """An image or video cannot be read or written; the message is one line for the user."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int  # as reported by the container; may be 0 or approximate


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file -> (H, W, 3) uint8 RGB (alpha dropped, grey expanded).

    The size is read from the header first: files over MAX_IMAGE_BYTES or images over
    MAX_IMAGE_PIXELS are refused before any pixel is decoded. The EXIF orientation (phone
    photos) is applied, and images with more than 8 bits per channel are scaled by their bit
    depth (a 16-bit value v becomes v / 257), never stretched to their own min..max.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(f"image not found: {path}")
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not an image")
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise MediaError(f"{path} is {path.stat().st_size / 1e6:.0f} MB; images over {MAX_IMAGE_BYTES // 10**6} MB are refused")
    width, height, orientation = _image_header(path)
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_many_pixels(path, f"{width}x{height} pixels")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.size == 0:
        raise MediaError(f"{path} is not a readable image (supported: {', '.join(IMAGE_SUFFIXES)})")
    return apply_orientation(_to_rgb(image), orientation)


def _image_header(path: Path) -> tuple[int, int, int]:
    """(width, height, EXIF orientation 1..8) from the file's header, without decoding it."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                orientation = image.getexif().get(0x0112, 1)
    except Image.DecompressionBombError as error:  # Pillow's own, higher limit: its message has the count
        found = re.search(r"\((\d+) pixels\)", str(error))
        raise _too_many_pixels(path, f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too large") from None
    except Exception:  # noqa: BLE001  (Pillow raises many types for foreign or broken files)
        raise MediaError(f"{path} is not a readable image (supported: {', '.join(IMAGE_SUFFIXES)})") from None
    return width, height, orientation if orientation in range(1, 9) else 1


def _too_many_pixels(path: Path, size: str) -> MediaError:
    return MediaError(f"{path} is {size}; images over {MAX_IMAGE_PIXELS // 10**6} megapixels are refused "
                      f"(scale it down first)")


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an (H, W, C) image stored with EXIF ``orientation`` (1..8) upright."""
    turns = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
             5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
             8: lambda a: np.rot90(a, 1)}
    return np.ascontiguousarray(turns.get(orientation, turns[1])(image))


def _to_rgb(image: np.ndarray) -> np.ndarray:
    image = _to_8_bit(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _to_8_bit(image: np.ndarray) -> np.ndarray:
    """Scale by the bit depth: integers by their type's range, floats from [0, 1]."""
    if image.dtype == np.uint8:
        return image
    if np.issubdtype(image.dtype, np.floating):
        scaled = np.nan_to_num(image.astype(np.float32), nan=0.0).clip(0.0, 1.0) * 255.0
    else:
        info = np.iinfo(image.dtype)
        scaled = (image.astype(np.float64) - min(info.min, 0)).clip(0, None) * (255.0 / (info.max - min(info.min, 0)))
    return np.round(scaled).astype(np.uint8)


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB image atomically; the format follows the suffix."""
    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise MediaError(f"cannot write {path.name}: use one of {', '.join(IMAGE_SUFFIXES)}")
    ok, encoded = cv2.imencode(suffix, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise MediaError(f"cannot encode an image as {suffix}")
    if not path.parent.is_dir():
        raise MediaError(f"output folder does not exist: {path.parent}")
    data = encoded.tobytes()

    def complete(tmp: Path) -> None:
        if tmp.stat().st_size != len(data):
            raise MediaError(disk_full_message(path, f"only {tmp.stat().st_size} of {len(data)} bytes were written"))

    with atomic_path(path, verify=complete) as tmp:
        tmp.write_bytes(data)
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


# Encoder settings per output suffix (ffmpeg from imageio-ffmpeg): H.264 plays everywhere,
# MJPG and VP8 for .avi and .webm.
_ENCODERS = {
    ".mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "20"],
    ".avi": ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "3"],
    ".webm": ["-c:v", "libvpx", "-pix_fmt", "yuv420p", "-b:v", "2M", "-deadline", "realtime", "-cpu-used", "8"],
}


class VideoWriter:
    """Write RGB frames to a video file; the file appears only when :meth:`close` succeeds.

    Frames go to an ffmpeg process (imageio-ffmpeg's binary) writing a hidden temporary file;
    ``.mp4`` is H.264, ``.avi`` MJPG and ``.webm`` VP8. :meth:`close` checks that ffmpeg
    finished cleanly and that the file holds every frame before renaming it into place, so a
    full disk or a crashed encoder raises one MediaError line ("disk full: ...") and leaves any
    earlier file at the path untouched. Use as a context manager: on an exception the partial
    file is deleted.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 25.0) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and math.isfinite(fps) and 0 < fps <= 1000 else 25.0
        suffix = self.path.suffix.lower()
        if suffix not in _ENCODERS:
            raise MediaError(f"cannot write {self.path.name}: use a .mp4, .avi or .webm file name")
        if self.path.is_dir():
            raise MediaError(f"{self.path} is a folder; give a video file name")
        if not self.path.parent.is_dir():
            raise MediaError(f"output folder does not exist: {self.path.parent}")
        if not os.access(self.path.parent, os.W_OK):
            raise MediaError(f"output folder is not writable: {self.path.parent}")
        try:
            self._tmp = temporary_sibling(self.path, suffix)
        except OSError as error:
            raise write_failed(self.path, error) from None
        self._size: tuple[int, int] | None = None
        self._process: subprocess.Popen | None = None
        self._errors: collections.deque[str] = collections.deque(maxlen=20)
        self._reader: threading.Thread | None = None
        self._code: int | None = None
        self.frames_written = 0

    def _open(self, width: int, height: int) -> None:
        import imageio_ffmpeg

        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{self.fps:.6g}", "-i", "-",
            "-an", *_ENCODERS[self.path.suffix.lower()], "-f", _MUXERS[self.path.suffix.lower()], str(self._tmp),
        ]
        # Its own session: Ctrl-C in a terminal interrupts monkeycam, which then finishes the
        # file through close(); the encoder must not stop half-way on the same signal.
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, start_new_session=True)
        self._reader = threading.Thread(target=self._read_errors, args=(self._process.stderr,), daemon=True)
        self._reader.start()
        self._size = (width, height)

    def _read_errors(self, stream) -> None:
        for line in iter(stream.readline, b""):
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._errors.append(text)
        stream.close()

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame; every frame must have the first frame's size."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise MediaError(f"frames must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        height, width = frame.shape[:2]
        if self._process is None:
            if width < 2 or height < 2:
                raise MediaError(f"frames of {width}x{height} are too small for a video")
            self._open(width - width % 2, height - height % 2)
        frame = frame[: self._size[1], : self._size[0]]
        if (frame.shape[1], frame.shape[0]) != self._size:
            raise MediaError(f"frame size {width}x{height} differs from the first frame's {self._size}")
        try:
            self._process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, OSError):
            raise self._failure("the encoder stopped") from None
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file and move it into place. Raises MediaError if no frame was written
        or the file is incomplete; the partial file is then deleted."""
        try:
            if self.frames_written == 0:
                raise MediaError(f"no frame was written; {self.path} was not created")
            if self._finish_encoder() != 0:
                raise self._failure("the encoder failed")
            return commit(self._tmp, self.path, self._verify)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Stop the encoder and delete the partial file."""
        try:
            process, self._process = self._process, None
            if process is not None:
                process.kill()
                process.wait()
        finally:
            self._tmp.unlink(missing_ok=True)

    def _finish_encoder(self) -> int:
        process = self._process
        with contextlib.suppress(OSError):
            process.stdin.close()
        code = self._code = process.wait()
        if self._reader is not None:
            self._reader.join(5.0)
        self._process = None
        return code

    def _failure(self, what: str) -> MediaError:
        """A one-line MediaError for a failed encode: "disk full" when ffmpeg says so."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._code = self._process.wait(5.0)
        if self._process is not None and self._code is None:
            self._code = self._process.poll()  # it had already ended (e.g. killed by SIGXFSZ)
        if self._reader is not None:
            self._reader.join(5.0)
        said = " ".join(self._errors)
        if self._code == -getattr(signal, "SIGXFSZ", -1000):
            said += " File too large"
        for reason in ("No space left on device", "File too large", "Disk quota exceeded"):
            if reason in said:
                return MediaError(disk_full_message(self.path, reason))
        detail = next((line for line in reversed(self._errors) if line), f"exit status {self._code}")
        return MediaError(f"could not write {self.path}: {what} ({detail[:200]}); any previous file there is unchanged")

    def _verify(self, tmp: Path) -> None:
        """The finished file must decode to as many frames as were written."""
        capture = cv2.VideoCapture(str(tmp))
        count = 0
        try:
            while capture.isOpened() and capture.grab():
                count += 1
        finally:
            capture.release()
        if count < self.frames_written:
            raise MediaError(disk_full_message(
                self.path, f"the finished file holds {count} of {self.frames_written} frames"))

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
