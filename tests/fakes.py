"""A stand-in engine without torch or a model, for tests where the engine is not the thing under test.

It implements :class:`~monkeycam.live.api.ScriptedAnimationEngine`: the "animation" is the
source crop shifted by the driving frame's brightness (or by the scripted pose), after an
optional delay that imitates a slow model.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from monkeycam.live.api import AnimatedFrame, EngineSettings, HeadPose, SourceInfo, StageTimings
from monkeycam.live.scripted import scripted_pose


class FakeEngine:
    """A cheap :class:`AnimationEngine`. ``delay_s`` is slept in every ``process`` call.

    Attributes:
        processed: how many frames were processed.
        last_frame: the last driving frame given to :meth:`process`.
    """

    backend_name = "fake"
    backend_reason = "a fake engine (no model)"

    def __init__(self, settings: EngineSettings | None = None, delay_s: float = 0.0) -> None:
        self._settings = settings or EngineSettings()
        self.delay_s = delay_s
        self.processed = 0
        self.last_frame: np.ndarray | None = None
        self._crop: np.ndarray | None = None
        self._seen: set[bytes] = set()
        self._reference: float | None = None

    @property
    def settings(self) -> EngineSettings:
        return self._settings

    def update_settings(self, settings: EngineSettings) -> None:
        self._settings = settings

    def set_source(self, image: np.ndarray) -> SourceInfo:
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        self._crop = cv2.resize(np.ascontiguousarray(image[top : top + side, left : left + side]),
                                (self._settings.output_size,) * 2, interpolation=cv2.INTER_AREA)
        key = image.tobytes()[:4096] + bytes(str(image.shape), "ascii")
        cached = key in self._seen
        self._seen.add(key)
        return SourceInfo(None, self._crop, cached, None)

    def set_reference(self, frame: np.ndarray | None = None) -> None:
        self._reference = None if frame is None else float(frame.mean())

    def process(self, frame: np.ndarray) -> AnimatedFrame:
        start = time.perf_counter()
        if self.delay_s:
            time.sleep(self.delay_s)
        brightness = float(frame.mean())
        if self._reference is None:
            self._reference = brightness
        self.last_frame = frame
        self.processed += 1
        return self._shifted(int(round(brightness - self._reference)) // 4, start)

    def process_pose(self, pose: HeadPose) -> AnimatedFrame:
        start = time.perf_counter()
        if self.delay_s:
            time.sleep(self.delay_s)
        self.processed += 1
        return self._shifted(int(round(pose.yaw * self._settings.output_size)), start)

    def process_scripted(self, seconds: float) -> AnimatedFrame:
        return self.process_pose(scripted_pose(seconds))

    def _shifted(self, shift: int, start: float) -> AnimatedFrame:
        if self._crop is None:
            raise ValueError("no source image: call set_source() first")
        image = np.roll(self._crop, shift, axis=1)
        total = (time.perf_counter() - start) * 1000.0
        return AnimatedFrame(image, None, True, None, StageTimings(generator_ms=total, total_ms=total))
