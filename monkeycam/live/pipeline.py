"""The live pipeline: capture, inference and output on three threads, latest frame wins.

::

    capture thread ──▶ [input slot] ──▶ inference thread ──▶ [output slot] ──▶ output thread
    (camera / video /                   (the engine; built                   (preview callback,
     scripted ticks)                     here when not given)                 virtual camera, file)

Each slot holds one item. When inference is slower than the camera, a new frame replaces the
one still waiting and the stale one is counted as dropped: latency stays bounded by about
one capture interval plus one inference, never a growing queue. Unpaced sources (a video
read as fast as possible) wait for the slot instead, so nothing is dropped.

The frame-rate cap (``EngineSettings.fps_cap``) thins the input on the capture thread: a paced
source's frames that come sooner than the cap allows are passed over there (not counted as
skipped), so inference itself runs no more often than the cap.

Nothing here imports torch: the engine is handed in, or created through a factory on the
inference thread, so :meth:`LivePipeline.start` returns at once.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

from ..errors import one_line
from ..io.atomic import check_output
from ..io.camera import CameraError
from ..io.media import MediaError, VideoWriter
from ..io.virtual_camera import VirtualCamera, VirtualCameraUnavailable, fit_frame
from .api import (
    AnimatedFrame,
    AnimationEngine,
    DrivingSpec,
    EngineError,
    EngineSettings,
    LiveFrame,
    PipelineStats,
    ScriptedAnimationEngine,
    VirtualCameraStatus,
)
from .scripted import scripted_pose
from .sources import DrivingItem, FrameSource, source_for

log = logging.getLogger(__name__)
T = TypeVar("T")

# Builds an engine from the settings, reporting one-line status messages (backend chosen,
# fallbacks) through the callable it is given; e.g. monkeycam.engine.create_engine.
StatusCallback = Callable[[str], None]
EngineFactory = Callable[[EngineSettings, StatusCallback], AnimationEngine]
Command = Callable[[AnimationEngine], None]

RETRY_SECONDS = 1.0
STATS_WINDOW_SECONDS = 2.0


class LatestSlot(Generic[T]):
    """A one-item hand-off where the newest item wins.

    ``put`` replaces an item nobody took yet and counts it in :attr:`dropped`;
    ``put_when_empty`` waits for the taker instead (nothing dropped).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: T | None = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._condition:
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._condition.notify_all()

    def put_when_empty(self, item: T) -> bool:
        """Wait until the previous item was taken, then put; False if the slot was closed."""
        with self._condition:
            self._condition.wait_for(lambda: not self._full or self._closed)
            if self._closed:
                return False
            self._item, self._full = item, True
            self._condition.notify_all()
            return True

    def take(self, timeout: float) -> T | None:
        """The waiting item (removing it), or None after ``timeout`` seconds or when closed."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            self._condition.notify_all()
            return item

    def close(self) -> None:
        """Wake every waiter; later puts are ignored by put_when_empty."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


@dataclasses.dataclass(frozen=True)
class _Output:
    item: DrivingItem
    animated: AnimatedFrame


class _Recorder:
    """Writes output frames in real time: a frame is repeated when output is slower than
    ``fps``, so the file plays at the speed it was recorded at. Frames are fitted to ``size``
    (width, height), by default the first frame's."""

    def __init__(self, writer: VideoWriter, fps: float, size: tuple[int, int] | None = None) -> None:
        self.writer = writer
        self.fps = fps
        self._start: float | None = None
        self._size = size

    def write(self, frame: np.ndarray, now: float) -> None:
        """Append ``frame`` shown at ``now`` (seconds) as often as real time asks (maybe 0 times)."""
        if self._start is None:
            self._start = now
            self._size = self._size or (frame.shape[1], frame.shape[0])
        frame = fit_frame(frame, *self._size)
        due = math.floor((now - self._start) * self.fps) + 1
        written = self.writer.frames_written
        for _ in range(max(1 if written == 0 else 0, due - written)):
            self.writer.write(frame)


