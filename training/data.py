"""Datasets of videos: finding them, decoding them once, and telling the user what was wrong.

A dataset is a folder. Either it has ``train/`` and ``test/`` sub-folders, or it is flat and
is split into train and test by a fixed, seeded rule (by video, see :func:`find_videos`).
Each item in a folder is one video, in one of three forms:

- a video file (``.mp4``, ``.mov``, ``.avi``, ``.webm``, ``.gif``, and ``.mkv``/``.m4v``);
- a folder of frame images, in name order (natural order: ``2.png`` before ``10.png``);
- one image with square frames concatenated horizontally, ``H x T*H`` (the reference format).

Frames are centre-cropped to a square when they are not square, resized to
``frame_size x frame_size`` and cached as ``.npy`` files (one per video, keyed by the item's
path, size, modification time, ``frame_size`` and ``max_frames``), so a second load, or the
next epoch of a new run, never decodes a video again.

Bad items never stop a run silently and never crash it: an unreadable or truncated video, a
video with fewer than 2 frames, or frames of the wrong size are skipped, and one warning lists
every skipped item with its reason. A folder with no usable video raises :class:`DatasetError`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from monkeycam.errors import UserError
from monkeycam.io import MediaError, iter_video, probe_video, read_image
from monkeycam.io.atomic import atomic_path
from monkeycam.io.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES

log = logging.getLogger(__name__)

SPLITS = ("train", "test", "all")
CACHE_VERSION = 1
MIN_FRAMES = 2
# "clip_shot2" and "clip_shot3" (written by `monkeycam prepare` for one clip cut into shots)
# are one video for the flat split, so that shots of one clip never land in both splits.
_SHOT_SUFFIX = re.compile(r"_shot\d+$")


class DatasetError(UserError, ValueError):
    """The dataset cannot be used at all; the message is one line for the user."""


class ClipError(UserError, ValueError):
    """One item cannot be used (it is skipped); the message says why, without the path."""


@dataclass
class VideoClip:
    """One decoded video.

    Attributes:
        name: file or folder name of the item.
        frames: (T, H, W, 3) uint8 RGB, T >= 2, H = W = the requested frame size.
        source: the item's path.
    """

    name: str
    frames: np.ndarray
    source: Path

    def __len__(self) -> int:
        return int(self.frames.shape[0])


@dataclass
class VideoSet:
    """The usable videos of one split, and the items that were skipped (path, reason)."""

    clips: list[VideoClip]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    root: Path = Path(".")
    split: str = "train"

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def num_frames(self) -> int:
        """Total number of frames over all clips."""
        return sum(len(clip) for clip in self.clips)

    def describe(self) -> str:
        """One line such as '28 videos, 7,412 frames (2 skipped) from data/faces (train)'."""
        skipped = f" ({len(self.skipped)} skipped)" if self.skipped else ""
        return f"{len(self.clips)} videos, {self.num_frames:,} frames{skipped} from {self.root} ({self.split})"


# --------------------------------------------------------------------------- finding items


def has_split_folders(root: Path) -> bool:
    """True when ``root`` is organised as ``train/`` and/or ``test/`` sub-folders."""
    return (root / "train").is_dir() or (root / "test").is_dir()


def list_items(folder: Path) -> list[Path]:
    """The video items directly inside ``folder``, sorted by name.

    Video files, image files (concatenated frames) and sub-folders (frame folders) count;
    hidden entries and other files (notes, JSON manifests) are ignored.
    """
    items = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or entry.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
            items.append(entry)
    return items


def group_name(item: Path) -> str:
    """The video an item belongs to for the split: its stem without a ``_shotN`` suffix."""
    stem = item.stem if item.is_file() else item.name
    return _SHOT_SUFFIX.sub("", stem)


def find_videos(root: Path, split: str, seed: int = 0, test_fraction: float = 0.2) -> list[Path]:
    """The items of ``split`` ("train", "test" or "all") in the dataset folder ``root``.

    With ``train/``/``test/`` sub-folders the split is the sub-folder. A flat folder is split by
    video: items are grouped by :func:`group_name`, groups are ordered by a hash of
    (seed, name), and the first ``round(test_fraction * groups)`` groups (at least one when
    there are two or more) are the test split. The rule depends only on the names, so it is
    the same on every machine, and adding a video moves at most one other across.

    Raises:
        DatasetError: the folder or the requested split folder does not exist.
    """
    root = Path(root)
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if not root.exists():
        raise DatasetError(f"dataset folder not found: {root}")
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder (a dataset is a folder of videos)")
    if has_split_folders(root):
        return _split_folder_items(root, split)
    return _flat_split(list_items(root), split, seed, test_fraction)


def _split_folder_items(root: Path, split: str) -> list[Path]:
    names = ("train", "test") if split == "all" else (split,)
    present = [name for name in names if (root / name).is_dir()]
    if split != "all" and not present:
        other = "train" if split == "test" else "test"
        raise DatasetError(f"{root} has a {other}/ folder but no {split}/ folder")
    return [item for name in present for item in list_items(root / name)]


def _flat_split(items: list[Path], split: str, seed: int, test_fraction: float) -> list[Path]:
    if split == "all":
        return items
    if not 0.0 <= test_fraction < 1.0:
        raise DatasetError(f"test_fraction must be in [0, 1), got {test_fraction}")
    groups = sorted({group_name(item) for item in items}, key=lambda name: _hash(f"{seed}:{name}"))
    n_test = round(test_fraction * len(groups))
    if len(groups) >= 2 and test_fraction > 0:
        n_test = min(max(n_test, 1), len(groups) - 1)
    test_groups = set(groups[:n_test])
    return [item for item in items if (group_name(item) in test_groups) == (split == "test")]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- reading items


def iter_item_frames(item: Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of one item at their stored size, as (H, W, 3) uint8 RGB.

    Videos are decoded one frame at a time. Raises :class:`ClipError` (why, without the path)
    for an unreadable or truncated file, a wrong frame size, or an unknown kind of item.
    The 2-frame minimum is checked by the caller (it depends on what is done with them).
    """
    item = Path(item)
    if item.is_dir():
        frames: Iterator[np.ndarray] = iter(_frame_folder(item, max_frames))
    elif item.suffix.lower() in IMAGE_SUFFIXES:
        frames = iter(_concatenated_image(item, max_frames))
    elif item.suffix.lower() in VIDEO_SUFFIXES:
        frames = _video_frames(item, max_frames)
    else:
        raise ClipError(f"not a video, an image or a folder of frames ({item.suffix or 'no suffix'})")
    yield from frames


