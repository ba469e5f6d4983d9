"""Face-mesh landmarks of training frames, for landmark-guided keypoints (beyond the paper).

Monkey-Net's keypoints are learned without labels. On faces, a short training run rarely
puts them on the eyelids and lips, so blinks and mouth opening never reach the animated
portrait. ``train.landmark_weight`` > 0 pulls the first keypoints towards chosen mediapipe
face-mesh points (``train.landmarks``) during training. At inference nothing changes: the
keypoints still come from the learned detector alone.

Landmarks are found once per frame (mediapipe face mesh on the training frame) and cached
next to the decoded frames. A frame without a face gets NaN, and the loss skips it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from monkeycam.io.atomic import atomic_path

from .config import ConfigError

CACHE_VERSION = 1

# Mirror partners of face-mesh points (the point a horizontal flip of the face turns it into).
# Points on the face's middle line are their own partners.
MIRROR_PARTNERS: dict[int, int] = {
    159: 386, 145: 374, 33: 263, 133: 362, 160: 387, 144: 373, 158: 385, 153: 380,
    78: 308, 61: 291, 82: 312, 87: 317, 234: 454, 70: 300, 105: 334, 107: 336,
    13: 13, 14: 14, 0: 0, 17: 17, 1: 1, 4: 4, 152: 152, 10: 10, 168: 168, 6: 6,
}
MIRROR_PARTNERS.update({b: a for a, b in list(MIRROR_PARTNERS.items())})

# The points monkeycam's face models are guided to: eyelids, lips, nose tip, chin.
FACE_GUIDE_POINTS: tuple[int, ...] = (159, 145, 386, 374, 13, 14, 78, 308, 1, 152)


def mirror_permutation(points: Sequence[int]) -> list[int]:
    """For each position in ``points``, the position of its mirror partner (for flips).

    Raises ValueError for a point whose partner is unknown or not in ``points``.
    """
    index = {point: i for i, point in enumerate(points)}
    permutation = []
    for point in points:
        partner = MIRROR_PARTNERS.get(point)
        if partner is None or partner not in index:
            raise ConfigError(
                f"face-mesh point {point}: its mirror partner is {'unknown' if partner is None else f'{partner}, not guided'}; "
                "horizontal flips need both points of a pair (or turn horizontal_flip off)"
            )
        permutation.append(index[partner])
    return permutation


def normalised_points(landmarks: np.ndarray | None, points: Sequence[int], size: int) -> np.ndarray:
    """(L, 2) chosen points in [-1, 1] coordinates of a ``size`` px frame (pixel centres at
    -1 and 1, as in grid_sample with align_corners=True), or NaN when ``landmarks`` is None."""
    if landmarks is None:
        return np.full((len(points), 2), np.nan, dtype=np.float32)
    chosen = landmarks[list(points)]
    # mediapipe gives x * width in continuous pixel units; the centre of pixel i is at i + 0.5
    return ((chosen - 0.5) / (size - 1) * 2 - 1).astype(np.float32)


def find_landmarks(frames: np.ndarray, points: Sequence[int], progress: tqdm | None = None) -> np.ndarray:
    """(T, L, 2) chosen face-mesh points of (T, S, S, 3) uint8 frames in [-1, 1] (NaN: no face)."""
    from monkeycam.face import FaceMesh

    size = frames.shape[1]
    out = np.empty((len(frames), len(points), 2), dtype=np.float32)
    with FaceMesh(static=True) as mesh:
        for i, frame in enumerate(frames):
            out[i] = normalised_points(mesh.landmarks(frame), points, size)
            if progress is not None:
                progress.update(1)
    return out


def _cache_file(cache_dir: Path, frames: np.ndarray, points: Sequence[int]) -> Path:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([CACHE_VERSION, list(points), list(frames.shape)]).encode())
    step = max(1, len(frames) // 16)  # a content fingerprint without hashing every byte
    digest.update(np.ascontiguousarray(frames[::step]).tobytes())
    return cache_dir / f"landmarks-{digest.hexdigest()}.npy"


def clip_landmarks(
    clips: Sequence[np.ndarray], points: Sequence[int], cache_dir: Path, progress: bool = True
) -> list[np.ndarray]:
    """Landmarks of every frame of every clip, (T, L, 2) each; cached in ``cache_dir``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    results: list[np.ndarray | None] = []
    missing = []
    for i, frames in enumerate(clips):
        path = _cache_file(cache_dir, frames, points)
        cached = _read(path, len(frames), len(points))
        results.append(cached)
        if cached is None:
            missing.append((i, path))
    total = sum(len(clips[i]) for i, _ in missing)
    with tqdm(total=total, desc="face landmarks", unit="frame", disable=not progress or not total) as bar:
        for i, path in missing:
            found = find_landmarks(clips[i], points, bar)
            with atomic_path(path) as tmp, open(tmp, "wb") as handle:
                np.save(handle, found, allow_pickle=False)
            results[i] = found
    return [r for r in results if r is not None]


def _read(path: Path, frames: int, points: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:  # mapped first: a header claiming a huge array costs nothing until its shape is checked
        data = np.load(path, mmap_mode="r", allow_pickle=False)
        return np.array(data) if data.shape == (frames, points, 2) and data.dtype == np.float32 else None
    except (OSError, ValueError, EOFError):
        return None