class _RateCap:
    """Lets through at most ``fps`` items a second on average (a little early is allowed, so
    a source at exactly the cap's rate is not halved by jitter)."""

    EARLY = 0.25  # of an interval

    def __init__(self) -> None:
        self._due: float | None = None

    def admit(self, now: float, fps: float | None) -> bool:
        """Whether an item at ``now`` (seconds) may pass under the cap ``fps`` (None: no cap)."""
        if fps is None:
            self._due = None
            return True
        interval = 1.0 / fps
        if self._due is not None and now < self._due - self.EARLY * interval:
            return False
        self._due = now + interval if self._due is None else max(self._due + interval, now)
        return True


class _StatsClock:
    """Output frames per second over a sliding window, mean latency of recent frames."""

    def __init__(self) -> None:
        self._times: collections.deque[float] = collections.deque()
        self._latencies: collections.deque[float] = collections.deque(maxlen=30)
        self.processed = 0

    def add(self, now: float, latency_ms: float) -> None:
        self._times.append(now)
        while self._times and now - self._times[0] > STATS_WINDOW_SECONDS:
            self._times.popleft()
        self._latencies.append(latency_ms)
        self.processed += 1

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    @property
    def latency_ms(self) -> float:
        return sum(self._latencies) / len(self._latencies) if self._latencies else 0.0


