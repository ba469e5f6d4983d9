"""The animation engine: a source portrait and driving frames in, animated frames out.

Per source (once, cached by image content): face crop, source keypoints, encoder features.
Per driving frame, in named stages timed one by one:

1. crop: face detection on a shrunk copy, a tracked and smoothed crop box, the S x S crop;
2. keypoints: driving keypoints, One Euro smoothing, motion transfer (relative or absolute,
   optional movement-scale and covariance adaptation);
3. generator: dense motion, warping, decoder -> S x S prediction;
4. paste: resize to the output size, or paste back into the full portrait (colour-matched, soft
   mask); with a frame size (what a call receives), laid out to fill that frame.

The engine is not thread-safe: one thread drives it (the live pipeline's inference thread).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from ..checkpoint import CheckpointError, CheckpointInfo, load_checkpoint
from ..drawing import keypoint_overlay
from ..errors import MonkeycamError, one_line
from ..face.crop import CropBox, crop_square
from ..face.tracker import FaceLocator, FaceTracker, portrait_crop_box
from ..live.api import AnimatedFrame, EngineError, EngineSettings, HeadPose, KeypointOverlay, SourceInfo, StageTimings
from ..live.scripted import scripted_pose
from ..model import Keypoints, MonkeyNet, SourceFeatures, absolute_keypoints, relative_keypoints, scale_motion
from ..one_euro import OneEuroFilter, one_euro_for_strength
from ..paths import default_checkpoint
from .backends import BACKEND_FAILURES, Backend, tensorrt_installed
from .compose import PasteBack, resize_square
from .planning import BackendCandidate, candidate, plan_backends

log = logging.getLogger(__name__)
T = TypeVar("T")

SOURCE_CACHE_SIZE = 8
DRIVING_DETECT_EVERY = 3  # face detection on every 3rd driving frame (10 Hz at 30 fps) saves ~2/3 of its cost


class _BackendFailed(MonkeycamError):
    """Internal: the current backend raised while running; the engine falls back."""

    def __init__(self, backend: str, error: BaseException) -> None:
        super().__init__(f"{backend} failed: {one_line(error, 300)}")
        self.backend = backend
        self.error = error


@dataclass
class _Source:
    """A prepared source portrait (an entry of the source cache)."""

    key: str
    portrait: np.ndarray  # (H, W, 3) uint8 RGB
    crop: np.ndarray  # (S, S, 3) uint8 RGB, what the model animates
    box: CropBox  # where the crop lies in the portrait
    face_found: bool
    warning: str | None
    keypoints: Keypoints  # (1, K, ...) float32 on the CPU
    features: SourceFeatures | None  # on the current backend; None: to recompute (after a fallback)
    paste: PasteBack | None = field(default=None)


# --------------------------------------------------------------------------- creation


def resolve_checkpoint(settings: EngineSettings, cuda: bool) -> Path:
    """The checkpoint file to load: the user's, or the shipped default for this device."""
    if settings.checkpoint:
        return Path(settings.checkpoint).expanduser()
    path = default_checkpoint(cuda, settings.backend)
    if not path.exists():
        raise EngineError(
            f"the default model {path} is missing (the shipped weights are not installed): "
            "choose a checkpoint file (--checkpoint FILE on the command line)"
        )
    return path


def load_engine_model(settings: EngineSettings) -> tuple[MonkeyNet, CheckpointInfo]:
    """Load the checkpoint named by ``settings`` (float32, CPU). Raises EngineError."""
    path = resolve_checkpoint(settings, torch.cuda.is_available())
    try:
        return load_checkpoint(path, "cpu", torch.float32)
    except CheckpointError as error:
        raise EngineError(str(error)) from None