def item_fps(item: Path, default: float = 25.0) -> float:
    """Frame rate of a video file (``default`` for frame folders and concatenated images)."""
    if item.is_file() and item.suffix.lower() in VIDEO_SUFFIXES:
        try:
            return probe_video(item).fps
        except MediaError:
            return default
    return default


def _video_frames(path: Path, max_frames: int | None) -> Iterator[np.ndarray]:
    try:
        reported = probe_video(path).frame_count
        count = 0
        for frame in iter_video(path, max_frames):
            count += 1
            yield frame
    except MediaError as error:
        raise ClipError(_media_reason(error, path)) from None
    expected = reported if max_frames is None else min(reported, max_frames)
    if _looks_truncated(count, expected):
        raise ClipError(f"truncated: {count} of {reported} frames could be decoded")


def _looks_truncated(decoded: int, expected: int) -> bool:
    """A container that promises clearly more frames than decode (frame counts of some formats
    are estimates from the duration, hence the tolerance of 2 frames or 5%)."""
    return expected > 0 and decoded < expected - max(2, round(0.05 * expected))


def _media_reason(error: MediaError, path: Path) -> str:
    text = str(error).replace(str(path), "").strip(" :")
    if "cannot be decoded" in text or "no decodable frame" in text:
        return "unreadable or truncated video (no frame can be decoded)"
    return text or "unreadable"


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _frame_folder(folder: Path, max_frames: int | None) -> list[np.ndarray]:
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
        key=lambda p: _natural_key(p.name),
    )
    if not files:
        raise ClipError("folder holds no frame images")
    frames = []
    for path in files[:max_frames]:
        try:
            frame = read_image(path)
        except MediaError:
            raise ClipError(f"frame {path.name} is not a readable image") from None
        if frames and frame.shape != frames[0].shape:
            raise ClipError(
                f"wrong frame size: {path.name} is {_size(frame)}, {files[0].name} is {_size(frames[0])}"
            )
        frames.append(frame)
    return frames


