"""The engine boundary: plain data types and the protocol the GUI, the CLI and tests use.

Nothing here imports torch, so the GUI can import this module. Frames are numpy arrays
(H, W, 3) uint8 RGB. The real engine (:mod:`monkeycam.engine.engine`) and test fakes both
implement :class:`AnimationEngine`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from ..errors import UserError


class EngineError(UserError, RuntimeError):
    """The engine cannot do what was asked (no model file, no working backend, no source...);
    the message is one line for the user."""


BackendName = Literal["auto", "cpu", "cuda", "compile", "tensorrt", "openvino"]
BACKEND_NAMES: tuple[str, ...] = ("auto", "cpu", "cuda", "compile", "tensorrt", "openvino")
MAX_STRENGTH = 2.0  # pose and expression strength range from 0 to this


# Bounds that keep one frame's memory reasonable: the output side, and the face crop relative
# to the detected face (the crop is allocated at that size before it is resized).
MAX_OUTPUT_SIZE = 2048
MIN_CROP_SCALE, MAX_CROP_SCALE = 0.5, 8.0

# What a video call receives: the frame sizes the window offers (any even size within the
# bounds is allowed on the command line) and the frame-rate caps.
FRAME_SIZES: tuple[tuple[int, int], ...] = ((640, 480), (1280, 720), (1920, 1080))
DEFAULT_FRAME_SIZE = (1280, 720)
MIN_FRAME_SIZE, MAX_FRAME_SIZE = (160, 120), (3840, 2160)
FPS_CAPS: tuple[int, ...] = (15, 24, 30)
DEFAULT_FPS_CAP = 30
MAX_FPS_CAP = 60


class SettingsError(UserError, ValueError):
    """An engine setting is out of range. ``field`` names it, ``requirement`` says what is
    allowed and ``value`` is what was given, so each front end can name its own control."""

    def __init__(self, field: str, requirement: str, value: object) -> None:
        self.field, self.requirement, self.value = field, requirement, value
        super().__init__(f"{field} {requirement}, got {value!r}")


@dataclass(frozen=True)
class EngineSettings:
    """Every user-facing engine option; CLI flags and GUI controls produce this same object,
    which checks itself when made (:class:`SettingsError`) and knows which changes need the
    model to be loaded again (:meth:`needs_reload`).

    Attributes:
        checkpoint: model file; None means the shipped default for the device.
        backend: "auto" picks the fastest backend that works here.
        relative: relative motion transfer (Eq. 7); False is absolute.
        adapt_scale: scale the motion by the keypoint convex-hull area ratio.
        adapt_covariance: adapt covariances to the source (Sec. 3.6).
        smoothing: One Euro filter strength on the driving keypoints, 0 (off) .. 1 (strong).
        paste_back: paste the animated face back into the full portrait with a soft mask.
        output_size: side of the square output frame in pixels (ignored with paste_back,
            which keeps the portrait's size).
        mirror: flip the driving frames horizontally (a webcam is usually mirrored).
        crop_scale: the face crop is this many times the detected face size.
        threads: CPU threads for the networks; 0 picks a default for this machine.
        pose_strength: how much of the head's motion (rotation, scale, translation) is copied,
            0 (the head stays put) .. 2 (exaggerated); relative transfer only.
        expression_strength: how much of the local motion (eyes, mouth) is copied, 0 (neutral
            face) .. 2; relative transfer only.
        frame_size: (width, height) of the frame a call receives (virtual camera, recording):
            the portrait (paste_back) or the face crop is laid out to fill it like a webcam
            picture, with no black bars. None: the square ``output_size`` frame, or the
            portrait's own size with paste_back (offline animation).
        fps_cap: the most output frames per second (a slow machine's CPU is left for the call);
            None: as fast as the driving input comes. Video read unpaced is never capped.
    """

    checkpoint: str | None = None
    backend: str = "auto"
    relative: bool = True
    adapt_scale: bool = False
    adapt_covariance: bool = False
    smoothing: float = 0.5
    paste_back: bool = False
    output_size: int = 256
    mirror: bool = False
    crop_scale: float = 2.0
    threads: int = 0
    pose_strength: float = 1.0
    expression_strength: float = 1.0
    frame_size: tuple[int, int] | None = None
    fps_cap: float | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKEND_NAMES:
            raise SettingsError("backend", f"must be one of {', '.join(BACKEND_NAMES)}", self.backend)
        if not 0.0 <= self.smoothing <= 1.0:
            raise SettingsError("smoothing", "must be between 0 and 1", self.smoothing)
        if not 16 <= self.output_size <= MAX_OUTPUT_SIZE:
            raise SettingsError("output_size", f"must be from 16 to {MAX_OUTPUT_SIZE} pixels", self.output_size)
        if not MIN_CROP_SCALE <= self.crop_scale <= MAX_CROP_SCALE:  # also refuses NaN and inf
            raise SettingsError("crop_scale", f"must be from {MIN_CROP_SCALE} to {MAX_CROP_SCALE}", self.crop_scale)
        if self.threads < 0:
            raise SettingsError("threads", "must be 0 (automatic) or more", self.threads)
        for name in ("pose_strength", "expression_strength"):
            if not 0.0 <= getattr(self, name) <= MAX_STRENGTH:
                raise SettingsError(name, f"must be between 0 and {MAX_STRENGTH:g}", getattr(self, name))
        if self.frame_size is not None:
            object.__setattr__(self, "frame_size", check_frame_size(self.frame_size))
        if self.fps_cap is not None and not 1.0 <= self.fps_cap <= MAX_FPS_CAP:  # also refuses NaN
            raise SettingsError("fps_cap", f"must be from 1 to {MAX_FPS_CAP} frames/s", self.fps_cap)

    def updated(self, **changes: Any) -> EngineSettings:
        """A checked copy with ``changes`` applied (SettingsError for a bad value or name)."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown engine setting(s): {', '.join(unknown)}")  # a bug in the caller
        return replace(self, **changes)

    def needs_reload(self, previous: EngineSettings | None) -> bool:
        """True when going from ``previous`` (None: nothing loaded) to these settings needs the
        model loaded and the backend built again; the other fields apply to a running engine."""
        return previous is None or any(getattr(self, name) != getattr(previous, name) for name in RELOAD_FIELDS)


def check_frame_size(size: object) -> tuple[int, int]:
    """A frame size as (width, height) from a pair or ``"WxH"`` text; SettingsError when it is
    not two even whole numbers within the bounds (even: every virtual camera takes it)."""
    value = size
    if isinstance(size, str):
        parts = size.lower().replace(" ", "").split("x")
        size = tuple(int(part) if part.isdigit() else -1 for part in parts)
    if not isinstance(size, (tuple, list)) or len(size) != 2 or not all(isinstance(n, int) for n in size):
        raise SettingsError("frame_size", "must be WIDTHxHEIGHT in pixels, e.g. 1280x720", value)
    (width, height), (low_w, low_h), (high_w, high_h) = size, MIN_FRAME_SIZE, MAX_FRAME_SIZE
    if not (low_w <= width <= high_w and low_h <= height <= high_h) or width % 2 or height % 2:
        raise SettingsError("frame_size", f"must be even numbers from {low_w}x{low_h} to {high_w}x{high_h}", value)
    return int(width), int(height)


def format_frame_size(size: tuple[int, int]) -> str:
    """``(1280, 720)`` -> ``"1280x720"``."""
    return f"{size[0]}x{size[1]}"


# Settings that change what is loaded (model file) or how it runs (backend, threads).
RELOAD_FIELDS: tuple[str, ...] = ("checkpoint", "backend", "threads")


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent per stage for one frame (0 when a stage did not run)."""

    crop_ms: float = 0.0
    keypoints_ms: float = 0.0
    generator_ms: float = 0.0
    paste_ms: float = 0.0
    total_ms: float = 0.0
    latency_ms: float = 0.0  # capture to output, set by the live pipeline


@dataclass(frozen=True)
class KeypointEllipse:
    """One keypoint drawn as an ellipse: centre (x, y), semi-axes, rotation in degrees (pixels)."""

    x: float
    y: float
    radius_major: float
    radius_minor: float
    angle_deg: float


@dataclass(frozen=True)
class KeypointOverlay:
    """Keypoints for drawing, in output-image pixels.

    means: (K, 2) x, y; covariances: (K, 2, 2) in pixels^2.
    """

    means: np.ndarray
    covariances: np.ndarray

    def ellipses(self, sigmas: float = 1.0, min_radius: float = 1.5) -> list[KeypointEllipse]:
        """The ``sigmas``-standard-deviation ellipse of each keypoint's covariance.

        The axes are the covariance's eigenvectors, the radii ``sigmas * sqrt(eigenvalue)``.
        """
        shapes = []
        for mean, covariance in zip(np.asarray(self.means, float), np.asarray(self.covariances, float)):
            values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
            values = np.clip(values, 0.0, None)
            major = vectors[:, 1]
            shapes.append(
                KeypointEllipse(
                    x=float(mean[0]),
                    y=float(mean[1]),
                    radius_major=max(min_radius, sigmas * math.sqrt(values[1])),
                    radius_minor=max(min_radius, sigmas * math.sqrt(values[0])),
                    angle_deg=math.degrees(math.atan2(major[1], major[0])),
                )
            )
        return shapes


@dataclass(frozen=True)
class AnimatedFrame:
    """One output of :meth:`AnimationEngine.process`.

    Attributes:
        image: (H, W, 3) uint8 RGB animated frame.
        driving_box: the face crop in the driving frame as (x, y, size) pixels, or None.
        face_found: whether a face was detected in the driving frame.
        keypoints: the transferred keypoints drawn on ``image`` (for the overlay).
        timings: per-stage milliseconds.
    """

    image: np.ndarray
    driving_box: tuple[float, float, float] | None
    face_found: bool
    keypoints: KeypointOverlay | None
    timings: StageTimings = field(default_factory=StageTimings)


@dataclass(frozen=True)
class SourceInfo:
    """What :meth:`AnimationEngine.set_source` found in a portrait.

    face_box: (x, y, size) square crop in portrait pixels, or None when no face was found
    (the whole image is used); crop: (S, S, 3) uint8 RGB crop the model animates;
    cached: True when the source had been seen before (no model work was done).
    """

    face_box: tuple[float, float, float] | None
    crop: np.ndarray
    cached: bool
    warning: str | None = None


@runtime_checkable
class AnimationEngine(Protocol):
    """Frames in, frames out. Not thread-safe: call from one worker thread."""

    @property
    def settings(self) -> EngineSettings: ...

    @property
    def backend_name(self) -> str: ...

    @property
    def backend_reason(self) -> str: ...

    def update_settings(self, settings: EngineSettings) -> None: ...

    def set_source(self, image: np.ndarray) -> SourceInfo: ...

    def set_reference(self, frame: np.ndarray | None = None) -> None:
        """Anchor relative motion on ``frame``, or on the next processed frame when None."""
        ...

    def process(self, frame: np.ndarray) -> AnimatedFrame: ...


@dataclass(frozen=True)
class HeadPose:
    """A head movement applied to the source keypoints (scripted motion, no camera needed).

    Attributes:
        yaw: horizontal shift of the face, in crop widths (-0.5 .. 0.5; + is to the right).
        pitch: vertical shift, in crop heights (-0.5 .. 0.5; + is down).
        roll: in-plane rotation in radians (+ is clockwise on screen).
        scale: size change (1 = unchanged).
        mouth: 0 closed .. 1 open; stretches the lower face downwards.
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    scale: float = 1.0
    mouth: float = 0.0


@runtime_checkable
class ScriptedAnimationEngine(AnimationEngine, Protocol):
    """An engine that can also animate the source without driving frames."""

    def process_pose(self, pose: HeadPose) -> AnimatedFrame:
        """Animate the source moved by ``pose`` (relative to its rest pose)."""
        ...

    def process_scripted(self, seconds: float) -> AnimatedFrame:
        """Animate the source along the built-in head-movement trajectory at time ``seconds``."""
        ...


# --------------------------------------------------------------------------- live pipeline

DrivingKind = Literal["camera", "video", "scripted"]


@dataclass(frozen=True)
class DrivingSpec:
    """Where driving motion comes from.

    kind "camera": webcam ``camera_index``; "video": the file ``path`` (looped when ``loop``);
    "scripted": a built-in head-movement trajectory applied to the source keypoints (works
    with no camera at all).

    ``fps``: frame rate of video files and scripted motion (None: the file's own rate, 30 for
    scripted motion). ``paced``: deliver video/scripted frames in real time; False hands them
    over as fast as inference takes them (nothing dropped; for benchmarks and offline use).
    """

    kind: DrivingKind = "scripted"
    camera_index: int = 0
    path: str | None = None
    loop: bool = True
    fps: float | None = None
    paced: bool = True


@dataclass(frozen=True)
class PipelineStats:
    """Live figures: output frames per second, capture-to-output latency, frames dropped
    because inference was busy ("latest frame wins"), frames processed."""

    fps: float = 0.0
    latency_ms: float = 0.0
    dropped: int = 0
    processed: int = 0
    backend: str = ""


@dataclass(frozen=True)
class LiveFrame:
    """What the live pipeline hands to its frame callback (on its output thread).

    driving: the captured driving frame (H, W, 3) uint8 RGB, or None for scripted motion.
    pose: the scripted head pose this frame copies (None for camera and video input).
    """

    driving: np.ndarray | None
    animated: AnimatedFrame
    stats: PipelineStats
    pose: HeadPose | None = None


@dataclass(frozen=True)
class VirtualCameraStatus:
    """The virtual camera's state, as a value rather than a sentence.

    state "on": frames go to ``device`` at ``width`` x ``height``, announced at ``fps`` frames a
    second (0: not known); "off": turned off; "unavailable": it could not be opened, ``reason``
    (one line) says why and how to get one.
    """

    state: Literal["on", "off", "unavailable"]
    device: str = ""
    width: int = 0
    height: int = 0
    reason: str = ""
    fps: float = 0.0

    @property
    def on(self) -> bool:
        return self.state == "on"

    def describe(self) -> str:
        """The status in one line for people (``virtual camera on: /dev/video10 (1280x720, 30 fps)``)."""
        if self.state == "on":
            rate = f", {self.fps:g} fps" if self.fps else ""
            return f"virtual camera on: {self.device} ({self.width}x{self.height}{rate})"
        if self.state == "unavailable":
            return f"virtual camera unavailable: {self.reason}"
        return "virtual camera off"


@runtime_checkable
class LivePipelineProtocol(Protocol):
    """Capture, inference and output threads with latest-frame-wins hand-off.

    Callbacks given at construction (``on_frame(LiveFrame)``, ``on_error(str)``,
    ``on_status(str)``) are called from pipeline threads; a GUI must forward them to its own
    thread. No method blocks on inference.
    """

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    def stats(self) -> PipelineStats: ...

    def set_source_image(self, image: np.ndarray) -> None: ...

    def reset_reference(self) -> None: ...

    def set_frozen(self, frozen: bool) -> None:
        """Hold the current output frame (in every sink) until unfrozen."""
        ...

    def update_settings(self, settings: EngineSettings) -> VirtualCameraStatus | None:
        """Apply new settings; returns the virtual camera's state when a new frame size reopened it."""
        ...

    def set_virtual_camera(self, enabled: bool) -> VirtualCameraStatus:
        """Turn the virtual camera on or off; returns its state (device, or why none)."""
        ...

    def start_recording(self, path: str) -> None: ...

    def stop_recording(self) -> str | None:
        """Finish the recording; returns the written path, or None when nothing was recorded."""
        ...