def create_engine(
    settings: EngineSettings,
    on_status: Callable[[str], None] | None = None,
    *,
    model: MonkeyNet | None = None,
    face_detection: bool | None = None,
    reuse_source_features: bool = True,
    fallback: bool = True,
) -> Engine:
    """Load the model and build the backend named in ``settings`` (falling back when it fails).
    Also a live pipeline's ``engine_factory``.

    Args:
        settings: what to load and how to animate.
        on_status: called with one-line messages (backend chosen, fallbacks).
        model: use this model instead of loading ``settings.checkpoint`` (tests, benchmarks).
        face_detection: True requires mediapipe, False crops whole frames, None uses
            mediapipe when it can be loaded (with a warning otherwise).
        reuse_source_features: False recomputes the source features for every frame (the
            uncached path, for benchmarks and tests).
        fallback: False builds only the first backend of the plan (benchmarks).

    Raises:
        EngineError: no model file, an unusable model, or no backend that works.
    """
    info = None
    if model is None:
        model, info = load_engine_model(settings)
    plan = plan_backends(settings.backend, torch.cuda.is_available(), tensorrt_installed())
    names = plan.names if fallback else plan.names[:1]
    candidates = [candidate(name, settings.threads) for name in names]
    return Engine(
        model, settings, candidates, plan_reason=plan.reason, info=info, face_detection=face_detection,
        reuse_source_features=reuse_source_features, on_status=on_status,
    )


def _face_detectors(enabled: bool | None) -> tuple[FaceLocator | None, FaceLocator | None, str | None]:
    """(source detector, driving detector, warning) for the face_detection switch."""
    if enabled is False:
        return None, None, None
    from ..face.detector import FaceDetector, FaceUnavailable, PortraitDetector

    try:
        return PortraitDetector(), FaceDetector(full_range=False), None
    except FaceUnavailable as error:
        if enabled:
            raise EngineError(str(error)) from None
        return None, None, f"face detection unavailable ({one_line(error, 300)}); whole frames are animated"


# --------------------------------------------------------------------------- the engine