def _concatenated_image(path: Path, max_frames: int | None) -> list[np.ndarray]:
    try:
        strip = read_image(path)
    except MediaError:
        raise ClipError("not a readable image") from None
    height, width = strip.shape[:2]
    if width % height != 0:
        raise ClipError(
            f"wrong frame size: width {width} is not a multiple of height {height} "
            "(expected square frames side by side, H x T*H)"
        )
    count = width // height
    if max_frames is not None:
        count = min(count, max_frames)
    return [strip[:, t * height : (t + 1) * height] for t in range(count)]


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]}"


def square_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop an (H, W, 3) frame to a square and resize it to (size, size, 3)."""
    height, width = frame.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = frame[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def decode_item(item: Path, frame_size: int, max_frames: int | None = None) -> np.ndarray:
    """Decode one item -> (T, frame_size, frame_size, 3) uint8 RGB with T >= 2.

    Raises :class:`ClipError` when it cannot be used.
    """
    frames = [square_resize(frame, frame_size) for frame in iter_item_frames(item, max_frames)]
    if len(frames) < MIN_FRAMES:
        raise ClipError(f"too short: {len(frames)} frame(s), a video needs at least {MIN_FRAMES}")
    return np.stack(frames)


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """Where decoded frames are cached unless told otherwise: <user cache>/frames."""
    from monkeycam.paths import cache_dir

    return cache_dir() / "frames"


def _stamp(item: Path) -> list:
    """What identifies the item's content cheaply: sizes and modification times."""
    if item.is_dir():
        return sorted([p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in item.iterdir() if p.is_file())
    stat = item.stat()
    return [stat.st_size, stat.st_mtime_ns]


def cache_path(cache_dir: Path, item: Path, frame_size: int, max_frames: int | None) -> Path:
    """The cache file of ``item`` decoded at ``frame_size`` (first ``max_frames`` frames)."""
    key = json.dumps(
        [CACHE_VERSION, str(item.resolve()), _stamp(item), frame_size, max_frames], separators=(",", ":")
    )
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", item.name)[:60]
    return cache_dir / f"{safe}-{frame_size}-{_hash(key)[:20]}.npy"


def _read_cache(path: Path, frame_size: int) -> np.ndarray | None:
    """Cached frames, or None when absent or unusable (a damaged file is decoded again)."""
    if not path.is_file():
        return None
    try:  # mapped first: a header claiming a huge array costs nothing until its size is checked
        frames = np.load(path, mmap_mode="r", allow_pickle=False)
        ok = frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[1:] == (frame_size, frame_size, 3)
        return np.array(frames) if ok and frames.shape[0] >= MIN_FRAMES else None
    except (OSError, ValueError, EOFError):
        return None


def _write_cache(path: Path, frames: np.ndarray) -> None:
    """Write atomically (temporary file, then rename) so a reader never sees half a file."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, frames, allow_pickle=False)


# --------------------------------------------------------------------------- loading a split


def load_videos(
    root: str | Path,
    split: str,
    frame_size: int,
    cache_dir: Path | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    seed: int = 0,
    test_fraction: float = 0.2,
    frame_stride: int = 1,
) -> VideoSet:
    """Decode (or read from the cache) every video of one split of a dataset.

    Args:
        root: the dataset folder (see the module docstring for the layouts).
        split: "train", "test" or "all".
        frame_size: frames are centre-cropped square and resized to this side (pixels).
        cache_dir: where decoded frames are kept (default: :func:`default_cache_dir`).
        max_frames: keep only the first ``max_frames`` frames of each video.
        progress: show a progress bar while decoding.
        seed, test_fraction: the split rule of flat folders (:func:`find_videos`).
        frame_stride: keep every Nth frame of each video (after ``max_frames``).

    Returns:
        The usable clips, (T, frame_size, frame_size, 3) uint8 each, and the skipped items.

    Raises:
        DatasetError: no item at all, or no usable one (after a warning listing them).
    """
    root = Path(root)
    if frame_size < 1:
        raise DatasetError(f"frame_size must be a positive number of pixels, got {frame_size}")
    items = find_videos(root, split, seed, test_fraction)
    where = root if split == "all" or not has_split_folders(root) else root / split
    if not items:
        raise DatasetError(
            f"no videos in {where} ({split} split): expected {'/'.join(s for s in VIDEO_SUFFIXES[:5])} files, "
            "folders of frame images, or images of frames concatenated horizontally"
        )
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    clips, skipped = _load_items(items, frame_size, cache, max_frames, progress, frame_stride)
    if skipped:
        log.warning(_skipped_message(skipped, len(items), where))
    if not clips:
        raise DatasetError(f"no usable video in {where}: all {len(items)} item(s) were skipped ({skipped[0][1]}, ...)")
    return VideoSet(clips=clips, skipped=skipped, root=root, split=split)


def _load_items(
    items: list[Path], frame_size: int, cache: Path, max_frames: int | None, progress: bool, frame_stride: int = 1
) -> tuple[list[VideoClip], list[tuple[Path, str]]]:
    clips: list[VideoClip] = []
    skipped: list[tuple[Path, str]] = []
    cache_ok = True
    bar = tqdm(items, desc="loading videos", unit="video", disable=not progress, leave=False)
    for item in bar:
        bar.set_postfix_str(item.name[-30:], refresh=False)
        try:
            frames, cache_ok = _cached_frames(item, frame_size, cache, max_frames, cache_ok)
        except ClipError as error:
            skipped.append((item, str(error)))
            continue
        except OSError as error:
            skipped.append((item, f"cannot be read ({error.strerror or error})"))
            continue
        if frame_stride > 1 and len(frames) >= 2 * frame_stride:
            frames = np.ascontiguousarray(frames[::frame_stride])  # the full array is freed here
        clips.append(VideoClip(name=item.name, frames=frames, source=item))
    return clips, skipped


def _cached_frames(
    item: Path, frame_size: int, cache: Path, max_frames: int | None, cache_ok: bool
) -> tuple[np.ndarray, bool]:
    """Frames of one item from the cache, or decoded and then cached.

    Returns the frames and whether the cache is still writable (one warning when it is not).
    """
    path = cache_path(cache, item, frame_size, max_frames)
    frames = _read_cache(path, frame_size)
    if frames is not None:
        return frames, cache_ok
    frames = decode_item(item, frame_size, max_frames)
    if cache_ok:
        try:
            _write_cache(path, frames)
        except OSError as error:
            log.warning(f"cannot write the frame cache in {cache} ({error.strerror or error}); decoding without it")
            cache_ok = False
    return frames, cache_ok


def _skipped_message(skipped: list[tuple[Path, str]], total: int, where: Path) -> str:
    lines = [f"skipped {len(skipped)} of {total} video(s) in {where}:"]
    lines += [f"  {path}: {reason}" for path, reason in skipped]
    return "\n".join(lines)
