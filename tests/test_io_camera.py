"""Cameras: listing is quick and honest, a missing camera is one clear line, a device that
OpenCV opens (here a video file standing in for a camera) delivers RGB frames until it stops."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from monkeycam.io import Camera, CameraError, CameraLost, VideoWriter, describe_cameras, list_cameras


def test_list_cameras_matches_the_video_devices_present():
    cameras = list_cameras()
    assert all(isinstance(index, int) and isinstance(label, str) and label for index, label in cameras)
    if sys.platform.startswith("linux"):
        nodes = {int(p.name[5:]) for p in Path("/dev").glob("video*") if p.name[5:].isdigit()}
        assert {index for index, _ in cameras} <= nodes
    assert describe_cameras([]) == "no camera found"
    assert describe_cameras([(0, "Integrated (640x480)")]) == "cameras found: 0 (Integrated (640x480))"


def test_a_camera_index_that_does_not_exist_is_one_clear_line():
    missing = max([index for index, _ in list_cameras()], default=-1) + 50
    with pytest.raises(CameraError) as caught:
        Camera(missing)
    message = str(caught.value)
    assert f"camera {missing} not found" in message and "\n" not in message


def test_a_device_delivers_rgb_frames_then_reports_it_stopped(tmp_path):
    path = tmp_path / "device.avi"
    with VideoWriter(path, fps=30) as writer:
        for _ in range(3):
            frame = np.zeros((32, 48, 3), np.uint8)
            frame[..., 0] = 220  # red in RGB
            writer.write(frame)
    with Camera(str(path)) as camera:
        assert camera.fps == pytest.approx(30, abs=1)
        frames = [camera.read() for _ in range(3)]
        assert all(f.shape == (32, 48, 3) and f.dtype == np.uint8 for f in frames)
        assert frames[0][..., 0].mean() > 180 and frames[0][..., 2].mean() < 60
        with pytest.raises(CameraLost, match="stopped delivering frames"):
            camera.read()
