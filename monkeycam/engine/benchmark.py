"""Benchmark of the engine per backend: network time, end-to-end frame time by stage, and the
same with the source cache disabled. Medians after a warm-up; CUDA is synchronised around
every timed step. Used by ``monkeycam bench``; figures are recorded in docs/performance.md.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..live.api import EngineError, EngineSettings, StageTimings
from ..model import MonkeyNet
from .engine import Engine, create_engine

ROUNDS = 5  # measurements alternate in this many rounds


@dataclass
class BackendResult:
    """Figures for one backend (milliseconds are medians per frame; fps = 1000 / ms).

    network_*: the keypoint detector and generator alone (device-synchronised), i.e.
    "model time". frame_*: :meth:`Engine.process` end to end by stage (crop includes face
    detection). outside_share: the part of the end-to-end frame time spent outside the
    networks (face detection, crop, colour conversion, copies, smoothing, resize/paste).
    uncached_*: the same frames recomputing the source features every frame.
    """

    backend: str
    available: bool
    description: str = ""
    reason: str = ""
    build_s: float = 0.0
    network_keypoints_ms: float = 0.0
    network_generator_ms: float = 0.0
    network_ms: float = 0.0
    network_fps: float = 0.0
    frame: dict = field(default_factory=dict)
    frame_fps: float = 0.0
    outside_share: float = 0.0
    uncached_frame_ms: float = 0.0
    uncached_fps: float = 0.0
    cache_speedup: float = 0.0
    source_prepare_ms: float = 0.0
    source_switch_back_ms: float = 0.0


def _median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000.0 if samples else 0.0


def _timed(step: Callable[[], object], synchronize: Callable[[], None]) -> float:
    synchronize()
    start = time.perf_counter()
    step()
    synchronize()
    return time.perf_counter() - start


def measure_network(engine: Engine, frames: int) -> tuple[list[float], list[float]]:
    """Seconds per call of the keypoint detector and of the generator on the current source."""
    backend = engine.backend
    kp_device = backend.keypoints_to_device(engine.source_keypoints)
    features = engine.source_features
    keypoints, generator = [], []
    with torch.inference_mode():
        frame = backend.to_tensor(engine.source_crop)
        for _ in range(frames):
            keypoints.append(_timed(lambda: backend.keypoints(frame), backend.synchronize))
            generator.append(_timed(lambda: backend.generate(features, kp_device), backend.synchronize))
    return keypoints, generator


def measure_frames(engine: Engine, driving: Sequence[np.ndarray], frames: int, start: int = 0) -> list[StageTimings]:
    """Stage timings of ``frames`` calls of :meth:`Engine.process` on driving frames from ``start`` on."""
    timings = []
    for index in range(start, start + frames):
        timings.append(engine.process(driving[index % len(driving)], timestamp=index / 30.0).timings)
    return timings


def summarise(timings: Sequence[StageTimings]) -> dict:
    """Median milliseconds of every stage, and the mean total (face detection runs on some
    frames only, which a median hides)."""
    names = ("crop_ms", "keypoints_ms", "generator_ms", "paste_ms", "total_ms")
    summary = {name: statistics.median(getattr(t, name) for t in timings) for name in names}
    summary["mean_total_ms"] = statistics.fmean(t.total_ms for t in timings)
    return summary


def benchmark_backend(
    name: str,
    model: MonkeyNet,
    settings: EngineSettings,
    source: np.ndarray,
    other_source: np.ndarray,
    driving: Sequence[np.ndarray],
    frames: int,
    warmup: int,
    face_detection: bool,
) -> BackendResult:
    """All figures for backend ``name`` (built without fallback: a failure is reported)."""
    start = time.perf_counter()
    try:
        engine = create_engine(settings.updated(backend=name), model=model, face_detection=face_detection,
                               fallback=False)
    except EngineError as error:
        return BackendResult(name, False, reason=str(error))
    result = BackendResult(name, True, engine.backend.description, engine.backend_reason,
                           build_s=time.perf_counter() - start)
    try:
        _measure_sources(engine, source, other_source, result)
        _measure_interleaved(engine, driving, frames, warmup, result)
    finally:
        engine.close()
    return result


def _measure_interleaved(
    engine: Engine, driving: Sequence[np.ndarray], frames: int, warmup: int, result: BackendResult
) -> None:
    """Networks alone, frames with the source cache and frames without it, measured in
    alternating rounds so that a change in machine load affects all three alike."""
    measure_network(engine, warmup)
    measure_frames(engine, driving, warmup)
    keypoints, generator, cached, uncached = [], [], [], []
    per_round = max(1, -(-frames // ROUNDS))
    index = warmup
    for _ in range(ROUNDS):
        kp_times, generator_times = measure_network(engine, per_round)
        keypoints += kp_times
        generator += generator_times
        engine.reuse_source_features = True
        cached += measure_frames(engine, driving, per_round, index)
        engine.reuse_source_features = False
        uncached += measure_frames(engine, driving, per_round, index + per_round)
        index += 2 * per_round
    engine.reuse_source_features = True
    result.network_keypoints_ms, result.network_generator_ms = _median_ms(keypoints), _median_ms(generator)
    result.network_ms = result.network_keypoints_ms + result.network_generator_ms
    result.network_fps = 1000.0 / result.network_ms
    result.frame = summarise(cached)
    result.frame_fps = 1000.0 / result.frame["total_ms"]
    result.outside_share = max(0.0, 1.0 - result.network_ms / result.frame["total_ms"])
    result.uncached_frame_ms = summarise(uncached)["total_ms"]
    result.uncached_fps = 1000.0 / result.uncached_frame_ms
    result.cache_speedup = result.uncached_frame_ms / result.frame["total_ms"]


def _measure_sources(engine: Engine, source: np.ndarray, other: np.ndarray, result: BackendResult) -> None:
    """Time preparing a new source, then switching back to one seen before (cached)."""
    engine.set_source(other)
    engine.backend.synchronize()
    start = time.perf_counter()
    engine.set_source(source)
    engine.backend.synchronize()
    result.source_prepare_ms = (time.perf_counter() - start) * 1000
    engine.set_source(other)
    start = time.perf_counter()
    info = engine.set_source(source)
    result.source_switch_back_ms = (time.perf_counter() - start) * 1000
    if not info.cached:
        raise EngineError("the source cache did not hold a source seen before")


def as_json(results: Sequence[BackendResult], context: dict) -> dict:
    return {"context": context, "backends": [asdict(result) for result in results]}


def synthetic_frames(count: int, height: int = 480, width: int = 640, seed: int = 0) -> list[np.ndarray]:
    """Driving frames without a camera: a textured background with a moving bright ellipse."""
    import cv2

    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 8)
    frames = []
    for index in range(count):
        frame = background.copy()
        centre = (int(width / 2 + 40 * np.sin(index / 7)), int(height / 2 + 20 * np.cos(index / 5)))
        cv2.ellipse(frame, centre, (70, 95), 10 * np.sin(index / 9), 0, 360, (220, 180, 160), -1)
        frames.append(frame)
    return frames