class Engine:
    """The real :class:`~monkeycam.live.api.AnimationEngine` (plus scripted motion).

    Args:
        model: float32 model on the CPU; each backend makes its own copy.
        settings: the animation settings.
        candidates: backends to try in order; the first that builds is used, the next ones
            are fallbacks if it fails later.
        plan_reason: why these backends (shown in :attr:`backend_reason`).
        face_detection: see :func:`create_engine`.
        reuse_source_features: see :func:`create_engine`.
        cache_size: how many prepared sources to keep.
        on_status: called with one-line messages (fallbacks, warnings).
    """

    def __init__(
        self,
        model: MonkeyNet,
        settings: EngineSettings,
        candidates: Sequence[BackendCandidate],
        *,
        plan_reason: str = "",
        info: CheckpointInfo | None = None,
        face_detection: bool | None = None,
        reuse_source_features: bool = True,
        cache_size: int = SOURCE_CACHE_SIZE,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        if not candidates:
            raise EngineError("no backend to try")
        self._model = model
        self._info = info
        self._settings = settings
        self._on_status = on_status
        self._candidates = list(candidates)
        self._plan_reason = plan_reason
        self._notes: list[str] = []
        self._backend: Backend | None = None
        self._build_next_backend()
        self._face_request = face_detection
        self._source_detector, driving_detector, self.face_warning = _face_detectors(self._face_choice())
        self._tracker = FaceTracker(driving_detector, settings.crop_scale, detect_every=DRIVING_DETECT_EVERY)
        self.reuse_source_features = reuse_source_features
        self._cache: OrderedDict[str, _Source] = OrderedDict()
        self._cache_size = max(1, cache_size)
        self._source: _Source | None = None
        self._reference: Keypoints | None = None
        self._kp_filter: OneEuroFilter | None = one_euro_for_strength(settings.smoothing)

    # ------------------------------------------------------------------ properties
    @property
    def settings(self) -> EngineSettings:
        return self._settings

    @property
    def backend_name(self) -> str:
        """Name of the backend in use ("" while a fallback is being built; safe from any thread)."""
        backend = self._backend
        return backend.name if backend is not None else ""

    @property
    def backend_reason(self) -> str:
        """Why this backend: the plan's reason, fallbacks that happened, and what it runs."""
        return "; ".join([self._plan_reason, *self._notes, f"running {self.backend.description}"]).lstrip("; ")

    @property
    def backend(self) -> Backend:
        """The backend in use (for benchmarks: time its steps directly)."""
        if self._backend is None:
            raise EngineError("no working backend")
        return self._backend

    @property
    def image_size(self) -> int:
        """Side S of the model's square frames."""
        return self._model.config.image_size

    @property
    def category(self) -> str:
        """What the model animates, from its checkpoint: "face" (a face is found and cropped
        first), or another name such as "body" or "object" (whole frames, no face detection)."""
        return self._model.config.category

    @property
    def face_detection(self) -> bool:
        """Whether faces are detected and cropped (False for non-face models and --no-face)."""
        return self._tracker.detector is not None

    def _face_choice(self) -> bool | None:
        """The caller's face_detection choice, turned off for a model that is not of faces."""
        return self._face_request if self._model.config.is_face else False

    @property
    def model(self) -> MonkeyNet:
        """The float32 CPU model the backends were made from."""
        return self._model

    @property
    def checkpoint_info(self) -> CheckpointInfo | None:
        return self._info

    @property
    def has_source(self) -> bool:
        return self._source is not None

    @property
    def source_keypoints(self) -> Keypoints:
        """Keypoints of the current source, (1, K, ...) float32 on the CPU."""
        return self._require_source().keypoints

    @property
    def source_crop(self) -> np.ndarray:
        """The (S, S, 3) uint8 crop of the current source that the model animates."""
        return self._require_source().crop

    @property
    def source_features(self) -> SourceFeatures:
        """Cached source features of the current source, on the backend's device."""
        return self._with_fallback(lambda: self._ready_source().features)

    # ------------------------------------------------------------------ backends
    def _build_next_backend(self) -> None:
        """Build the first remaining candidate that works; raise EngineError if none does."""
        while self._candidates:
            candidate_ = self._candidates.pop(0)
            try:
                with torch.inference_mode():
                    self._backend = candidate_.build(self._model)
                return
            except BACKEND_FAILURES as error:
                self._note(f"{candidate_.name} backend unavailable ({one_line(error, 300)})")
        self._backend = None
        raise EngineError("no backend works here: " + "; ".join(self._notes))

    def _fall_back(self, failure: _BackendFailed) -> None:
        """Replace a backend that failed while running by the next one and re-prepare sources."""
        failed = self._backend
        self._note(f"{failure.backend} failed while running ({one_line(failure.error, 300)})")
        if failed is not None:
            failed.close()
        self._backend = None
        self._build_next_backend()
        self._note(f"fell back to {self.backend.name}")
        self._cache.clear()  # their features live on the failed backend
        if self._source is not None:
            self._source.features = None
            self._remember(self._source)

    def _note(self, message: str) -> None:
        """Record a backend event for backend_reason and tell the user (callback, else the log)."""
        self._notes.append(message)
        if self._on_status is None:
            log.warning("%s", message)
        else:
            self._on_status(message)

    def _run(self, step: Callable[[Backend], object]) -> object:
        """Run one backend step, turning backend errors into _BackendFailed."""
        backend = self.backend
        try:
            with torch.inference_mode():
                return step(backend)
        except BACKEND_FAILURES as error:
            raise _BackendFailed(backend.name, error) from error

    def _with_fallback(self, work: Callable[[], T]) -> T:
        """Do ``work``; when the backend fails, fall back and do it again (never a frozen picture)."""
        while True:
            try:
                return work()
            except _BackendFailed as failure:
                self._fall_back(failure)

    # ------------------------------------------------------------------ settings
    def update_settings(self, settings: EngineSettings) -> None:
        """Apply new settings; model or backend changes rebuild, source crops are redone."""
        old, self._settings = self._settings, settings
        if settings.needs_reload(old):
            self._reload(settings, model_changed=settings.checkpoint != old.checkpoint)
        elif settings.crop_scale != old.crop_scale:
            self._redo_source()
        if settings.crop_scale != old.crop_scale:
            self._tracker = FaceTracker(self._tracker.detector, settings.crop_scale, detect_every=DRIVING_DETECT_EVERY)
        if settings.smoothing != old.smoothing:
            self._kp_filter = one_euro_for_strength(settings.smoothing)
        if (settings.mirror, settings.relative, settings.crop_scale) != (old.mirror, old.relative, old.crop_scale):
            self._reference = None  # the anchor of motion no longer matches: take the next frame

    def _reload(self, settings: EngineSettings, model_changed: bool) -> None:
        if model_changed:
            was_face = self._model.config.is_face
            self._model, self._info = load_engine_model(settings)
            if self._model.config.is_face != was_face:
                self._replace_face_detectors()
        plan = plan_backends(settings.backend, torch.cuda.is_available(), tensorrt_installed())
        if self._backend is not None:
            self._backend.close()
        self._candidates = [candidate(name, settings.threads) for name in plan.names]
        self._plan_reason, self._notes = plan.reason, []
        self._build_next_backend()
        self._reference = None
        self._redo_source()

    def _replace_face_detectors(self) -> None:
        """Detectors for a model of another category (face on, or off for whole frames)."""
        self._close_face_detectors()
        self._source_detector, driving_detector, self.face_warning = _face_detectors(self._face_choice())
        self._tracker = FaceTracker(driving_detector, self._settings.crop_scale, detect_every=DRIVING_DETECT_EVERY)

    def _redo_source(self) -> None:
        current = self._source
        self._cache.clear()
        self._source = None
        if current is not None:
            self.set_source(current.portrait)

    # ------------------------------------------------------------------ source
    def set_source(self, image: np.ndarray) -> SourceInfo:
        """Use ``image`` (H, W, 3) uint8 RGB as the portrait; instant for one seen before."""
        image = _check_image(image, "source image")
        key = self._source_key(image)
        entry = self._cache.get(key)
        cached = entry is not None
        if entry is None:
            entry = self._with_fallback(lambda: self._prepare_source(image, key))
        self._remember(entry)
        self._source = entry
        return SourceInfo(_box_tuple(entry.box) if entry.face_found else None, entry.crop, cached, entry.warning)

    def _source_key(self, image: np.ndarray) -> str:
        digest = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16)  # no copy
        digest.update(f"{image.shape}|{self._settings.crop_scale}|{self._source_detector is not None}".encode())
        return digest.hexdigest()

    def _remember(self, entry: _Source) -> None:
        self._cache[entry.key] = entry
        self._cache.move_to_end(entry.key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _prepare_source(self, image: np.ndarray, key: str) -> _Source:
        box, face_found, warning = self._locate_source_face(image)
        crop = crop_square(image, box, self.image_size)
        features = self._run(lambda b: b.encode_source(b.to_tensor(crop)))
        keypoints = Keypoints(features.keypoints.mean.float().cpu(), features.keypoints.covar.float().cpu())
        return _Source(key, image.copy(), crop, box, face_found, warning, keypoints, features)

    def _locate_source_face(self, image: np.ndarray) -> tuple[CropBox, bool, str | None]:
        box, face_found = portrait_crop_box(image, self._source_detector, self._settings.crop_scale)
        if face_found:
            return box, True, None
        if self._source_detector is None:
            return box, False, self.face_warning
        return box, False, "no face found in the source image; animating the whole image"

    def _require_source(self) -> _Source:
        if self._source is None:
            raise EngineError("no source image: call set_source() first")
        return self._source

    def _ready_source(self) -> _Source:
        """The current source with its features on the current backend (recomputed after a fallback)."""
        source = self._require_source()
        if source.features is None:
            source.features = self._run(lambda b: b.encode_source(b.to_tensor(source.crop)))
        return source

    # ------------------------------------------------------------------ reference
    def set_reference(self, frame: np.ndarray | None = None) -> None:
        """Anchor relative motion on ``frame``, or on the next processed frame when None."""
        if frame is None:
            self._reference = None
            return
        frame = self._driving_view(_check_image(frame, "reference frame"))
        tracked = self._tracker.update(frame, time.monotonic())
        crop = crop_square(frame, tracked.box, self.image_size)
        self._reference = self._with_fallback(lambda: self._detect(crop))
        if self._kp_filter is not None:
            self._kp_filter.reset()

    # ------------------------------------------------------------------ per frame
    def process(self, frame: np.ndarray, timestamp: float | None = None) -> AnimatedFrame:
        """Animate the source with the motion of ``frame`` (H, W, 3) uint8 RGB.

        Args:
            timestamp: when the frame was taken, in seconds (for smoothing); None uses the clock.
        """
        frame = self._driving_view(_check_image(frame, "driving frame"))
        self._require_source()
        when = time.monotonic() if timestamp is None else float(timestamp)
        return self._with_fallback(lambda: self._animate_frame(frame, when))

    def process_pose(self, pose: HeadPose) -> AnimatedFrame:
        """Animate the source moved by ``pose`` from its rest pose (no driving frame)."""
        self._require_source()
        return self._with_fallback(lambda: self._animate_pose(pose))

    def process_scripted(self, seconds: float) -> AnimatedFrame:
        """Animate the source along the built-in head-movement trajectory at ``seconds``."""
        return self.process_pose(scripted_pose(seconds))

    def _driving_view(self, frame: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(frame[:, ::-1]) if self._settings.mirror else frame

    def _animate_frame(self, frame: np.ndarray, when: float) -> AnimatedFrame:
        source = self._ready_source()
        start = time.perf_counter()
        tracked = self._tracker.update(frame, when)
        crop = crop_square(frame, tracked.box, self.image_size)
        cropped = time.perf_counter()
        kp_driving = self._smooth(self._detect(crop), when)
        if self._reference is None:
            self._reference = kp_driving
        kp = self._transfer(source.keypoints, kp_driving)
        image, overlay, timings = self._render(source, kp, start, cropped)
        return AnimatedFrame(image, _box_tuple(tracked.box), tracked.face_found, overlay, timings)

    def _animate_pose(self, pose: HeadPose) -> AnimatedFrame:
        source = self._ready_source()
        start = time.perf_counter()
        settings = self._settings
        kp = scale_motion(posed_keypoints(source.keypoints, pose), source.keypoints,
                          settings.pose_strength, settings.expression_strength)
        image, overlay, timings = self._render(source, kp, start, start)
        return AnimatedFrame(image, None, True, overlay, timings)

    def _render(
        self, source: _Source, kp: Keypoints, start: float, cropped: float
    ) -> tuple[np.ndarray, KeypointOverlay, StageTimings]:
        """Generator and composition for transferred keypoints ``kp``; times every stage from
        ``start`` (frame received) and ``cropped`` (crop done; == start when there is no crop)."""
        located = time.perf_counter()
        face = self._generate(source, kp)
        generated = time.perf_counter()
        image, overlay = self._compose(source, face, kp)
        done = time.perf_counter()
        timings = StageTimings(
            crop_ms=_ms(start, cropped), keypoints_ms=_ms(cropped, located), generator_ms=_ms(located, generated),
            paste_ms=_ms(generated, done), total_ms=_ms(start, done),
        )
        return image, overlay, timings

    def _detect(self, crop: np.ndarray) -> Keypoints:
        """Keypoints of an (S, S, 3) crop, float32 on the CPU."""
        kp = self._run(lambda b: b.keypoints(b.to_tensor(crop)))
        return Keypoints(kp.mean.float().cpu(), kp.covar.float().cpu())

    def _smooth(self, kp: Keypoints, when: float) -> Keypoints:
        if self._kp_filter is None:
            return kp
        num_kp = kp.mean.shape[1]
        packed = torch.cat([kp.mean.reshape(-1), kp.covar.reshape(-1)]).double().numpy()
        smoothed = torch.from_numpy(self._kp_filter(packed, when)).float()
        mean = smoothed[: num_kp * 2].reshape(kp.mean.shape)
        return Keypoints(mean, smoothed[num_kp * 2 :].reshape(kp.covar.shape))

    def _transfer(self, kp_source: Keypoints, kp_driving: Keypoints) -> Keypoints:
        settings = self._settings
        if not settings.relative:
            return absolute_keypoints(kp_driving)
        kp_driving = scale_motion(kp_driving, self._reference, settings.pose_strength, settings.expression_strength)
        return relative_keypoints(
            kp_source, kp_driving, self._reference,
            adapt_movement_scale=settings.adapt_scale, adapt_covariances=settings.adapt_covariance,
        )

    def _generate(self, source: _Source, kp: Keypoints) -> np.ndarray:
        """(S, S, 3) uint8 prediction for the CPU keypoints ``kp``."""

        def step(backend: Backend) -> np.ndarray:
            features = source.features
            if not self.reuse_source_features:
                features = backend.encode_source(backend.to_tensor(source.crop))
            return backend.to_image(backend.generate(features, backend.keypoints_to_device(kp)))

        return self._run(step)

    def _compose(self, source: _Source, face: np.ndarray, kp: Keypoints) -> tuple[np.ndarray, KeypointOverlay]:
        means, covariances = kp.mean[0].numpy(), kp.covar[0].numpy()
        if self._settings.paste_back or self._settings.frame_size is not None:
            paste = self._paste_for(source)
            return paste.apply(face), keypoint_overlay(means, covariances, face.shape[0], paste.face_box)
        side = self._settings.output_size
        return resize_square(face, side), keypoint_overlay(means, covariances, face.shape[0], CropBox(0, 0, side))

    def _paste_for(self, source: _Source) -> PasteBack:
        """The source's composition for the current settings: into the full portrait (paste-back)
        or the crop alone, laid out in ``frame_size`` when one is set (made once per change)."""
        paste_back, frame_size = self._settings.paste_back, self._settings.frame_size
        paste = source.paste
        whole = paste is not None and paste.portrait is source.portrait
        if paste is None or paste.layout.frame_size != (frame_size or paste.layout.picture_size) or whole != paste_back:
            if paste_back:
                paste = PasteBack.prepare(source.portrait, source.box, source.crop, frame_size)
            else:
                paste = PasteBack.prepare(source.crop, CropBox(0, 0, source.crop.shape[0]), None, frame_size)
            source.paste = paste
        return paste

    def close(self) -> None:
        """Release the backend and the face detectors."""
        if self._backend is not None:
            self._backend.close()
        self._close_face_detectors()
        self._cache.clear()

    def _close_face_detectors(self) -> None:
        for detector in (self._source_detector, self._tracker.detector):
            close = getattr(detector, "close", None)
            if close is not None:
                close()


# --------------------------------------------------------------------------- helpers


def posed_keypoints(kp: Keypoints, pose: HeadPose) -> Keypoints:
    """Source keypoints moved by a head pose: rotate/scale about their centroid, stretch the
    lower face for the mouth, then shift. kp: (1, K, ...) float32 -> same shapes."""
    mean, covar = kp.mean.double(), kp.covar.double()
    centre = mean.mean(dim=1, keepdim=True)
    cos, sin = math.cos(pose.roll), math.sin(pose.roll)
    rotation = torch.tensor([[cos, -sin], [sin, cos]], dtype=torch.float64)
    offset = pose.scale * (mean - centre) @ rotation.T
    below = offset[..., 1].clamp_min(0.0)  # y grows downwards: the lower half of the face
    offset = torch.stack([offset[..., 0], offset[..., 1] + 0.6 * pose.mouth * below], dim=-1)
    shift = torch.tensor([2.0 * pose.yaw, 2.0 * pose.pitch], dtype=torch.float64)  # crop sizes -> [-1, 1] units
    new_mean = centre + offset + shift
    new_covar = pose.scale**2 * rotation @ covar @ rotation.T
    return Keypoints(new_mean.float(), new_covar.float())


def _check_image(image: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise ValueError(f"the {what} must be an (H, W, 3) uint8 RGB array, got {shape} {getattr(image, 'dtype', '')}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"the {what} is too small: {image.shape[1]}x{image.shape[0]}")
    return image


def _box_tuple(box: CropBox) -> tuple[float, float, float]:
    return (float(box.x), float(box.y), float(box.size))


def _ms(start: float, end: float) -> float:
    return (end - start) * 1000.0
