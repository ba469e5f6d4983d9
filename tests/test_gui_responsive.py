"""The GUI stays responsive while the model is slow: the UI thread never waits on inference.

The model here is the real engine (face64 checkpoint) slowed down on purpose: every frame takes
at least 300 ms more. It runs behind the real LivePipeline. While a frame is being inferred, the
window must keep processing events: a QTimer keeps ticking and a click changes a control at once.
"""

from __future__ import annotations

import os
import threading
import time

import cv2
import numpy as np
import pytest

# The session-wide QApplication is made before conftest's per-test fixtures run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt, QTimer

from monkeycam.gui.session import EngineFactories, make_live_pipeline
from monkeycam.gui.settings import AppState, SettingsStore
from monkeycam.gui.window import MainWindow
from monkeycam.io import VideoWriter, read_image
from monkeycam.live.api import AnimatedFrame, AnimationEngine, EngineSettings, SourceInfo
from monkeycam.paths import assets_dir

SLOW_SECONDS = 0.3
TIMEOUT_MS = 60_000
TIMER_INTERVAL_MS = 10


class DeliberatelySlowEngine:
    """The real engine, made ``SLOW_SECONDS`` slower per frame (a test double for a slow model).

    ``inferring`` is set while a frame is in flight; while ``hold`` is set, the frame in flight
    does not finish (so a test can look at the GUI during inference without racing it).
    ``threads`` records which thread ran each frame.
    """

    def __init__(self, engine: AnimationEngine) -> None:
        self._engine = engine
        self.inferring = threading.Event()
        self.hold = threading.Event()
        self.frames = 0
        self.threads: set[str] = set()

    settings = property(lambda self: self._engine.settings)
    backend_name = property(lambda self: self._engine.backend_name)
    backend_reason = property(lambda self: f"{self._engine.backend_reason} (slowed down for a test)")

    def update_settings(self, settings: EngineSettings) -> None:
        self._engine.update_settings(settings)

    def set_source(self, image: np.ndarray) -> SourceInfo:
        return self._engine.set_source(image)

    def set_reference(self, frame: np.ndarray | None = None) -> None:
        self._engine.set_reference(frame)

    def process(self, frame: np.ndarray) -> AnimatedFrame:
        self.threads.add(threading.current_thread().name)
        self.inferring.set()
        try:
            time.sleep(SLOW_SECONDS)
            while self.hold.is_set():
                time.sleep(0.01)
            return self._engine.process(frame)
        finally:
            self.frames += 1
            self.inferring.clear()


@pytest.fixture
def slow_engine_window(qtbot, tmp_path):
    from monkeycam.checkpoint import save_checkpoint
    from monkeycam.engine import create_engine
    from monkeycam.model import build_model
    from monkeycam.model.config import preset

    checkpoint = save_checkpoint(tmp_path / "face64.safetensors", build_model(preset("face64")))
    portrait = read_image(assets_dir() / "portrait_bram.png")
    video = tmp_path / "driving.mp4"
    with VideoWriter(video, fps=25) as writer:
        for step in range(25):
            writer.write(cv2.resize(np.roll(portrait, step, axis=1), (160, 160)))
    engines: list[DeliberatelySlowEngine] = []

    def create_slow_engine(settings: EngineSettings, on_status) -> DeliberatelySlowEngine:
        engines.append(DeliberatelySlowEngine(create_engine(settings, on_status=on_status)))
        return engines[-1]

    state = AppState(engine=EngineSettings(checkpoint=str(checkpoint), output_size=64),
                     driving_kind="video", video_path=str(video))
    SettingsStore().save(state)
    window = MainWindow(factories=EngineFactories(create_slow_engine, make_live_pipeline, list))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.portrait_ready, timeout=TIMEOUT_MS):
        window.show()
    return window, engines


def test_gui_keeps_handling_events_while_a_slow_model_runs(qtbot, slow_engine_window):
    window, engines = slow_engine_window
    ticks_during_inference: list[int] = []
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(engines) and engines[0].frames >= 1, timeout=TIMEOUT_MS)
    engine = engines[0]

    # Hold a slow frame in flight and watch the GUI meanwhile.
    engine.hold.set()
    qtbot.waitUntil(engine.inferring.is_set, timeout=TIMEOUT_MS)
    frame_in_flight = engine.frames
    timer = QTimer()
    timer.setInterval(TIMER_INTERVAL_MS)
    timer.timeout.connect(lambda: engine.inferring.is_set() and ticks_during_inference.append(engine.frames))
    timer.start()
    qtbot.waitUntil(lambda: len(ticks_during_inference) >= 20, timeout=TIMEOUT_MS)
    mirrored_before = window.controls.settings().mirror
    QTimer.singleShot(0, window.controls.mirror_box.click)  # a queued user action, handled by the event loop
    qtbot.waitUntil(lambda: window.controls.settings().mirror is not mirrored_before, timeout=TIMEOUT_MS)
    assert engine.inferring.is_set() and engine.frames == frame_in_flight, "all of this happened during one frame"
    assert set(ticks_during_inference) == {frame_in_flight}
    timer.stop()

    engine.hold.clear()
    shown = window.output_view.frames_shown
    qtbot.waitUntil(lambda: window.output_view.frames_shown >= shown + 2, timeout=TIMEOUT_MS)
    assert threading.main_thread().name not in engine.threads, "the model never runs on the GUI thread"
    assert "slowed down" in window.controls.backend_label.toolTip()