class LivePipeline:
    """The live animation loop (implements :class:`~monkeycam.live.api.LivePipelineProtocol`).

    Args:
        settings: engine settings (used to build the engine when ``engine`` is None).
        driving: where motion comes from (a :class:`DrivingSpec`, or any FrameSource).
        source_image: the portrait to animate (may also be set later).
        engine: an engine to use; None builds one with ``engine_factory`` on the inference
            thread when the pipeline starts (one of the two is required).
        engine_factory: ``(settings, on_status) -> engine``, e.g.
            ``monkeycam.engine.create_engine`` (its status messages reach ``on_status``).
        on_frame, on_error, on_status: callbacks, called from pipeline threads.
        virtual_camera: open the virtual camera when starting.
        vcam_backend: a pyvirtualcam backend name (None: the platform's).
        retry_seconds: how often a lost camera is reopened.
    """

    def __init__(
        self,
        settings: EngineSettings,
        driving: DrivingSpec | FrameSource,
        *,
        source_image: np.ndarray | None = None,
        engine: AnimationEngine | None = None,
        engine_factory: EngineFactory | None = None,
        on_frame: Callable[[LiveFrame], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        virtual_camera: bool = False,
        vcam_backend: str | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._settings = settings
        self._source = source_for(driving) if isinstance(driving, DrivingSpec) else driving
        self._driving_file = driving.path if isinstance(driving, DrivingSpec) and driving.kind == "video" else None
        if engine is None and engine_factory is None:
            raise TypeError("LivePipeline needs an engine or an engine_factory")
        self._engine = engine
        self._engine_factory = engine_factory
        self._on_frame = on_frame
        self._on_error = on_error
        self._on_status = on_status
        self._want_vcam = virtual_camera
        self._vcam_backend = vcam_backend
        self._retry_seconds = retry_seconds
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._has_source = False
        self._lock = threading.Lock()  # guards sinks, stats and the last output size
        self._vcam: VirtualCamera | None = None
        self._recorder: _Recorder | None = None
        self.recording_error: str | None = None  # why the last recording was lost, if it was
        self._last_size: tuple[int, int] | None = None
        self._last_image: np.ndarray | None = None  # the last frame delivered (output thread)
        self._held: np.ndarray | None = None  # frozen: this frame goes out instead of new ones
        self._freeze_requested = False
        self._source_size: tuple[int, int] | None = None
        self._stats = _StatsClock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._input: LatestSlot[DrivingItem] = LatestSlot()
        self._output: LatestSlot[_Output] = LatestSlot()
        self._dropped_before = 0
        if source_image is not None:
            self.set_source_image(source_image)

    # ------------------------------------------------------------------ control
    @property
    def running(self) -> bool:
        return not self._stop.is_set() and any(thread.is_alive() for thread in self._threads)

    @property
    def engine(self) -> AnimationEngine | None:
        """The engine (None until the inference thread has built it)."""
        return self._engine

    def start(self) -> None:
        """Start the three threads; returns at once (the engine is built on its thread)."""
        if self.running:
            return
        for thread in self._threads:  # threads of a stopped run may still be finishing
            thread.join(timeout=5.0)
        self._stop = threading.Event()
        self._dropped_before += self._input.dropped + self._output.dropped
        self._input, self._output = LatestSlot(), LatestSlot()
        loops = {"capture": self._capture_loop, "inference": self._inference_loop, "output": self._output_loop}
        self._threads = [
            threading.Thread(target=self._thread_main, args=(name, loop), name=f"monkeycam-{name}", daemon=True)
            for name, loop in loops.items()
        ]
        for thread in self._threads:
            thread.start()
        if self._want_vcam:
            self._status(self.set_virtual_camera(True).describe())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join the threads, close the virtual camera, finish any recording."""
        self._stop.set()
        self._input.close()
        self._output.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        self._close_vcam()
        written = self.stop_recording()
        if written:
            self._status(f"recording saved to {written}")
        if stuck:
            self._error(f"pipeline thread(s) {', '.join(stuck)} did not stop within {timeout:g} s")

    def stats(self) -> PipelineStats:
        with self._lock:
            return PipelineStats(
                fps=self._stats.fps,
                latency_ms=self._stats.latency_ms,
                dropped=self._dropped_before + self._input.dropped + self._output.dropped,
                processed=self._stats.processed,
                backend=getattr(self._engine, "backend_name", "") if self._engine is not None else "",
            )

    # ------------------------------------------------------------------ engine commands
    def set_source_image(self, image: np.ndarray) -> None:
        """Animate ``image`` from the next frame on (applied on the inference thread)."""
        image = np.array(image, copy=True)
        self._source_size = (image.shape[1], image.shape[0])
        self._commands.put(lambda engine: self._apply_source(engine, image))

    def reset_reference(self) -> None:
        """Take the next driving frame as the new anchor of relative motion."""
        self._commands.put(lambda engine: engine.set_reference(None))

    def set_frozen(self, frozen: bool) -> None:
        """Hold the current output frame (preview, virtual camera, recording) until unfrozen;
        the engine keeps following the driving input meanwhile."""
        with self._lock:
            self._freeze_requested = frozen
            self._held = self._last_image if frozen else None

    @property
    def frozen(self) -> bool:
        """Whether the output is held (see :meth:`set_frozen`)."""
        return self._freeze_requested

    def update_settings(self, settings: EngineSettings) -> VirtualCameraStatus | None:
        """Apply ``settings`` from the next frame on. A new frame size reopens the virtual camera
        at that size (said through on_status); its new state is returned then, else None."""
        previous, self._settings = self._settings, settings
        self._commands.put(lambda engine: engine.update_settings(settings))
        if settings.frame_size == previous.frame_size or self._vcam is None:
            return None
        self._close_vcam()
        self._last_size = None
        status = self.set_virtual_camera(True)
        self._status(status.describe())
        return status

    def _apply_source(self, engine: AnimationEngine, image: np.ndarray) -> None:
        info = engine.set_source(image)
        self._has_source = True
        if info.warning:
            self._status(info.warning)

    # ------------------------------------------------------------------ sinks
    def set_virtual_camera(self, enabled: bool) -> VirtualCameraStatus:
        """Turn the virtual camera on or off; returns its state (device, or why none)."""
        self._want_vcam = enabled
        if not enabled:
            self._close_vcam()
            return VirtualCameraStatus("off")
        with self._lock:
            if self._vcam is None:
                width, height = self._expected_size()
                width, height = max(2, width - width % 2), max(2, height - height % 2)
                try:
                    self._vcam = VirtualCamera(width, height, self._output_fps(), backend=self._vcam_backend)
                except (VirtualCameraUnavailable, ValueError) as error:
                    self._want_vcam = False
                    return VirtualCameraStatus("unavailable", reason=one_line(error))
            vcam = self._vcam
            return VirtualCameraStatus("on", vcam.device, vcam.width, vcam.height, fps=vcam.fps)

    def _output_fps(self) -> float:
        """The frame rate the call and recordings get: the cap, or the driving input's rate."""
        cap = self._settings.fps_cap
        return float(cap) if cap is not None else self._source.fps

    def _expected_size(self) -> tuple[int, int]:
        """(width, height) of the output frames: the frame size the settings name, else the
        last frame's, else what the other settings give."""
        if self._settings.frame_size is not None:
            return self._settings.frame_size
        if self._last_size is not None:
            return self._last_size
        if self._settings.paste_back and self._source_size is not None:
            return self._source_size
        return self._settings.output_size, self._settings.output_size

    def _close_vcam(self) -> None:
        with self._lock:
            vcam, self._vcam = self._vcam, None
        if vcam is not None:
            vcam.close()

    def start_recording(self, path: str) -> None:
        """Record the output to ``path`` (.mp4, .avi, .webm). Raises MediaError for a bad path,
        OutputError for the driving video's own path."""
        check_output(path, inputs=[self._driving_file], what="the recording")
        fps = self._output_fps()
        writer = VideoWriter(path, fps=fps)
        self.recording_error = None
        previous = self.stop_recording()
        if previous:
            self._status(f"recording saved to {previous}")
        with self._lock:
            self._recorder = _Recorder(writer, fps, self._settings.frame_size)

    def stop_recording(self) -> str | None:
        """Finish the recording; returns the written path, or None when nothing was recorded."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        try:
            return str(recorder.writer.close())
        except (MediaError, OSError) as error:  # e.g. disk full: the writer kept any earlier file
            recorder.writer.abort()
            self.recording_error = f"recording failed: {error}"
            self._error(self.recording_error)
            return None

    # ------------------------------------------------------------------ threads
    def _thread_main(self, name: str, loop: Callable[[], None]) -> None:
        """Run one thread's loop; an unexpected error stops the pipeline with a message
        instead of leaving a silently frozen picture."""
        try:
            loop()
        except Exception as error:
            log.exception("the %s thread failed", name)
            self._fail(f"{name} stopped: {type(error).__name__}: {error}")

    def _capture_loop(self) -> None:
        source, stop = self._source, self._stop
        failing: str | None = None
        cap = _RateCap()
        try:
            while not stop.is_set():
                try:
                    item = source.read(stop)
                except (CameraError, MediaError, OSError) as error:
                    failing = self._report_capture_failure(source, error, failing)
                    source.close()
                    if stop.wait(self._retry_seconds):
                        break
                    continue
                if failing is not None:
                    self._status(f"{source.name} is back")
                    failing = None
                if item is None:
                    if not stop.is_set():
                        self._status(f"{source.name} ended")
                    break
                if source.paced:
                    if cap.admit(item.captured, self._settings.fps_cap):
                        self._input.put(item)
                elif not self._input.put_when_empty(item):
                    break
        finally:
            source.close()

    def _report_capture_failure(self, source: FrameSource, error: BaseException, failing: str | None) -> str:
        message = f"{error}; retrying every {self._retry_seconds:g} s"
        if message != failing:
            self._error(message)
        return message

    def _inference_loop(self) -> None:
        engine = self._engine or self._build_engine()
        if engine is None:
            return
        waiting_reported = False
        while not self._stop.is_set():
            self._run_commands(engine)
            item = self._input.take(timeout=0.05)
            if item is None:
                continue
            if not self._has_source:
                if not waiting_reported:
                    self._status("waiting for a source image")
                    waiting_reported = True
                continue
            animated = self._animate(engine, item)
            if animated is not None:
                self._output.put(_Output(item, animated))

    def _build_engine(self) -> AnimationEngine | None:
        self._status("loading the model")
        try:
            assert self._engine_factory is not None
            self._engine = self._engine_factory(self._settings, self._status)
        except (EngineError, ValueError, OSError) as error:
            self._fail(f"cannot start the engine: {error}")
            return None
        self._status(f"backend: {self._engine.backend_reason}")
        return self._engine

    def _run_commands(self, engine: AnimationEngine) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command(engine)
            except (EngineError, ValueError, OSError) as error:
                self._error(str(error))

    def _animate(self, engine: AnimationEngine, item: DrivingItem) -> AnimatedFrame | None:
        try:
            if item.frame is not None:
                return engine.process(item.frame)
            if not isinstance(engine, ScriptedAnimationEngine):
                self._fail("this engine cannot animate scripted motion")
                return None
            return engine.process_scripted(item.seconds)
        except EngineError as error:
            self._fail(str(error))
        except (ValueError, OSError) as error:
            self._error(str(error))
        return None

    def _output_loop(self) -> None:
        while not self._stop.is_set():
            output = self._output.take(timeout=0.05)
            if output is not None:
                self._deliver(output)

    def _deliver(self, output: _Output) -> None:
        now = time.monotonic()
        latency_ms = (now - output.item.captured) * 1000.0
        image = output.animated.image
        with self._lock:
            self._stats.add(now, latency_ms)
            if self._freeze_requested and self._held is None:  # frozen before the first frame
                self._held = image
            image = self._held if self._held is not None else image
            self._last_image = image
            self._last_size = (image.shape[1], image.shape[0])
        timings = dataclasses.replace(output.animated.timings, latency_ms=latency_ms)
        animated = dataclasses.replace(output.animated, image=image, timings=timings)
        pose = scripted_pose(output.item.seconds) if output.item.frame is None else None
        live = LiveFrame(driving=output.item.frame, animated=animated, stats=self.stats(), pose=pose)
        if self._on_frame is not None:
            self._guarded("preview", lambda: self._on_frame(live))
        self._send_to_vcam(image)
        self._record(image, now)

    def _send_to_vcam(self, image: np.ndarray) -> None:
        with self._lock:
            vcam = self._vcam
            if vcam is None:
                return
            try:
                vcam.send(image)
                return
            except (RuntimeError, ValueError, OSError) as error:
                self._vcam, problem = None, str(error)
        vcam.close()
        self._error(f"virtual camera stopped: {problem}")

    def _record(self, image: np.ndarray, now: float) -> None:
        with self._lock:
            recorder = self._recorder
            if recorder is None:
                return
            try:
                recorder.write(image, now)
                return
            except (MediaError, OSError) as error:
                self._recorder, problem = None, str(error)
        recorder.writer.abort()
        self.recording_error = f"recording stopped: {problem}"
        self._error(self.recording_error)

    # ------------------------------------------------------------------ reporting
    def _guarded(self, what: str, call: Callable[[], None]) -> None:
        """Run a user callback; an exception in it is reported, not fatal to the thread."""
        try:
            call()
        except Exception as error:
            log.exception("%s callback failed", what)
            self._error(f"{what} callback failed: {error}")

    def _fail(self, message: str) -> None:
        """A fatal error: report it and stop the threads (they exit on their own)."""
        self._error(message)
        self._stop.set()
        self._input.close()
        self._output.close()

    def _error(self, message: str) -> None:
        if self._on_error is None:
            log.warning("%s", message)
        else:
            self._call_reporter(self._on_error, message)

    def _status(self, message: str) -> None:
        if self._on_status is None:
            log.info("%s", message)
        else:
            self._call_reporter(self._on_status, message)

    @staticmethod
    def _call_reporter(reporter: Callable[[str], None], message: str) -> None:
        try:
            reporter(message)
        except Exception:
            log.exception("status callback failed for: %s", message)
