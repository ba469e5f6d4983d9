"""Images and video files: round trips, and a clear MediaError for every bad file."""

from __future__ import annotations

import numpy as np
import pytest

from monkeycam.io import MediaError, VideoWriter, probe_video, read_image, read_video, write_image
from tests.media_files import moving_shapes


@pytest.mark.parametrize("suffix", [".avi", ".webm", ".mp4"])
def test_video_round_trip_keeps_frames_and_size(tmp_path, suffix):
    if suffix == ".mp4":
        pytest.importorskip("imageio_ffmpeg", reason="H.264 output needs imageio-ffmpeg")
    frames = moving_shapes(frames=6, height=48, width=64)
    path = tmp_path / f"clip{suffix}"
    with VideoWriter(path, fps=12) as writer:
        for frame in frames:
            writer.write(frame)
    decoded = read_video(path)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 12  # lossy codecs
    assert probe_video(path).fps == pytest.approx(12, abs=0.5)


def test_a_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "out.avi"
    with pytest.raises(MediaError, match="differs"), VideoWriter(path) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8))
        writer.write(np.zeros((16, 16, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match="no frame"):
        VideoWriter(tmp_path / "empty.avi").close()
    assert list(tmp_path.iterdir()) == []


def test_bad_output_names_and_folders(tmp_path):
    with pytest.raises(MediaError, match=".mp4, .avi or .webm"):
        VideoWriter(tmp_path / "out.gif")
    with pytest.raises(MediaError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "out.avi")


def test_image_round_trip_and_bad_images(tmp_path):
    image = moving_shapes(frames=1, height=40, width=30)[0]
    write_image(tmp_path / "a.png", image)
    assert np.array_equal(read_image(tmp_path / "a.png"), image)
    (tmp_path / "notes.png").write_text("not an image")
    for path, message in [(tmp_path / "nope.png", "not found"), (tmp_path / "notes.png", "not a readable image"),
                          (tmp_path, "folder")]:
        with pytest.raises(MediaError, match=message):
            read_image(path)


def test_undecodable_video(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00 not a video " * 100)
    with pytest.raises(MediaError, match="junk.mp4"):
        read_video(junk)
