"""The virtual camera: frames of the right size reach a backend registered with pyvirtualcam,
other sizes are filled like a webcam picture (no black bars), and a missing device is one line that says how to get one."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from monkeycam.io import VirtualCamera, VirtualCameraUnavailable, fit_frame, setup_help
from monkeycam.io.virtual_camera import LINUX_COMMAND
from monkeycam.live.api import VirtualCameraStatus

pyvirtualcam = pytest.importorskip("pyvirtualcam")


class KeepingBackend:
    frames: list[np.ndarray] = []
    opened: dict = {}

    def __init__(self, *, width, height, fps, fourcc, device, **kw) -> None:
        KeepingBackend.frames = []
        KeepingBackend.opened = {"width": width, "height": height, "fps": fps}

    def send(self, frame: np.ndarray) -> None:
        KeepingBackend.frames.append(frame.copy())

    def close(self) -> None:
        KeepingBackend.opened["closed"] = True

    def device(self) -> str:
        return "keeping-device"

    def native_fourcc(self):
        return None


@pytest.fixture
def keeping_backend():
    from pyvirtualcam.camera import BACKENDS

    pyvirtualcam.register_backend("monkeycam-keeping", KeepingBackend)
    yield "monkeycam-keeping"
    BACKENDS.pop("monkeycam-keeping", None)


def test_frames_reach_a_registered_backend_at_the_camera_size(keeping_backend):
    with VirtualCamera(64, 48, fps=25, backend=keeping_backend) as camera:
        assert camera.device == "keeping-device"
        same = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        camera.send(same)
        camera.send(np.full((100, 100, 3), 255, np.uint8))  # another size: fitted, no bars
        with pytest.raises(ValueError, match="uint8 RGB"):
            camera.send(np.zeros((48, 64), np.uint8))
    assert KeepingBackend.opened["width"] == 64 and KeepingBackend.opened["closed"]
    assert [frame.size for frame in KeepingBackend.frames] == [64 * 48 * 3] * 2
    assert np.array_equal(KeepingBackend.frames[0].reshape(48, 64, 3), same)
    fitted = KeepingBackend.frames[1].reshape(48, 64, 3)
    assert fitted.min() == 255  # a white picture fills the whole frame: no black bars


def test_fit_frame_keeps_the_aspect_ratio_and_fills_the_frame():
    picture = np.full((120, 120, 3), 200, np.uint8)
    cv2.circle(picture, (60, 60), 30, (0, 0, 0), -1)  # a dark disc in the middle
    fitted = fit_frame(picture, 320, 180)
    assert fitted.shape == (180, 320, 3)
    dark = fitted[..., 0] < 100
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    width, height = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
    assert abs(width - height) <= 2  # still a disc, not an ellipse
    assert abs((cols[0] + cols[-1]) / 2 - 160) <= 2 and abs((rows[0] + rows[-1]) / 2 - 90) <= 2  # centred
    assert width < 180  # the disc (the picture's centre) is whole: not scaled to cover the width
    assert fitted[:, :10].min() > 100 and fitted[:, -10:].min() > 100  # the sides are the grey surroundings


@pytest.mark.skipif(not sys.platform.startswith("linux") or bool(list(Path("/dev").glob("video*"))),
                    reason="needs Linux without any /dev/video* device")
def test_a_missing_device_is_one_line_saying_how_to_get_one():
    with pytest.raises(VirtualCameraUnavailable) as caught:
        VirtualCamera(64, 64, backend="v4l2loopback")
    message = str(caught.value)
    assert "\n" not in message
    assert "sudo modprobe v4l2loopback devices=1 exclusive_caps=1" in message
    assert "install OBS Studio and start its virtual camera once" in message
    assert message.index("Linux") < message.index("Windows/macOS")
    with pytest.raises(VirtualCameraUnavailable, match="unknown virtual camera backend"):
        VirtualCamera(64, 64, backend="no-such-backend")


def test_setup_help_names_every_platform_this_platforms_way_first():
    text = setup_help()
    assert "v4l2loopback" in text and "OBS Studio" in text and "Windows/macOS" in text
    assert setup_help("linux").startswith(f"Linux: {LINUX_COMMAND}")
    assert setup_help("win32").startswith("Windows/macOS") and setup_help("darwin").startswith("Windows/macOS")


def test_the_status_is_a_value_that_describes_itself():
    on = VirtualCameraStatus("on", "/dev/video10", 256, 256)
    assert on.on and on.describe() == "virtual camera on: /dev/video10 (256x256)"
    call = VirtualCameraStatus("on", "/dev/video10", 1280, 720, fps=30.0)
    assert call.describe() == "virtual camera on: /dev/video10 (1280x720, 30 fps)"
    missing = VirtualCameraStatus("unavailable", reason="no device")
    assert not missing.on and missing.describe() == "virtual camera unavailable: no device"
    assert VirtualCameraStatus("off").describe() == "virtual camera off"
