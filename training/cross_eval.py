"""Cross-identity evaluation: portraits of some people animated by videos of other people.

Each (portrait, driving video) pair goes through the engine exactly as ``monkeycam animate``
does it (face crop, relative transfer, default settings), with the output at the model's frame
size. Then, on the output frames against the driving frames and the portrait:

- **follow** (per signal of :mod:`training.face_signals`: eye, mouth, yaw, pitch, roll): the
  Pearson correlation over frames of the driving video's change since its first frame and the
  output's change since its first frame (1: the portrait does what the driver does; 0: nothing
  related). A signal is left out of a pair when the driving video hardly changes it (its
  standard deviation over the frames is below :data:`FLOORS`) or when the driving video's first
  frame has no face. An output that loses the face in its first frame, keeps it in fewer than
  3 frames, or does not move at all scores 0.
- **identity**: mean distance between dlib's 128-D face descriptors of the portrait's face crop
  (as the model sees it) and of every :data:`IDENTITY_EVERY`-th output frame; below 0.6 is
  the same person for dlib; lower is better.
- **sharpness**: median over output frames of the variance of the Laplacian of the grey image,
  divided by the same for the portrait's face crop at the output size (1.0: as sharp as the
  portrait).

The same numbers for the no-motion output (the portrait's crop repeated) are the baseline: it has
identity 0, sharpness 1 and follow 0. Read the three together.

From Python: ``from training.cross_eval import evaluate_cross``.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from monkeycam.errors import UserError
from monkeycam.io.atomic import atomic_path
from monkeycam.io.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES

from .evaluate import load_model
from .face_signals import SIGNALS, FaceSignals, signal_series
from .identity import IdentityEncoder

# A signal is left out of a pair when the driving video's standard deviation of it is below
# this (ratios for eye, mouth, yaw and pitch; degrees for roll): about the face mesh's jitter.
FLOORS: dict[str, float] = {"eye": 0.01, "mouth": 0.01, "yaw": 0.01, "pitch": 0.01, "roll": 0.5}
IDENTITY_EVERY = 10
SIGNAL_CROP = 256  # driving crops are measured at this size
MIN_FOLLOW_FRAMES = 3
GRID_CELL = 96
GRID_TIMES = 4  # driving / output frames shown per pair in the grid


class CrossEvalError(UserError, ValueError):
    """Bad input for the cross-identity evaluation (one line for the user)."""


# --------------------------------------------------------------------------- inputs


def find_portraits(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Image files: folders are expanded to the images they hold (sorted by name), files are kept."""
    return _find_files(paths, IMAGE_SUFFIXES, "--portraits", "portrait images")


