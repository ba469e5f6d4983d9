"""Turn raw videos into square training clips (``monkeycam prepare faces|generic``).

Faces are prepared the way face-animation datasets are made:

1. **Detect**: mediapipe face detection on sampled frames (``sample_fps`` per second). Both of
   mediapipe's models run; the clip uses the one that finds a usable face in more samples
   (the short-range model misses small faces, the full-range model misses close-ups).
2. **Plan shots**: consecutive samples whose face stays within ``max_move`` face sizes of the
   shot's middle and within a size ratio of ``max_zoom`` form one shot; a face that moves
   further, or disappears for more than ``max_gap`` seconds, starts a new shot. Shots shorter
   than ``min_shot_frames`` are dropped.
3. **Crop**: one fixed square per shot (no jitter), ``scale`` times the median face size,
   centred on the face's range of positions and moved up by ``shift_up`` face heights. A square
   larger than the frame shrinks to the frame when that still leaves ``min_scale`` face sizes;
   it may slide a little to stay inside the frame; what is still outside is filled by
   replicating the border.
4. **Write** each shot, resized to ``size x size``, as an H.264 ``.mp4`` (atomically):
   ``NAME.mp4`` for a clip of one shot, ``NAME_shot1.mp4``, ``NAME_shot2.mp4``... otherwise.

The output mirrors ``train/`` and ``test/`` when the input has them, and a ``prepare.json``
manifest records every shot (frame range and crop box in source pixels) and every skipped clip.
The generic mode (any object) crops the centre square of every frame and resizes it; with
``crops`` (``--crop [NAME=]x,y,w,h``) it first cuts a rectangle out of every frame: the real
video inside a composite (a side-by-side demo) or inside black letterbox bars. Frame strips
(one image of square frames side by side) and folders of frames are read like videos.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import os
import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from monkeycam.errors import UserError
from monkeycam.face import CropBox, FaceBox, FaceDetector, crop_square, whole_frame_box
from monkeycam.io import MediaError, VideoWriter
from monkeycam.io.atomic import atomic_path, check_output

from .data import (
    MIN_FRAMES,
    ClipError,
    DatasetError,
    has_split_folders,
    item_fps,
    iter_item_frames,
    list_items,
    square_resize,
)

log = logging.getLogger(__name__)

SPLIT_FOLDERS = ("train", "test")
MANIFEST = "prepare.json"


class PrepareError(UserError, ValueError):
    """The output cannot be written; the message is one line for the user."""


@dataclass(frozen=True)
class FaceCropSettings:
    """How faces are found, followed and cropped (sizes in face sizes unless stated).

    Attributes:
        scale: crop side / median face side (face = mediapipe's face box, brow to chin).
        shift_up: the crop centre sits this many face heights above the face centre.
        min_scale: a crop larger than the frame shrinks to the frame down to this scale.
        min_face: faces smaller than this (pixels, larger side) are ignored.
        sample_fps: detection samples per second of video.
        max_move: a shot's face centres stay within this distance of the shot's middle.
        max_zoom: a shot's largest face is at most this times its smallest.
        max_gap: seconds without a face that a shot bridges.
        min_shot_frames: shorter shots are dropped.
    """

    scale: float = 2.0
    shift_up: float = 0.1
    min_scale: float = 1.5
    min_face: float = 32.0
    sample_fps: float = 10.0
    max_move: float = 0.3
    max_zoom: float = 1.4
    max_gap: float = 1.0
    min_shot_frames: int = 16

    def __post_init__(self) -> None:
        if self.scale < 1.0 or self.min_scale < 1.0:
            raise PrepareError(f"scale and min_scale must be >= 1 (the crop must hold the face), got {self.scale}")
        if self.sample_fps <= 0 or self.min_shot_frames < MIN_FRAMES:
            raise PrepareError(f"sample_fps must be > 0 and min_shot_frames >= {MIN_FRAMES}")


@dataclass(frozen=True)
class CropRect:
    """A rectangle of source pixels: left ``x``, top ``y``, width ``w``, height ``h``."""

    x: int
    y: int
    w: int
    h: int

    def describe(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"

    def check_fits(self, width: int, height: int) -> None:
        """ClipError when the rectangle is not inside a ``width`` x ``height`` frame."""
        if self.x + self.w > width or self.y + self.h > height:
            raise ClipError(f"--crop {self.describe()} does not fit its {width}x{height} frames "
                            f"(x + w must be <= {width} and y + h <= {height})")

    def cut(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) -> (h, w, 3), a view of the frame (the caller checked it fits)."""
        return frame[self.y : self.y + self.h, self.x : self.x + self.w]

    def square(self) -> CropBox:
        """The square :func:`square_resize` keeps of the cut rectangle, in source pixels."""
        side = min(self.w, self.h)
        return CropBox(self.x + (self.w - side) // 2, self.y + (self.h - side) // 2, side)


@dataclass(frozen=True)
class CropPlan:
    """Which rectangle to cut out of each clip: ``patterns`` (file-name glob, rectangle) are
    tried in order, then ``default``; a clip that matches none keeps its whole frames."""

    default: CropRect | None = None
    patterns: tuple[tuple[str, CropRect], ...] = ()

    def for_item(self, item: Path) -> CropRect | None:
        for pattern, rect in self.patterns:
            if fnmatch.fnmatch(item.name, pattern) or fnmatch.fnmatch(item.stem, pattern):
                return rect
        return self.default

    def to_dict(self) -> dict:
        return {"default": self.default.describe() if self.default else None,
                "patterns": {pattern: rect.describe() for pattern, rect in self.patterns}}


_CROP_FORMAT = "--crop takes x,y,w,h or NAME=x,y,w,h (whole pixels: x, y >= 0, w, h >= 2; NAME a clip name or glob)"


def parse_crops(texts: list[str] | tuple[str, ...]) -> CropPlan:
    """``["x,y,w,h", "NAME=x,y,w,h", ...]`` -> a :class:`CropPlan`; PrepareError names the bad one."""
    default, patterns = None, []
    for text in texts:
        pattern, _, rect_text = text.rpartition("=")
        rect = _parse_rect(rect_text, text)
        if pattern:
            patterns.append((pattern, rect))
        elif default is not None:
            raise PrepareError(f"--crop given twice without a clip name ({default.describe()} and {text}); "
                               "name the clips of the second: NAME=x,y,w,h")
        else:
            default = rect
    return CropPlan(default, tuple(patterns))


def _parse_rect(text: str, whole: str) -> CropRect:
    parts = text.split(",")
    try:
        values = [int(part.strip()) for part in parts]
    except ValueError:
        raise PrepareError(f"{_CROP_FORMAT}; got {whole!r}") from None
    if len(values) != 4:
        raise PrepareError(f"{_CROP_FORMAT}; got {whole!r} ({len(values)} number(s))")
    x, y, w, h = values
    if x < 0 or y < 0 or w < 2 or h < 2:
        raise PrepareError(f"{_CROP_FORMAT}; got {whole!r}")
    return CropRect(x, y, w, h)


def check_crop_patterns(crops: CropPlan, items: list[Path]) -> None:
    """PrepareError for a named crop that matches no input clip (a typo would otherwise be
    silently ignored and the composite trained whole)."""
    for pattern, rect in crops.patterns:
        if not any(fnmatch.fnmatch(item.name, pattern) or fnmatch.fnmatch(item.stem, pattern) for item in items):
            raise PrepareError(f"--crop {pattern}={rect.describe()}: no input clip is called {pattern!r}")


@dataclass(frozen=True)
class FaceSample:
    """The faces found in one sampled frame: ``frame`` index, boxes largest first (pixels)."""

    frame: int
    boxes: tuple[FaceBox, ...]


@dataclass(frozen=True)
class Shot:
    """A run of frames ``[start, stop)`` cut with one square ``box`` (source pixels)."""

    start: int
    stop: int
    box: CropBox
    face_size: float = 0.0

    @property
    def length(self) -> int:
        return self.stop - self.start


@dataclass
class PreparedClip:
    """One input item and what was written from it."""

    source: Path
    split: str
    outputs: list[Path]
    shots: list[Shot]
    frames_in: int
    detector: str = ""
    dropped_shots: int = 0

    @property
    def frames_out(self) -> int:
        return sum(shot.length for shot in self.shots)


@dataclass
class PrepareReport:
    """Everything a prepare run did, for the summary and the manifest."""

    mode: str
    in_dir: Path
    out_dir: Path
    size: int
    clips: list[PreparedClip] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line: clips, shots, frames, time, skipped count."""
        shots = sum(len(clip.shots) for clip in self.clips)
        frames = sum(clip.frames_out for clip in self.clips)
        total = len(self.clips) + len(self.skipped)
        skipped = f"; skipped {len(self.skipped)}" if self.skipped else ""
        return (
            f"prepared {len(self.clips)} of {total} clips into {self.out_dir}: {shots} videos "
            f"({frames:,} frames, {self.size}x{self.size}) in {self.seconds:.0f} s{skipped}"
        )

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "in_dir": str(self.in_dir),
            "size": self.size,
            "settings": self.settings,
            "clips": [_clip_dict(clip, self.out_dir) for clip in self.clips],
            "skipped": [{"source": str(path), "reason": reason} for path, reason in self.skipped],
            "seconds": round(self.seconds, 1),
        }


def _clip_dict(clip: PreparedClip, out_dir: Path) -> dict:
    return {
        "source": str(clip.source),
        "split": clip.split,
        "detector": clip.detector,
        "frames_in": clip.frames_in,
        "outputs": [str(path.relative_to(out_dir)) for path in clip.outputs],
        "shots": [
            {"start": s.start, "stop": s.stop, "crop_xy_side": [round(v, 1) for v in asdict(s.box).values()],
             "face_size": round(s.face_size, 1)}
            for s in clip.shots
        ],
        "dropped_short_shots": clip.dropped_shots,
    }


# --------------------------------------------------------------------------- inputs and outputs


def plan_inputs(in_dir: Path, out_dir: Path) -> list[tuple[Path, str, Path]]:
    """(item, split, output folder) for every input item; the output mirrors train/ and test/.

    Raises:
        DatasetError: IN_DIR is missing, not a folder or holds no video.
        PrepareError: OUT_DIR is IN_DIR or inside it, or cannot be created or written.
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise DatasetError(f"input folder not found: {in_dir}" if not in_dir.exists() else f"{in_dir} is not a folder")
    check_output_folder(in_dir, out_dir)
    if has_split_folders(in_dir):
        plan = [(item, split, out_dir / split) for split in SPLIT_FOLDERS if (in_dir / split).is_dir()
                for item in list_items(in_dir / split)]
    else:
        plan = [(item, "", out_dir) for item in list_items(in_dir)]
    if not plan:
        raise DatasetError(f"no videos in {in_dir} (expected video files, frame folders or concatenated images)")
    return plan


def check_output_folder(in_dir: Path, out_dir: Path) -> None:
    """Fail early, with one line, when OUT_DIR cannot receive the clips (nothing is created)."""
    check_output(out_dir, input_folders=[in_dir], what="the output folder")
    earlier = _prepared_from(out_dir / MANIFEST)
    if earlier is not None and Path(earlier).resolve() != in_dir.resolve():
        raise PrepareError(f"{out_dir} holds clips prepared from {earlier}: prepare {in_dir} into another folder "
                           f"or add --overwrite to replace them (mixed clips would not match its {MANIFEST})")
    resolved_out = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise PrepareError(f"output {out_dir} exists and is not a folder")
    existing = next(p for p in (resolved_out, *resolved_out.parents) if p.exists())
    if not existing.is_dir():
        raise PrepareError(f"cannot create {out_dir}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PrepareError(f"output folder is not writable: {existing}")


def _prepared_from(manifest: Path) -> str | None:
    """The input folder an earlier run into this output recorded (None: no usable record)."""
    try:
        earlier = json.loads(manifest.read_text()).get("in_dir") if manifest.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None
    return earlier if isinstance(earlier, str) else None


def output_stems(items: list[Path]) -> dict[Path, str]:
    """Output name (without suffix) of each item: its stem, or stem_suffix when two share a stem."""
    stems: dict[Path, str] = {}
    counts: dict[tuple[Path, str], int] = {}
    for item in items:
        key = (item.parent, item.stem if item.is_file() else item.name)
        counts[key] = counts.get(key, 0) + 1
    for item in items:
        stem = item.stem if item.is_file() else item.name
        clash = counts[(item.parent, stem)] > 1 and item.suffix
        stems[item] = f"{stem}_{item.suffix.lstrip('.').lower()}" if clash else stem
    return stems


def shot_paths(folder: Path, stem: str, count: int) -> list[Path]:
    """NAME.mp4 for one shot, NAME_shot1.mp4 ... NAME_shotN.mp4 for several."""
    if count == 1:
        return [folder / f"{stem}.mp4"]
    return [folder / f"{stem}_shot{k + 1}.mp4" for k in range(count)]


def remove_stale_outputs(folder: Path, stem: str, keep: list[Path]) -> None:
    """Delete outputs of an earlier run for the same clip that this run did not write."""
    pattern = re.compile(rf"^{re.escape(stem)}(_shot\d+)?\.mp4$")
    for path in folder.glob(f"{stem}*.mp4"):
        if pattern.match(path.name) and path not in keep:
            path.unlink()


def write_shots(item: Path, shots: list[Shot], paths: list[Path], size: int, fps: float) -> None:
    """Decode ``item`` once more and write each shot, cropped and resized, to its path.

    Shots are disjoint and in order, so at most one file is open at a time; a failure or an
    interrupt deletes the file being written.
    """
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    pending = iter(zip(shots, paths))
    shot, path = next(pending)
    writer: VideoWriter | None = None
    try:
        for index, frame in enumerate(iter_item_frames(item)):
            if index < shot.start:
                continue
            writer = writer or VideoWriter(path, fps)
            writer.write(crop_square(frame, shot.box, size))
            if index + 1 >= shot.stop:
                writer.close()
                writer = None
                shot, path = next(pending, (None, None))
                if shot is None:
                    break
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()


def write_manifest(report: PrepareReport) -> Path:
    """Write ``OUT_DIR/prepare.json`` atomically."""
    path = report.out_dir / MANIFEST
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=1))
    return path


# --------------------------------------------------------------------------- faces: detection


def sample_stride(fps: float, sample_fps: float) -> int:
    """Every how many frames a detection sample is taken."""
    return max(1, round(fps / sample_fps))


def detect_faces(item: Path, stride: int, detectors: dict[str, FaceDetector]) -> tuple[dict[str, list[FaceSample]], int, tuple[int, int]]:
    """Run every detector on every ``stride``-th frame.

    Returns:
        samples per detector name, the number of frames in the item, and its (width, height).
    """
    samples: dict[str, list[FaceSample]] = {name: [] for name in detectors}
    count, size = 0, (0, 0)
    for index, frame in enumerate(iter_item_frames(item)):
        count, size = index + 1, (frame.shape[1], frame.shape[0])
        if index % stride:
            continue
        for name, detector in detectors.items():
            samples[name].append(FaceSample(index, tuple(detector.detect(frame))))
    return samples, count, size


def usable_faces(sample: FaceSample, min_face: float) -> list[FaceBox]:
    return [box for box in sample.boxes if max(box.width, box.height) >= min_face]


def choose_detector(samples: dict[str, list[FaceSample]], min_face: float) -> str:
    """The detector that found a usable face in the most samples (the first listed on a tie)."""
    hits = {name: sum(bool(usable_faces(s, min_face)) for s in found) for name, found in samples.items()}
    return max(hits, key=lambda name: hits[name])


# --------------------------------------------------------------------------- faces: shots


@dataclass
class _Run:
    """Samples of one shot being built: (frame index, chosen face box)."""

    faces: list[tuple[int, FaceBox]] = field(default_factory=list)

    def middle(self) -> tuple[float, float]:
        xs = [box.centre[0] for _, box in self.faces]
        ys = [box.centre[1] for _, box in self.faces]
        return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2

    def accepts(self, box: FaceBox, settings: FaceCropSettings) -> bool:
        """Whether the face still fits one fixed crop together with the run's faces."""
        boxes = [b for _, b in self.faces] + [box]
        sides = [max(b.width, b.height) for b in boxes]
        xs = [b.centre[0] for b in boxes]
        ys = [b.centre[1] for b in boxes]
        reach = 2 * settings.max_move * min(sides)
        return max(xs) - min(xs) <= reach and max(ys) - min(ys) <= reach and max(sides) <= settings.max_zoom * min(sides)


def group_runs(samples: list[FaceSample], settings: FaceCropSettings, max_gap_frames: int) -> list[_Run]:
    """Split the samples into runs with a steady face (greedy, in time order).

    A run follows the face nearest to it. When no face of a sample fits the run, the run ends
    there (the face moved or the shot changed), except when the faces in view are other people
    (several faces, or one seen beside the run's face before) and the run's face comes back
    within ``max_gap_frames``: then it was only hidden, and the sample is passed over.
    """
    runs: list[_Run] = []
    current = _Run()
    others: list[FaceBox] = []  # faces beside the run's face, where last seen
    for index, sample in enumerate(samples):
        faces = usable_faces(sample, settings.min_face)
        if not faces:
            continue
        if current.faces and sample.frame - current.faces[-1][0] <= max_gap_frames:
            box = _closest(faces, current.middle())
            if current.accepts(box, settings):
                current.faces.append((sample.frame, box))
                others = [face for face in faces if face is not box] or others
                continue
            other_people = len(faces) > 1 or _seen_before(faces[0], others, settings)
            if other_people and _comes_back(current, samples[index + 1 :], settings, max_gap_frames):
                continue
        if current.faces:
            runs.append(current)
        current, others = _Run([(sample.frame, faces[0])]), list(faces[1:])
    if current.faces:
        runs.append(current)
    return runs


def _seen_before(box: FaceBox, others: list[FaceBox], settings: FaceCropSettings) -> bool:
    """Whether ``box`` is where one of the other faces was."""
    reach = settings.max_move * max(box.width, box.height)
    return any(math.dist(box.centre, other.centre) <= reach for other in others)


def _comes_back(run: _Run, later: list[FaceSample], settings: FaceCropSettings, max_gap_frames: int) -> bool:
    """Whether a face that fits the run is found within ``max_gap_frames`` of its last face."""
    last = run.faces[-1][0]
    for sample in later:
        if sample.frame - last > max_gap_frames:
            return False
        if any(run.accepts(box, settings) for box in usable_faces(sample, settings.min_face)):
            return True
    return False


def _closest(faces: list[FaceBox], point: tuple[float, float]) -> FaceBox:
    return min(faces, key=lambda b: (b.centre[0] - point[0]) ** 2 + (b.centre[1] - point[1]) ** 2)


def crop_for_run(run: _Run, frame_size: tuple[int, int], settings: FaceCropSettings) -> tuple[CropBox, float]:
    """The fixed square crop of a run (source pixels) and its median face side.

    The square is ``scale`` face sizes, centred on the middle of the face positions and moved
    up by ``shift_up`` face heights; it shrinks to the frame when the frame still holds
    ``min_scale`` face sizes, then slides towards the inside of the frame as far as every face
    of the run stays inside it (with a margin, more above the brow for the hair).
    """
    width, height = frame_size
    face = statistics.median(max(b.width, b.height) for _, b in run.faces)
    face_height = statistics.median(b.height for _, b in run.faces)
    cx, cy = run.middle()
    cy -= settings.shift_up * face_height
    side = settings.scale * face
    if side > min(width, height) >= settings.min_scale * face:
        side = float(min(width, height))
    left = min(b.x for _, b in run.faces) - 0.1 * face
    right = max(b.x + b.width for _, b in run.faces) + 0.1 * face
    top = min(b.y for _, b in run.faces) - 0.25 * face
    bottom = max(b.y + b.height for _, b in run.faces) + 0.1 * face
    x = _place(cx - side / 2, side, width, left, right)
    y = _place(cy - side / 2, side, height, top, bottom)
    return CropBox(x, y, side), face


def _place(start: float, side: float, extent: int, keep_from: float, keep_to: float) -> float:
    """Start of a crop of ``side`` along one axis of the frame ``[0, extent)``.

    Moved from ``start`` towards covering as much of the frame as possible, but never so far
    that ``[keep_from, keep_to]`` (the faces) leaves the crop.
    """
    target = min(max(start, min(0.0, extent - side)), max(0.0, extent - side))
    lowest, highest = keep_to - side, keep_from
    if lowest <= highest:
        target = min(max(target, lowest), highest)
    return target


def plan_shots(
    samples: list[FaceSample], frame_count: int, frame_size: tuple[int, int], fps: float, stride: int,
    settings: FaceCropSettings,
) -> tuple[list[Shot], int]:
    """Shots of a clip from its face samples.

    Returns:
        The kept shots, in order, and how many were dropped as shorter than min_shot_frames.
    """
    max_gap_frames = max(stride, round(settings.max_gap * fps))
    shots, dropped = [], 0
    for run in group_runs(samples, settings, max_gap_frames):
        start = run.faces[0][0]
        stop = min(frame_count, run.faces[-1][0] + stride)
        if stop - start < settings.min_shot_frames:
            dropped += 1
            continue
        box, face = crop_for_run(run, frame_size, settings)
        shots.append(Shot(start, stop, box, face))
    return shots, dropped


# --------------------------------------------------------------------------- the two modes


def prepare_faces(
    in_dir: str | Path, out_dir: str | Path, size: int = 256, settings: FaceCropSettings | None = None,
    progress: bool = True,
) -> PrepareReport:
    """Prepare talking-head videos as square face clips (see the module docstring).

    Args:
        in_dir: raw videos, flat or with train/ and test/ sub-folders.
        out_dir: created if needed; mirrors the input's train/ and test/.
        size: side of the output frames (pixels).

    Returns:
        The report (also written to OUT_DIR/prepare.json).

    Raises:
        DatasetError: IN_DIR is missing or empty, or no clip has a usable face.
        PrepareError: OUT_DIR cannot be written.
    """
    settings = settings or FaceCropSettings()
    _check_size(size)
    plan = plan_inputs(Path(in_dir), Path(out_dir))
    report = PrepareReport("faces", Path(in_dir), Path(out_dir), size, settings=asdict(settings))
    started = time.perf_counter()
    with FaceDetector(full_range=False) as short, FaceDetector(full_range=True) as full:
        detectors = {"short-range": short, "full-range": full}
        for item, split, folder, stem in _progress(plan, progress):
            try:
                report.clips.append(_prepare_face_clip(item, split, folder, stem, size, settings, detectors))
            except (ClipError, MediaError, OSError) as error:
                report.skipped.append((item, str(error)))
    return _finish(report, started)


def _prepare_face_clip(
    item: Path, split: str, folder: Path, stem: str, size: int, settings: FaceCropSettings,
    detectors: dict[str, FaceDetector],
) -> PreparedClip:
    fps = item_fps(item)
    stride = sample_stride(fps, settings.sample_fps)
    samples, frame_count, frame_size = detect_faces(item, stride, detectors)
    if frame_count < MIN_FRAMES:
        raise ClipError(f"too short: {frame_count} frame(s)")
    detector = choose_detector(samples, settings.min_face)
    found = samples[detector]
    if not any(usable_faces(s, settings.min_face) for s in found):
        raise ClipError(f"no face of at least {settings.min_face:.0f} px found in {len(found)} sampled frames")
    shots, dropped = plan_shots(found, frame_count, frame_size, fps, stride, settings)
    if not shots:
        raise ClipError(f"no steady face for {settings.min_shot_frames} frames ({dropped} shorter shot(s) dropped)")
    paths = shot_paths(folder, stem, len(shots))
    write_shots(item, shots, paths, size, fps)
    remove_stale_outputs(folder, stem, paths)
    return PreparedClip(item, split, paths, shots, frame_count, detector, dropped)


def prepare_generic(
    in_dir: str | Path, out_dir: str | Path, size: int = 256, progress: bool = True, crops: CropPlan | None = None,
) -> PrepareReport:
    """Prepare videos of any object: an optional rectangle cut out of every frame (``crops``),
    then its centre square, resized to ``size``.

    Same inputs, outputs and errors as :func:`prepare_faces`; a clip whose frames cannot hold
    its crop is skipped with the reason, and a named crop that matches no clip is a PrepareError.
    """
    crops = crops or CropPlan()
    _check_size(size)
    plan = plan_inputs(Path(in_dir), Path(out_dir))
    check_crop_patterns(crops, [item for item, _, _ in plan])
    report = PrepareReport("generic", Path(in_dir), Path(out_dir), size, settings={"crop": crops.to_dict()})
    started = time.perf_counter()
    for item, split, folder, stem in _progress(plan, progress):
        try:
            report.clips.append(_prepare_generic_clip(item, split, folder, stem, size, crops.for_item(item)))
        except (ClipError, MediaError, OSError) as error:
            report.skipped.append((item, str(error)))
    return _finish(report, started)


def _prepare_generic_clip(
    item: Path, split: str, folder: Path, stem: str, size: int, crop: CropRect | None = None,
) -> PreparedClip:
    frames = list(_take(iter_item_frames(item), MIN_FRAMES))
    if len(frames) < MIN_FRAMES:
        raise ClipError(f"too short: {len(frames)} frame(s), a video needs at least {MIN_FRAMES}")
    height, width = frames[0].shape[:2]
    if crop is not None:
        crop.check_fits(width, height)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.mp4"
    count = 0
    with VideoWriter(path, item_fps(item)) as writer:
        for frame in iter_item_frames(item):
            writer.write(square_resize(crop.cut(frame) if crop is not None else frame, size))
            count += 1
    box = crop.square() if crop is not None else whole_frame_box(width, height)
    remove_stale_outputs(folder, stem, [path])
    return PreparedClip(item, split, [path], [Shot(0, count, box)], count)


def _take(frames: Iterator[np.ndarray], count: int) -> Iterator[np.ndarray]:
    for index, frame in enumerate(frames):
        if index >= count:
            return
        yield frame


def _check_size(size: int) -> None:
    if size < 16 or size % 2:
        raise PrepareError(f"--size must be an even number of pixels >= 16, got {size}")


def _progress(plan: list[tuple[Path, str, Path]], progress: bool) -> Iterator[tuple[Path, str, Path, str]]:
    stems = output_stems([item for item, _, _ in plan])
    bar = tqdm(plan, desc="preparing", unit="clip", disable=not progress)
    for item, split, folder in bar:
        bar.set_postfix_str(item.name[-30:])
        yield item, split, folder, stems[item]


def _finish(report: PrepareReport, started: float) -> PrepareReport:
    report.seconds = time.perf_counter() - started
    if not report.clips and report.skipped and all(why.startswith("--crop ") for _, why in report.skipped):
        first = report.skipped[0][1]  # the one thing to fix: said once, in one line
        raise PrepareError(f"{first}; no clip was prepared" if len(report.skipped) == 1 else
                           f"{first} (nor those of the other {len(report.skipped) - 1} clips); no clip was prepared")
    if not report.clips:
        lines = [f"skipped {len(report.skipped)} clip(s):"] + [f"  {path}: {why}" for path, why in report.skipped]
        log.warning("\n".join(lines))
        first = f"{report.skipped[0][0].name}: {report.skipped[0][1]}" if report.skipped else ""
        raise DatasetError(f"no usable clip in {report.in_dir}; all {len(report.skipped)} skipped ({first}, ...)")
    write_manifest(report)
    return report
