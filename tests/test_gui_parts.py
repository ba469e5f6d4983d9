"""The app's parts without the engine: settings store, image helpers, worker, bridge, help texts."""

from __future__ import annotations

import math
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

# The session-wide QApplication is made before conftest's per-test fixtures run: choose the
# offscreen platform here (no display on CI machines).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from monkeycam.gui.bridge import PipelineBridge
from monkeycam.gui.compat import EXTRA_REFERENCES, binding_has_refcount_bug, protect_singletons
from monkeycam.gui.images import qimage_from_rgb, rgb_from_qimage
from monkeycam.gui.session import CameraChoice, camera_choice
from monkeycam.gui.settings import AppState, SettingsStore, settings_path
from monkeycam.gui.worker import SerialWorker
from monkeycam.live.api import AnimatedFrame, EngineSettings, KeypointOverlay, LiveFrame, PipelineStats

# --------------------------------------------------------------------------- settings


def test_settings_store_round_trips_every_field(qapp):
    state = AppState(
        engine=EngineSettings(checkpoint="/models/mine.safetensors", backend="cpu", relative=False, adapt_scale=True,
                              adapt_covariance=True, smoothing=0.25, paste_back=True, output_size=128, mirror=True,
                              crop_scale=1.5, threads=3),
        portrait="/pictures/me, smiling.png",
        user_portraits=("/pictures/me, smiling.png", "/pictures/b.jpg"),
        driving_kind="video",
        camera_index=2,
        video_path="/videos/drive.mp4",
        show_keypoints=True,
        virtual_camera=True,
        geometry=b"\x01\x02\x00\xff",
    )
    SettingsStore().save(state)
    assert settings_path().is_file()
    assert SettingsStore().load() == state


def test_settings_store_lives_in_the_isolated_config_dir(tmp_path, monkeypatch, qapp):
    monkeypatch.setenv("MONKEYCAM_CONFIG_DIR", str(tmp_path / "elsewhere"))
    SettingsStore().save(AppState(portrait="x.png"))
    assert (tmp_path / "elsewhere" / "monkeycam.ini").is_file()


def test_settings_store_falls_back_to_defaults_for_unreadable_values(qapp):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[engine]\nsmoothing=lots\noutput_size=999\nbackend=warp-drive\nrelative=maybe\n"
                    "crop_scale=-2\nthreads=-1\n"
                    "[app]\nuser_portraits=not json\ndriving_kind=telepathy\ncamera_index=x\n")
    state = SettingsStore().load()
    assert state == AppState()


# --------------------------------------------------------------------------- images


def test_qimage_round_trip_keeps_pixels_after_the_array_is_gone(qapp):
    frame = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    image = qimage_from_rgb(frame.copy())
    assert (image.width(), image.height()) == (53, 37)
    np.testing.assert_array_equal(rgb_from_qimage(image), frame)


def test_qimage_rejects_frames_that_are_not_rgb_uint8(qapp):
    with pytest.raises(ValueError, match="uint8 RGB"):
        qimage_from_rgb(np.zeros((4, 4), np.uint8))


def test_covariance_ellipses_follow_the_eigenvectors():
    rotation = np.array([[math.cos(0.5), -math.sin(0.5)], [math.sin(0.5), math.cos(0.5)]])
    covariance = rotation @ np.diag([16.0, 4.0]) @ rotation.T
    overlay = KeypointOverlay(np.array([[10.0, 20.0]]), covariance[None])
    (shape,) = overlay.ellipses(sigmas=2.0)
    assert (shape.x, shape.y) == (10.0, 20.0)
    assert shape.radius_major == pytest.approx(8.0)
    assert shape.radius_minor == pytest.approx(4.0)
    assert math.radians(shape.angle_deg) % math.pi == pytest.approx(0.5)


# --------------------------------------------------------------------------- worker and bridge


def test_worker_delivers_results_in_the_gui_thread(qtbot):
    worker = SerialWorker("test")
    gui_thread = threading.current_thread()
    seen: list[tuple[object, threading.Thread]] = []
    with qtbot.waitSignal(worker.idle, timeout=5000):
        worker.submit("job", lambda: threading.current_thread().name,
                      lambda result: seen.append((result, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen[0][0] == "monkeycam-test"
    assert seen[0][1] is gui_thread
    assert worker.shutdown()


def test_worker_reports_errors_in_words_and_keeps_working(qtbot):
    worker = SerialWorker("test")
    errors: list[str] = []
    results: list[int] = []

    def broken() -> None:
        raise OSError("the file is on fire")

    with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
        worker.submit("broken", broken, on_error=errors.append)
    worker.submit("fine", lambda: 42, results.append)
    qtbot.waitUntil(lambda: results == [42] and errors == ["the file is on fire"], timeout=5000)
    assert failed.args == ["broken", "the file is on fire"]
    assert worker.shutdown()


def test_worker_supersedes_queued_jobs_of_the_same_name(qtbot):
    worker = SerialWorker("test")
    gate = threading.Event()
    done: list[str] = []
    worker.submit("block", gate.wait)
    for name in ("a", "b", "c"):
        worker.submit("preview", lambda name=name: name, done.append, supersede=True)
    gate.set()
    qtbot.waitUntil(lambda: done == ["c"], timeout=5000)
    assert worker.shutdown()


def _live_frame(value: int) -> LiveFrame:
    image = np.full((8, 8, 3), value, np.uint8)
    return LiveFrame(None, AnimatedFrame(image, None, True, None), PipelineStats(processed=value))


def test_bridge_coalesces_frames_and_keeps_the_newest(qtbot):
    bridge = PipelineBridge()
    with qtbot.waitSignal(bridge.frame_ready, timeout=5000):
        threads = [threading.Thread(target=bridge.on_frame, args=(_live_frame(i),)) for i in range(1, 6)]
        for thread in threads:
            thread.start()
            thread.join()
    frame = bridge.take_frame()
    assert frame is not None and frame.stats.processed == 5
    assert bridge.take_frame() is None
    assert bridge.frames_received == 5


# --------------------------------------------------------------------------- small helpers


def test_camera_choices_accept_what_list_cameras_returns():
    assert camera_choice((2, "Integrated Camera (640x480)")) == CameraChoice(2, "Integrated Camera (640x480)")
    assert camera_choice(1) == CameraChoice(1, "Camera 1")


def test_refcount_guard_applies_only_to_affected_versions():
    assert binding_has_refcount_bug((6, 12), (3, 11)) is (sys.implementation.name == "cpython")
    assert not binding_has_refcount_bug((6, 11), (3, 11))
    assert not binding_has_refcount_bug((6, 12), (3, 12))
    if protect_singletons():
        assert sys.getrefcount(None) > EXTRA_REFERENCES // 2


# --------------------------------------------------------------------------- launching


def test_monkeycam_app_command_and_main_py_are_wired():
    import subprocess

    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run([sys.executable, "-m", "monkeycam", "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0 and "app" in listed.stdout
    main = subprocess.run([sys.executable, str(root / "main.py"), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=root, check=False)
    assert main.returncode == 0
    assert "--portrait" in main.stdout and "--checkpoint" in main.stdout
