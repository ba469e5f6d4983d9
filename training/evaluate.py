"""Video reconstruction evaluation (paper Sec. 4): L1, AKD and the missing-landmark rate.

Each test video is reconstructed from its first frame: source = frame 0, driving = every
frame, and the generator renders the source with the driving frame's keypoints used as they
are (absolute transfer, the paper's reconstruction task). The same metrics are computed for the
"no motion" baseline, which shows the source frame for every frame.

- **L1**: mean absolute difference of real and generated pixels, RGB in [0, 1], averaged over
  all frames of all videos (every frame counts once).
- **AKD** (average keypoint distance, faces only): mean distance, in pixels at the evaluation
  resolution, between the 468 mediapipe face-mesh landmarks of the real and of the generated
  frame, over frames where both have landmarks. Face mesh is unreliable on small images, so
  both frames are upscaled (bicubic) to at least :data:`LANDMARK_SIZE` px before it runs and the
  distances are divided by the same factor.
- **MKR** (missing-landmark rate, faces only, the paper's MKR idea): fraction of the frames with
  landmarks in the real frame that have none in the generated frame.
- **Bodies** (models of category "body", or ``bodies=True``): AKD and MKR use the 33 landmarks
  of mediapipe's pose solution instead (:mod:`training.body_pose`; frames get a margin and are
  upscaled to 256 px first). AKD is the mean distance over the landmarks visible in both frames;
  MKR counts landmarks (not frames): the fraction of those visible in the real frame that are not
  visible in the generated one (a frame without a person: all of them). No AED for bodies.
- **AED** (average euclidean distance of identity embeddings, faces only, the paper's AED with
  dlib's 128-D face descriptor, :mod:`training.identity`): mean descriptor distance between the
  real and the generated frame, over every :data:`AED_EVERY`-th frame with landmarks in the real
  frame. Needs the ``eval`` extra (dlib); without it AED is None and the report says why.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from monkeycam.io.atomic import atomic_path
from monkeycam.model import Keypoints, MonkeyNet, absolute_keypoints
from monkeycam.torch_runtime import configure_cpu, resolve_device

from .body_pose import POSE_SIZE, BodyPoseFinder
from .data import VideoClip, load_videos
from .identity import IdentityEncoder, IdentityUnavailable
from .visualise import draw_keypoints, to_uint8

log = logging.getLogger(__name__)

LANDMARK_SIZE = 256
METRICS = ("l1", "akd", "mkr", "aed")
AED_EVERY = 10


# --------------------------------------------------------------------------- metric accumulation


@dataclass
class MetricSums:
    """Running sums of one row of metrics (a video, or all videos; model or baseline)."""

    frames: int = 0
    abs_error: float = 0.0  # sum over frames of the frame's mean absolute error
    akd_sum: float = 0.0
    akd_frames: int = 0
    real_with_landmarks: int = 0
    missing_in_generated: int = 0
    aed_sum: float = 0.0
    aed_frames: int = 0

    def add(self, other: MetricSums) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_row(self, faces: bool, bodies: bool = False) -> dict[str, float | None]:
        """{"l1", "akd", "mkr", "aed"}; AKD and MKR are None without face or body landmarks, AED
        without faces (or dlib)."""
        points = faces or bodies
        l1 = self.abs_error / self.frames if self.frames else None
        akd = self.akd_sum / self.akd_frames if points and self.akd_frames else None
        mkr = self.missing_in_generated / self.real_with_landmarks if points and self.real_with_landmarks else None
        aed = self.aed_sum / self.aed_frames if faces and self.aed_frames else None
        return {"l1": l1, "akd": akd, "mkr": mkr, "aed": aed}


def l1_per_frame(real: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """Mean absolute error per frame. real, generated: (T, H, W, 3), uint8 or float in [0, 1]."""
    return np.abs(_unit(real) - _unit(generated)).mean(axis=(1, 2, 3))


def _unit(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float32) / 255.0 if frames.dtype == np.uint8 else frames.astype(np.float32)


class LandmarkFinder:
    """mediapipe face mesh on frames upscaled to >= ``min_size`` px; landmarks in input pixels."""

    def __init__(self, min_size: int = LANDMARK_SIZE) -> None:
        from monkeycam.face import FaceMesh

        self.min_size = min_size
        self._mesh = FaceMesh(static=True)

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """(468, 2) landmarks of an (H, W, 3) uint8 frame in its own pixels, or None."""
        factor = self.upscale(frame.shape[0])
        if factor > 1:
            size = (round(frame.shape[1] * factor), round(frame.shape[0] * factor))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)
        points = self._mesh.landmarks(frame)
        return None if points is None else points / factor

    def upscale(self, height: int) -> float:
        """The factor applied before face mesh (1 when the frame is already large enough)."""
        return max(1.0, self.min_size / height)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> LandmarkFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def landmark_sums(real: list[np.ndarray | None], generated: list[np.ndarray | None]) -> MetricSums:
    """AKD and MKR counts of aligned lists of landmarks ((468, 2) arrays or None)."""
    sums = MetricSums()
    for points_real, points_generated in zip(real, generated):
        if points_real is None:
            continue
        sums.real_with_landmarks += 1
        if points_generated is None:
            sums.missing_in_generated += 1
            continue
        sums.akd_sum += float(np.linalg.norm(points_real - points_generated, axis=1).mean())
        sums.akd_frames += 1
    return sums


def body_sums(real: list[np.ndarray | None], generated: list[np.ndarray | None]) -> MetricSums:
    """AKD and MKR counts of aligned lists of body landmarks ((33, 2) arrays, NaN rows for the
    landmarks not visible, or None: no person). MKR counts landmarks, AKD averages per frame."""
    sums = MetricSums()
    for points_real, points_generated in zip(real, generated):
        if points_real is None:
            continue
        seen = np.isfinite(points_real[:, 0])
        seen_generated = np.isfinite(points_generated[:, 0]) if points_generated is not None else np.zeros_like(seen)
        sums.real_with_landmarks += int(seen.sum())
        sums.missing_in_generated += int((seen & ~seen_generated).sum())
        both = seen & seen_generated
        if both.any():
            sums.akd_sum += float(np.linalg.norm(points_real[both] - points_generated[both], axis=1).mean())
            sums.akd_frames += 1
    return sums


# --------------------------------------------------------------------------- reconstruction


@dataclass
class Reconstructed:
    """A reconstructed video: generated (T, H, W, 3) float32 in [0, 1], keypoints (T, K, 2) in [-1, 1]."""

    generated: np.ndarray
    keypoints: np.ndarray


def to_tensor(frames: np.ndarray, device: torch.device | str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, H, W) in [0, 1] on ``device`` with ``dtype``."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2)
    return tensor.to(dtype).div_(255.0)


def _expand_features(features: Any, batch: int) -> Any:
    """Repeat the batch-1 tensors of cached source features (views, no copy) to ``batch``."""
    if isinstance(features, torch.Tensor):
        return features.expand(batch, *features.shape[1:])
    if isinstance(features, tuple) and hasattr(features, "_fields"):
        return type(features)(*(_expand_features(value, batch) for value in features))
    if isinstance(features, list):
        return [_expand_features(value, batch) for value in features]
    return features


@torch.inference_mode()
def reconstruct(
    model: MonkeyNet, frames: np.ndarray, batch_size: int = 16, device: torch.device | str = "cpu",
    progress: Any = None,
) -> Reconstructed:
    """Reconstruct every frame of a video from its first frame (absolute keypoints).

    Args:
        frames: (T, H, W, 3) uint8 RGB at the model's image size.
        progress: a tqdm bar to advance by the number of frames done (optional).
    """
    dtype = next(model.parameters()).dtype
    source = to_tensor(frames[:1], device, dtype)
    features = model.prepare_source(source)
    outputs, keypoints = [], []
    for start in range(0, len(frames), batch_size):
        driving = to_tensor(frames[start : start + batch_size], device, dtype)
        kp_driving: Keypoints = model.kp_detector(driving)
        generated = model.animate(_expand_features(features, len(driving)), absolute_keypoints(kp_driving))
        outputs.append(generated.prediction.float().permute(0, 2, 3, 1).cpu().numpy())
        keypoints.append(kp_driving.mean.float().cpu().numpy())
        if progress is not None:
            progress.update(len(driving))
    return Reconstructed(np.concatenate(outputs), np.concatenate(keypoints))


# --------------------------------------------------------------------------- one video


@dataclass
class VideoResult:
    name: str
    frames: int
    model: MetricSums
    baseline: MetricSums

    def as_row(self, faces: bool, bodies: bool = False) -> dict[str, Any]:
        return {"name": self.name, "frames": self.frames, **self.model.as_row(faces, bodies),
                "baseline": self.baseline.as_row(faces, bodies)}


def aed_sums(real: list[np.ndarray], generated: list[np.ndarray]) -> MetricSums:
    """AED counts of aligned lists of (128,) identity descriptors (real and generated frames)."""
    sums = MetricSums(aed_frames=len(real))
    sums.aed_sum = float(sum(np.linalg.norm(a - b) for a, b in zip(real, generated, strict=True)))
    return sums


def _identity_sums(
    identity: IdentityEncoder, real: np.ndarray, generated: np.ndarray, real_points: list[np.ndarray | None],
) -> tuple[MetricSums, MetricSums]:
    """AED of the model and of the no-motion baseline (frame 0 shown throughout) over every
    AED_EVERY-th frame with landmarks in the real frame. real, generated: (T, H, W, 3) uint8."""
    picks = [index for index in range(0, len(real), AED_EVERY) if real_points[index] is not None]
    real_descriptors = [identity.descriptor(real[index]) for index in picks]
    generated_descriptors = [identity.descriptor(generated[index]) for index in picks]
    source = identity.descriptor(real[0])
    return aed_sums(real_descriptors, generated_descriptors), aed_sums(real_descriptors, [source] * len(picks))


def evaluate_clip(
    model: MonkeyNet, clip: VideoClip, landmarks: LandmarkFinder | BodyPoseFinder | None, batch_size: int,
    device: str, progress: Any = None, identity: IdentityEncoder | None = None,
) -> tuple[VideoResult, Reconstructed]:
    """Metrics of the model and of the no-motion baseline on one video (AED with ``identity``;
    body AKD/MKR when ``landmarks`` is a :class:`BodyPoseFinder`)."""
    real = clip.frames
    result = reconstruct(model, real, batch_size, device, progress)
    model_sums = MetricSums(frames=len(real), abs_error=float(l1_per_frame(real, result.generated).sum()))
    still = np.broadcast_to(real[:1], real.shape)
    baseline_sums = MetricSums(frames=len(real), abs_error=float(l1_per_frame(real, still).sum()))
    if landmarks is not None:
        real_points = [landmarks(frame) for frame in real]
        generated_points = [landmarks(frame) for frame in to_uint8(result.generated)]
        sums = body_sums if isinstance(landmarks, BodyPoseFinder) else landmark_sums
        model_sums.add(sums(real_points, generated_points))
        baseline_sums.add(sums(real_points, [real_points[0]] * len(real)))
        if identity is not None and not isinstance(landmarks, BodyPoseFinder):
            model_aed, baseline_aed = _identity_sums(identity, real, to_uint8(result.generated), real_points)
            model_sums.add(model_aed)
            baseline_sums.add(baseline_aed)
    return VideoResult(clip.name, len(real), model_sums, baseline_sums), result


def looks_like_faces(clips: list[VideoClip], landmarks: LandmarkFinder) -> bool:
    """True when face mesh finds a face in the first frame of at least half of the videos."""
    found = sum(landmarks(clip.frames[0]) is not None for clip in clips)
    return found * 2 >= len(clips)


# --------------------------------------------------------------------------- side-by-side videos


def side_by_side(real: np.ndarray, generated: np.ndarray, keypoints: np.ndarray, panel: int) -> Iterator[np.ndarray]:
    """Frames of driving | generated | generated with keypoints, each panel ``panel`` px wide."""
    for frame_real, frame_generated, points in zip(real, to_uint8(generated), keypoints):
        big_real = _enlarge(frame_real, panel)
        big_generated = _enlarge(frame_generated, panel)
        yield np.concatenate([big_real, big_generated, draw_keypoints(big_generated, points)], axis=1)


def _enlarge(frame: np.ndarray, size: int) -> np.ndarray:
    if frame.shape[0] == size:
        return frame
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_CUBIC)


def save_side_by_side(folder: Path, name: str, real: np.ndarray, result: Reconstructed, fps: float = 25.0) -> Path:
    """Write folder/NAME.mp4: driving | generated | keypoints on the generated frame."""
    from monkeycam.io import VideoWriter

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{Path(name).stem}.mp4"
    panel = max(LANDMARK_SIZE, real.shape[1])
    with VideoWriter(path, fps) as writer:
        for frame in side_by_side(real, result.generated, result.keypoints, panel):
            writer.write(frame)
    return path


# --------------------------------------------------------------------------- the whole evaluation


def load_model(checkpoint: str | os.PathLike | MonkeyNet, device: str) -> tuple[MonkeyNet, str]:
    """The model and a name for the report; a model in memory stays on its own device."""
    if isinstance(checkpoint, MonkeyNet):
        return checkpoint, checkpoint.config.name
    from monkeycam.checkpoint import load_checkpoint

    model, _ = load_checkpoint(checkpoint, device=device)
    return model, Path(checkpoint).name


def evaluate_checkpoint(
    checkpoint: str | os.PathLike | MonkeyNet,
    data: str | os.PathLike,
    json_path: str | os.PathLike | None = None,
    save_video: str | os.PathLike | None = None,
    max_frames: int | None = None,
    device: str = "cpu",
    faces: bool | None = None,
    batch_size: int = 16,
    split: str = "test",
    cache_dir: Path | None = None,
    progress: bool = True,
    identity: bool | None = None,
    bodies: bool | None = None,
) -> dict[str, Any]:
    """Video reconstruction on the test videos of ``data``; returns the report (see module docstring).

    Args:
        checkpoint: a monkeycam checkpoint file, or a model in memory (the trainer's).
        data: dataset folder; its test/ sub-folder, or the seeded test split of a flat folder.
        json_path: also write the report there (atomically).
        save_video: write driving | generated | keypoints videos into this folder.
        max_frames: use only the first frames of each video.
        device: "cpu" or "cuda" (a model in memory runs where it is).
        faces: compute AKD and MKR (True), skip them (False), or decide by running face mesh
            on the first frame of each video (None).
        batch_size: driving frames per forward pass.
        split: "test" (default), "train" or "all".
        identity: compute AED (with faces): True requires dlib, False skips it, None computes
            it when dlib and its weights are installed (``aed_note`` says why not otherwise).
        bodies: AKD and MKR with body landmarks (mediapipe pose) instead of face ones: None
            decides by the model's category ("body"); True turns face landmarks off.

    Returns:
        {"l1", "akd", "mkr", "aed", "baseline": {...}, "videos": [...], "checkpoint", "image_size",
        "frames", ...}; AKD, MKR and AED are None when not computed.
    """
    started = time.perf_counter()
    device = resolve_device(device)
    configure_cpu()
    model, name = load_model(checkpoint, device)
    device = str(next(model.parameters()).device)
    size = model.config.image_size
    videos = load_videos(data, split, size, cache_dir=cache_dir, max_frames=max_frames, progress=progress)
    was_training = model.training
    use_bodies = model.config.category == "body" if bodies is None else bodies
    if use_bodies:
        faces = False
    landmarks = BodyPoseFinder() if use_bodies else LandmarkFinder() if faces is not False else None
    encoder, aed_note = None, None
    try:
        model.eval()
        use_faces = looks_like_faces(videos.clips, landmarks) if faces is None else faces
        log.info(f"face landmarks (AKD, MKR, AED): {'on' if use_faces else 'off'}; "
                 f"body landmarks (AKD, MKR): {'on' if use_bodies else 'off'}")
        if use_faces and identity is not False:
            encoder, aed_note = _identity_encoder(required=identity is True)
        results = _evaluate_all(model, videos.clips, landmarks if use_faces or use_bodies else None, batch_size,
                                device, Path(save_video) if save_video else None, progress, encoder)
    finally:
        model.train(was_training)
        for closable in (landmarks, encoder):
            if closable is not None:
                closable.close()
    report = build_report(results, use_faces, name, size, data, split, device, use_bodies)
    report["category"] = model.config.category
    report["aed_note"] = aed_note if not use_bodies else "AED not computed: a face measure (bodies)"
    report["skipped"] = [{"source": str(path), "reason": reason} for path, reason in videos.skipped]
    report["seconds"] = round(time.perf_counter() - started, 1)
    if json_path:
        write_json(Path(json_path), report)
    return report


def _identity_encoder(required: bool) -> tuple[IdentityEncoder | None, str | None]:
    """(encoder, None), or (None, why AED is not computed) when dlib is missing and not required."""
    try:
        return IdentityEncoder(), None
    except IdentityUnavailable as error:
        if required:
            raise
        return None, f"AED not computed: {error}"


def _evaluate_all(
    model: MonkeyNet, clips: list[VideoClip], landmarks: LandmarkFinder | BodyPoseFinder | None, batch_size: int,
    device: str,
    save_video: Path | None, progress: bool, identity: IdentityEncoder | None = None,
) -> list[VideoResult]:
    results = []
    total = sum(len(clip) for clip in clips)
    with tqdm(total=total, desc="evaluating", unit="frame", disable=not progress) as bar:
        for clip in clips:
            bar.set_postfix_str(clip.name[-30:])
            result, reconstruction = evaluate_clip(model, clip, landmarks, batch_size, device, bar, identity)
            results.append(result)
            if save_video is not None:
                save_side_by_side(save_video, clip.name, clip.frames, reconstruction)
    return results


def build_report(
    results: list[VideoResult], faces: bool, checkpoint: str, image_size: int, data: str | os.PathLike,
    split: str, device: str, bodies: bool = False,
) -> dict[str, Any]:
    """The JSON-ready report: overall rows (every frame counts once), baseline, per-video rows."""
    model_total, baseline_total = MetricSums(), MetricSums()
    for result in results:
        model_total.add(result.model)
        baseline_total.add(result.baseline)
    return {
        **model_total.as_row(faces, bodies),
        "baseline": baseline_total.as_row(faces, bodies),
        "videos": [result.as_row(faces, bodies) for result in results],
        "checkpoint": checkpoint,
        "image_size": image_size,
        "frames": model_total.frames,
        "num_videos": len(results),
        "data": str(data),
        "split": split,
        "faces": faces,
        "bodies": bodies,
        "keypoints": "mediapipe face mesh (468)" if faces else "mediapipe pose, model_complexity 1 (33)" if bodies else None,
        "landmark_upscale_to": LANDMARK_SIZE if faces else POSE_SIZE if bodies else None,
        "device": device,
    }


def write_json(path: Path, report: dict[str, Any]) -> Path:
    """Write the report as JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return path


# --------------------------------------------------------------------------- the table


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def format_table(report: dict[str, Any]) -> str:
    """Per-video rows, then the model and no-motion rows over all videos (text table)."""
    names = f"{'L1':>7s} {'AKD px':>7s} {'MKR':>6s} {'AED':>6s}"
    header = f"{'video':32s} {'frames':>6s} {names} | {names}"
    lines = [f"{'':40s}{'model':^30s} | {'no motion (baseline)':^29s}", header, "-" * len(header)]
    for row in report["videos"]:
        lines.append(f"{row['name'][:32]:32s} {row['frames']:6d} {_metrics(row)} | {_metrics(row['baseline'])}")
    lines.append("-" * len(header))
    lines.append(f"{'all videos':32s} {report['frames']:6d} {_metrics(report)} | {_metrics(report['baseline'])}")
    lines.append("")
    lines.append(f"{'':12s} {names}")
    lines.append(f"{'model':12s} {_metrics(report)}")
    lines.append(f"{'no motion':12s} {_metrics(report['baseline'])}")
    return "\n".join(lines)


def _metrics(row: dict[str, Any]) -> str:
    return f"{_cell(row['l1'], 4):>7s} {_cell(row['akd'], 2):>7s} {_cell(row['mkr'], 3):>6s} {_cell(row.get('aed'), 3):>6s}"