def find_driving(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Video files: folders are expanded to the videos they hold (sorted by name), files are kept."""
    return _find_files(paths, VIDEO_SUFFIXES, "--driving", "driving videos")


def _find_files(paths: Sequence[str | os.PathLike], suffixes: tuple[str, ...], option: str, what: str) -> list[Path]:
    """Folders expanded to their files with ``suffixes``, files kept; CrossEvalError when a path
    does not exist, a folder holds none, or nothing is left."""
    found: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files = sorted(p for p in entry.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not files:
                raise CrossEvalError(f"no {what} ({', '.join(suffixes)}) in {entry}")
            found.extend(files)
        elif entry.is_file():
            found.append(entry)
        else:
            raise CrossEvalError(f"{option} {entry} does not exist")
    if not found:
        raise CrossEvalError(f"no {what} given")
    return found


def choose_pairs(portraits: int, videos: int, pairs: int, seed: int = 0) -> list[tuple[int, int]]:
    """A fixed, seeded list of ``pairs`` distinct (portrait index, video index) pairs.

    Portraits and videos are shuffled with ``seed`` and dealt in turn, so every portrait and
    every video is used once before any is used twice (all are used when ``pairs`` is at least
    the larger count).
    """
    if pairs < 1:
        raise CrossEvalError(f"--pairs must be at least 1, got {pairs}")
    if pairs > portraits * videos:
        raise CrossEvalError(f"--pairs {pairs} is more than the {portraits} portrait(s) x {videos} video(s) allow")
    rng = random.Random(seed)
    portrait_order, video_order = list(range(portraits)), list(range(videos))
    rng.shuffle(portrait_order)
    rng.shuffle(video_order)
    chosen: list[tuple[int, int]] = []
    for index in range(pairs):
        portrait = portrait_order[index % portraits]
        step = index
        while (portrait, video_order[step % videos]) in chosen:
            step += 1
        chosen.append((portrait, video_order[step % videos]))
    return chosen


# --------------------------------------------------------------------------- measures


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image of an (H, W, 3) uint8 RGB image (sharpness)."""
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def sharpness(outputs: Sequence[np.ndarray], reference: np.ndarray) -> float:
    """Median Laplacian variance of ``outputs`` over that of ``reference`` resized to their size."""
    height, width = outputs[0].shape[:2]
    if reference.shape[:2] != (height, width):
        reference = cv2.resize(reference, (width, height), interpolation=cv2.INTER_AREA)
    base = laplacian_variance(reference)
    median = float(np.median([laplacian_variance(frame) for frame in outputs]))
    return median / base if base > 0 else math.nan


def pearson(first: np.ndarray, second: np.ndarray) -> float:
    """Pearson correlation of two equal-length series; 0 when either is constant."""
    first, second = first - first.mean(), second - second.mean()
    norm = math.sqrt(float(first @ first) * float(second @ second))
    return float(first @ second) / norm if norm > 1e-12 else 0.0


def follow_scores(driving: dict[str, np.ndarray], output: dict[str, np.ndarray]) -> dict[str, float | None]:
    """Per-signal follow of one pair (see the module docstring); None: left out.

    driving, output: {signal: (T,) series}, NaN where a frame has no face.
    """
    scores: dict[str, float | None] = {}
    for name in SIGNALS:
        drive, out = driving[name], output[name]
        valid_drive = drive[~np.isnan(drive)]
        if np.isnan(drive[0]) or valid_drive.std() < FLOORS[name]:
            scores[name] = None
            continue
        both = ~np.isnan(drive) & ~np.isnan(out)
        if np.isnan(out[0]) or both.sum() < MIN_FOLLOW_FRAMES:
            scores[name] = 0.0
            continue
        scores[name] = pearson(drive[both] - drive[0], out[both] - out[0])
    return scores


class _RepeatAware:
    """Calls ``function`` on frames, reusing the last result for a frame equal to the last one
    (the no-motion output is one frame repeated)."""

    def __init__(self, function) -> None:
        self._function = function
        self._last: tuple[np.ndarray, Any] | None = None

    def __call__(self, frame: np.ndarray) -> Any:
        if self._last is not None and self._last[0].shape == frame.shape and np.array_equal(self._last[0], frame):
            return self._last[1]
        result = self._function(frame)
        self._last = (frame, result)
        return result


@dataclass
class Scorers:
    """The face mesh and the identity encoder, loaded once for a whole evaluation."""

    signals: FaceSignals
    identity: IdentityEncoder | None

    @classmethod
    def load(cls, identity: bool = True) -> Scorers:
        encoder = IdentityEncoder() if identity else None  # first: it fails when dlib is missing
        return cls(FaceSignals(), encoder)

    def close(self) -> None:
        self.signals.close()
        if self.identity is not None:
            self.identity.close()


def driving_series(scorers: Scorers, frames: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """{signal: (T,) series} of driving frames (NaN where no face)."""
    landmarks = _RepeatAware(scorers.signals.landmarks)
    return signal_series([landmarks(frame) for frame in frames])


def score_frames(
    scorers: Scorers, reference: np.ndarray, driving: dict[str, np.ndarray], outputs: Sequence[np.ndarray],
) -> dict[str, Any]:
    """Follow, identity and sharpness of output frames.

    Args:
        reference: (S, S, 3) uint8 portrait face crop the outputs should look like.
        driving: the driving frames' signals (:func:`driving_series`), one value per output.
        outputs: (S, S, 3) uint8 output frames.

    Returns:
        {"identity", "sharpness", "follow": {signal: float | None}, "missing_faces"}; identity
        is None without an identity encoder.
    """
    landmarks = _RepeatAware(scorers.signals.landmarks)
    output_points = [landmarks(frame) for frame in outputs]
    identity = None
    if scorers.identity is not None:
        reference_descriptor = scorers.identity.descriptor(reference)
        describe = _RepeatAware(scorers.identity.descriptor)
        distances = [np.linalg.norm(describe(frame) - reference_descriptor) for frame in outputs[::IDENTITY_EVERY]]
        identity = float(np.mean(distances))
    return {
        "identity": identity,
        "sharpness": sharpness(outputs, reference),
        "follow": follow_scores(driving, signal_series(output_points)),
        "missing_faces": sum(points is None for points in output_points) / len(outputs),
    }


# --------------------------------------------------------------------------- animation


@dataclass
class AnimatedPair:
    """One pair through the engine: the portrait's crop (S, S, 3), the output frames (S, S, 3)
    and the driving face crops (SIGNAL_CROP px) the engine used, all uint8 RGB."""

    crop: np.ndarray
    outputs: list[np.ndarray]
    driving: list[np.ndarray]
    fps: float


def animate_pair(model: Any, backend: str, portrait: np.ndarray, video: Path, frames: int) -> AnimatedPair:
    """Animate ``portrait`` with the first ``frames`` frames of ``video`` as ``monkeycam animate``
    does (a fresh engine, default settings, relative motion), output at the model's frame size."""
    from monkeycam.engine import create_engine
    from monkeycam.face import crop_square
    from monkeycam.face.crop import CropBox
    from monkeycam.io import iter_video, probe_video
    from monkeycam.live import EngineSettings

    fps = probe_video(video).fps or 25.0
    settings = EngineSettings(backend=backend, output_size=model.config.image_size)
    engine = create_engine(settings, model=model, face_detection=True, on_status=lambda message: None)
    try:
        info = engine.set_source(portrait)
        outputs, driving = [], []
        for index, frame in enumerate(iter_video(video, frames)):
            result = engine.process(frame, timestamp=index / fps)
            outputs.append(result.image)
            driving.append(crop_square(frame, CropBox(*result.driving_box), SIGNAL_CROP))
    finally:
        engine.close()
    return AnimatedPair(info.crop, outputs, driving, fps)


# --------------------------------------------------------------------------- summary


def summarise(rows: list[dict[str, Any]], pairs: int, frames: int) -> dict[str, Any]:
    """The report block of one output kind (model or baseline) over its per-pair rows."""
    follow: dict[str, float | None] = {}
    for name in SIGNALS:
        values = [row["follow"][name] for row in rows if row["follow"][name] is not None]
        follow[name] = float(np.mean(values)) if values else None
    present = [value for value in follow.values() if value is not None]
    identities = [row["identity"] for row in rows if row["identity"] is not None]
    return {
        "pairs": pairs,
        "frames": frames,
        "identity": float(np.mean(identities)) if identities else None,
        "sharpness": float(np.mean([row["sharpness"] for row in rows])),
        "follow": follow,
        "follow_mean": float(np.mean(present)) if present else None,
        "follow_pairs": {name: sum(row["follow"][name] is not None for row in rows) for name in SIGNALS},
        "missing_faces": float(np.mean([row["missing_faces"] for row in rows])),
        "per_pair": rows,
    }


# --------------------------------------------------------------------------- the whole evaluation


def evaluate_cross(
    checkpoint: str | os.PathLike | Any,
    portraits: str | os.PathLike | Sequence[str | os.PathLike],
    driving: str | os.PathLike | Sequence[str | os.PathLike],
    pairs: int = 12,
    frames: int = 90,
    seed: int = 0,
    json_path: str | os.PathLike | None = None,
    grid_path: str | os.PathLike | None = None,
    backend: str = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Cross-identity evaluation of a model (see the module docstring for the measures).

    Args:
        checkpoint: a monkeycam checkpoint file, or a MonkeyNet in memory (float32, CPU).
        portraits: a folder of portrait images, an image file, or a list of either.
        driving: a folder of videos, a video file, or a list of either.
        pairs: number of (portrait, video) pairs, chosen with ``seed``.
        frames: first frames of each video used (at least 2).
        json_path: write the report there (atomically, only when everything succeeded).
        grid_path: write a grid image there: per pair, the portrait's crop, driving crops and
            outputs at :data:`GRID_TIMES` moments.
        backend: engine backend ("auto", "cpu", "cuda", ...).

    Returns:
        {"cross": {...}, "cross_baseline": {...}, "checkpoint", "image_size", ...}; each block has
        pairs, frames, identity, sharpness, follow {eye, mouth, yaw, pitch, roll}, follow_mean,
        per_pair.

    Raises:
        CrossEvalError: bad input (no portraits, no videos, a face missing...).
        IdentityUnavailable: dlib or its weights are missing.
    """
    started = time.perf_counter()
    if frames < 2:
        raise CrossEvalError(f"--frames must be at least 2, got {frames}")
    _check_output(json_path, (".json",), "--json")
    _check_output(grid_path, (".png", ".jpg", ".jpeg"), "--grid")
    portrait_files = find_portraits(_as_list(portraits))
    video_files = find_driving(_as_list(driving))
    chosen = choose_pairs(len(portrait_files), len(video_files), pairs, seed)
    scorers = Scorers.load()
    try:
        model, name = load_model(checkpoint, "cpu")
        images = _read_portraits(portrait_files, {p for p, _ in chosen}, scorers)
        _check_videos(video_files, {v for _, v in chosen}, scorers)
        results = _run_pairs(model, backend, chosen, images, portrait_files, video_files, frames, scorers, progress)
    finally:
        scorers.close()
    report = {
        "cross": summarise([row for row, _, _ in results], len(chosen), frames),
        "cross_baseline": summarise([baseline for _, baseline, _ in results], len(chosen), frames),
        "checkpoint": name,
        "image_size": model.config.image_size,
        "seed": seed,
        "floors": FLOORS,
        "identity_every": IDENTITY_EVERY,
        "portraits": [str(path) for path in portrait_files],
        "driving": [str(path) for path in video_files],
        "portraits_unused": [str(p) for i, p in enumerate(portrait_files) if i not in {a for a, _ in chosen}],
        "driving_unused": [str(v) for i, v in enumerate(video_files) if i not in {b for _, b in chosen}],
        "seconds": round(time.perf_counter() - started, 1),
    }
    if grid_path:
        from monkeycam.io import write_image

        write_image(grid_path, cross_grid([grid for _, _, grid in results]))
    if json_path:
        with atomic_path(Path(json_path)) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _as_list(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str | os.PathLike]:
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def _check_output(path: str | os.PathLike | None, suffixes: tuple[str, ...], option: str) -> None:
    if path is None:
        return
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise CrossEvalError(f"{option} {path} must end in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise CrossEvalError(f"{option}: the folder {path.parent} does not exist")


def _read_portraits(files: list[Path], used: set[int], scorers: Scorers) -> dict[int, np.ndarray]:
    """The used portraits as (H, W, 3) uint8 RGB; CrossEvalError when one shows no face."""
    from monkeycam.io import read_image

    images = {}
    for index in sorted(used):
        image = read_image(files[index])
        if scorers.signals(image) is None:
            raise CrossEvalError(f"no face found in the portrait {files[index]}")
        images[index] = image
    return images


def _check_videos(files: list[Path], used: set[int], scorers: Scorers) -> None:
    """CrossEvalError when a used video cannot be read or its first frame (the anchor of the
    relative motion) shows no face."""
    from monkeycam.io import iter_video

    for index in sorted(used):
        first = next(iter(iter_video(files[index], 1)), None)
        if first is None:
            raise CrossEvalError(f"the driving video {files[index]} has no frames")
        if scorers.signals(first) is None:
            raise CrossEvalError(f"no face found in the first frame of the driving video {files[index]}")


def _run_pairs(
    model: Any, backend: str, chosen: list[tuple[int, int]], images: dict[int, np.ndarray], portrait_files: list[Path],
    video_files: list[Path], frames: int, scorers: Scorers, progress: bool,
) -> list[tuple[dict[str, Any], dict[str, Any], np.ndarray]]:
    """(model row, baseline row, grid row) per pair."""
    results = []
    with tqdm(total=len(chosen) * frames, desc="cross-identity", unit="frame", disable=not progress) as bar:
        for portrait_index, video_index in chosen:
            video = video_files[video_index]
            bar.set_postfix_str(f"{portrait_files[portrait_index].name} x {video.name}"[-40:])
            animated = animate_pair(model, backend, images[portrait_index], video, frames)
            if len(animated.outputs) < 2:
                raise CrossEvalError(f"{video} has fewer than 2 frames")
            drive = driving_series(scorers, animated.driving)
            names = {"portrait": portrait_files[portrait_index].name, "driving": video.name,
                     "frames": len(animated.outputs)}
            row = {**names, **score_frames(scorers, animated.crop, drive, animated.outputs)}
            still = [animated.crop] * len(animated.outputs)
            baseline = {**names, **score_frames(scorers, animated.crop, drive, still)}
            results.append((row, baseline, grid_row(animated)))
            bar.update(frames)
    return results


# --------------------------------------------------------------------------- grid and table


def grid_row(pair: AnimatedPair, cell: int = GRID_CELL, times: int = GRID_TIMES) -> np.ndarray:
    """One grid row: portrait crop | driving crops | outputs at ``times`` evenly spaced frames."""
    picks = np.linspace(0, len(pair.outputs) - 1, times).round().astype(int)
    cells = [_fit(pair.crop, cell), _gap(cell)]
    cells += [_fit(pair.driving[i], cell) for i in picks] + [_gap(cell)]
    cells += [_fit(pair.outputs[i], cell) for i in picks]
    return np.concatenate(cells, axis=1)


def cross_grid(rows: list[np.ndarray], cell: int = GRID_CELL, times: int = GRID_TIMES) -> np.ndarray:
    """The grid image: a label row, then one row per pair (see :func:`grid_row`)."""
    header = np.full((24, rows[0].shape[1], 3), 255, np.uint8)
    gap = cell // 8
    for text, x in (("portrait", 4), ("driving", cell + gap + 4), ("output", cell + 2 * gap + times * cell + 4)):
        cv2.putText(header, text, (x, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, *rows], axis=0)


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)


def _gap(cell: int) -> np.ndarray:
    return np.full((cell, cell // 8, 3), 255, np.uint8)


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def format_cross_table(report: dict[str, Any]) -> str:
    """Per-pair rows, then the model and no-motion rows (text table)."""
    columns = ["identity", "sharp", *SIGNALS, "follow"]
    header = f"{'portrait x driving':44s} " + " ".join(f"{c:>8s}" for c in columns)
    lines = [header, "-" * len(header)]
    for row in report["cross"]["per_pair"]:
        follow = [row["follow"][name] for name in SIGNALS]
        present = [value for value in follow if value is not None]
        mean = float(np.mean(present)) if present else None
        values = [row["identity"], row["sharpness"], *follow, mean]
        lines.append(f"{(row['portrait'] + ' x ' + row['driving'])[:44]:44s} " + " ".join(f"{_cell(v):>8s}" for v in values))
    lines.append("-" * len(header))
    for label, key in (("model", "cross"), ("no motion (baseline)", "cross_baseline")):
        block = report[key]
        values = [block["identity"], block["sharpness"], *(block["follow"][n] for n in SIGNALS), block["follow_mean"]]
        lines.append(f"{label:44s} " + " ".join(f"{_cell(v):>8s}" for v in values))
    counts = ", ".join(f"{name} {count}" for name, count in report["cross"]["follow_pairs"].items())
    lines.append(f"pairs with a follow value per signal (the driver moves it): {counts}")
    return "\n".join(lines)
