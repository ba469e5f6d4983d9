"""What the call receives, from the window: the call picture size (640x480, 1280x720, 1920x1080)
and the frame-rate cap (15, 24, 30) chosen in the Output box, remembered and checked when
loaded, and honoured by the virtual camera with the real engine (pytest-qt, offscreen)."""

from __future__ import annotations

import os
import threading
import time
from typing import ClassVar

import numpy as np
import pytest

# The session-wide QApplication is made before conftest's per-test fixtures run: choose the
# offscreen platform here (no display on CI machines).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt

from monkeycam.gui.controls import ControlsPanel
from monkeycam.gui.settings import AppState, SettingsStore, settings_path
from monkeycam.gui.window import MainWindow
from monkeycam.live.api import EngineSettings

FRAME_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    """An untrained face64 model (seeded): real weights file, real engine, instant to make."""
    import torch

    from monkeycam.checkpoint import save_checkpoint
    from monkeycam.model import build_model
    from monkeycam.model.config import preset

    path = tmp_path_factory.mktemp("model") / "face64.safetensors"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        save_checkpoint(path, build_model(preset("face64")), include_discriminator=False)
    return str(path)


# --------------------------------------------------------------------------- settings


def test_a_new_user_gets_a_call_picture_of_1280x720_at_up_to_30_frames(qapp):
    engine = SettingsStore().load().engine
    assert (engine.frame_size, engine.fps_cap, engine.paste_back) == ((1280, 720), 30, True)


def test_the_call_picture_and_frame_rate_are_remembered(qapp):
    state = AppState(engine=EngineSettings(frame_size=(1920, 1080), fps_cap=15, paste_back=False))
    SettingsStore().save(state)
    assert SettingsStore().load() == state
    unset = AppState(engine=EngineSettings())  # no frame size, no cap (saved as empty values)
    SettingsStore().save(unset)
    assert SettingsStore().load() == unset


@pytest.mark.parametrize("frame_size, fps_cap", [("999x1", "12"), ("wide", "fast"), ("641x480", "nan"),
                                                 ("800x600", "1e308")])
def test_stored_call_settings_that_cannot_be_shown_fall_back_with_a_warning(qapp, frame_size, fps_cap):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[engine]\nframe_size={frame_size}\nfps_cap={fps_cap}\nsmoothing=0.3\n")
    store = SettingsStore()
    engine = store.load().engine
    assert (engine.frame_size, engine.fps_cap, engine.smoothing) == ((1280, 720), 30, 0.3)
    said = " ".join(store.warnings)
    assert f"engine/frame_size = '{frame_size}'" in said and f"engine/fps_cap = '{fps_cap}'" in said


# --------------------------------------------------------------------------- controls


def test_the_output_box_offers_the_call_sizes_and_caps(qtbot):
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    panel.set_settings(AppState().engine)
    sizes = [panel.frame_combo.itemData(i) for i in range(panel.frame_combo.count())]
    caps = [panel.fps_combo.itemData(i) for i in range(panel.fps_combo.count())]
    assert sizes == [(640, 480), (1280, 720), (1920, 1080)] and caps == [15, 24, 30]
    assert panel.frame_combo.currentData() == (1280, 720) and panel.fps_combo.currentData() == 30
    assert panel.size_combo.isHidden()  # the square size means nothing with a call picture
    with qtbot.waitSignal(panel.settings_changed) as changed:
        panel.frame_combo.setCurrentIndex(0)  # 640 x 480
    new, previous = changed.args
    assert new.frame_size == (640, 480) and previous.frame_size == (1280, 720) and not new.needs_reload(previous)
    with qtbot.waitSignal(panel.settings_changed) as changed:
        panel.fps_combo.setCurrentIndex(panel.fps_combo.findData(15))
    assert changed.args[0].fps_cap == 15 and changed.args[0].frame_size == (640, 480)


# --------------------------------------------------------------------------- the window, real engine


class CallCamera:
    """A pyvirtualcam backend standing in for a call app: keeps the size it was opened with and
    when each frame came."""

    opened: ClassVar[list[tuple[int, int, float]]] = []
    arrivals: ClassVar[list[tuple[float, int]]] = []  # (when, how many bytes)
    lock = threading.Lock()

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        self.fourcc = fourcc
        CallCamera.opened.append((width, height, fps))

    def send(self, frame: np.ndarray) -> None:
        with CallCamera.lock:
            CallCamera.arrivals.append((time.monotonic(), frame.size))

    def close(self) -> None:
        pass

    def device(self) -> str:
        return "call-camera"

    def native_fourcc(self) -> int:
        return self.fourcc


def frames_per_second(since: float) -> float:
    with CallCamera.lock:
        times = [when for when, _ in CallCamera.arrivals if when >= since]
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 else 0.0


def test_the_call_gets_the_chosen_size_and_no_more_frames_than_the_cap(qtbot, checkpoint, monkeypatch):
    import pyvirtualcam
    import pyvirtualcam.camera

    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", {})  # only ours: a real device stays untouched
    pyvirtualcam.register_backend("monkeycam-call", CallCamera)
    CallCamera.opened, CallCamera.arrivals = [], []
    engine = EngineSettings(checkpoint=checkpoint, backend="cpu", paste_back=True, frame_size=(640, 480), fps_cap=30,
                            smoothing=0.0)
    SettingsStore().save(AppState(engine=engine, driving_kind="scripted", virtual_camera=True))
    window = MainWindow()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.portrait_ready, timeout=FRAME_TIMEOUT_MS):
        window.show()
    window.driving.set_scripted()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(CallCamera.arrivals) >= 5, timeout=FRAME_TIMEOUT_MS)
    assert CallCamera.opened[0] == (640, 480, 30.0)
    assert all(size == 640 * 480 * 3 for _, size in CallCamera.arrivals)

    controls = window.controls
    controls.frame_combo.setCurrentIndex(1)  # 1280 x 720
    qtbot.waitUntil(lambda: CallCamera.arrivals[-1][1] == 1280 * 720 * 3, timeout=FRAME_TIMEOUT_MS)
    assert [opened[:2] for opened in CallCamera.opened] == [(640, 480), (1280, 720)]
    qtbot.waitUntil(lambda: "call-camera (1280x720, 30 fps)" in window.outputs.vcam_label.text(),
                    timeout=FRAME_TIMEOUT_MS)  # the Virtual camera line follows the new size

    controls.fps_combo.setCurrentIndex(controls.fps_combo.findData(15))
    qtbot.wait(500)  # the cap reaches the pipeline
    since = time.monotonic()
    qtbot.wait(2500)
    assert 0 < frames_per_second(since) <= 16.5
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.session.busy, timeout=FRAME_TIMEOUT_MS)
    window.close()
    stored = SettingsStore().load().engine
    assert (stored.frame_size, stored.fps_cap) == ((1280, 720), 15)
