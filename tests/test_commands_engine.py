"""The animate, stream and bench commands end to end (subprocesses), and every bad input: one
clear line on stderr, exit status 1, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from monkeycam.checkpoint import save_checkpoint
from monkeycam.io import VideoWriter, iter_video, probe_video, read_image, write_image
from monkeycam.model import build_model, preset
from monkeycam.paths import DEFAULT_CPU_MODEL
from tests.cli import one_line_error, run_monkeycam


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_monkeycam(*args, env=env, timeout=600)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A checkpoint, a portrait and a short driving video (a moving bright square)."""
    folder = tmp_path_factory.mktemp("media")
    torch.manual_seed(0)
    save_checkpoint(folder / "face64.safetensors", build_model(preset("face64")), include_discriminator=False)
    rng = np.random.default_rng(0)
    write_image(folder / "portrait.png", rng.integers(0, 256, (90, 70, 3), dtype=np.uint8))
    with VideoWriter(folder / "driving.avi", fps=25) as writer:
        for index in range(8):
            frame = np.full((72, 72, 3), 30, np.uint8)
            frame[20 + index : 50 + index, 10 + 2 * index : 40 + 2 * index] = 220
            writer.write(frame)
    (folder / "junk.mp4").write_bytes(b"\x00\x01 this is not a video" * 50)
    (folder / "notes.png").write_text("not an image")
    return folder


def common(media: Path) -> list[str]:
    return ["--checkpoint", str(media / "face64.safetensors"), "--no-face"]


# --------------------------------------------------------------------------- animate


def test_animate_writes_one_frame_per_driving_frame(media, tmp_path):
    pytest.importorskip("imageio_ffmpeg", reason="writing .mp4 (H.264) needs imageio-ffmpeg")
    out = tmp_path / "out.mp4"
    result = run("animate", "--source", str(media / "portrait.png"), "--driving", str(media / "driving.avi"),
                 "--out", str(out), "--size", "96", "--adapt-scale", *common(media))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "backend cpu" in result.stdout
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count) == (96, 96, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_animate_pose_and_expression_strength_change_the_output(media, tmp_path):
    outputs = {}
    for pose, expression in (("1", "1"), ("0", "1"), ("1", "0")):
        out = tmp_path / f"strength_{pose}_{expression}.avi"
        result = run("animate", "--source", str(media / "portrait.png"), "--driving", str(media / "driving.avi"),
                     "--out", str(out), "--size", "64", "--pose-strength", pose, "--expression-strength", expression,
                     *common(media))
        assert result.returncode == 0, result.stderr
        outputs[pose, expression] = np.stack(list(iter_video(out)))
    assert outputs["1", "1"].shape == outputs["0", "1"].shape == (8, 64, 64, 3)
    assert np.abs(outputs["1", "1"].astype(int) - outputs["0", "1"]).max() > 0
    assert np.abs(outputs["1", "1"].astype(int) - outputs["1", "0"]).max() > 0


def test_animate_with_paste_back_keeps_the_portrait_size(media, tmp_path):
    out = tmp_path / "pasted.avi"
    result = run("animate", "--source", str(media / "portrait.png"), "--driving", str(media / "driving.avi"),
                 "--out", str(out), "--paste-back", "--absolute", "--max-frames", "3", *common(media))
    assert result.returncode == 0, result.stderr
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count) == (70, 90, 3)


ASSETS = Path(__file__).resolve().parents[1] / "assets"


def has_black_bar(frame: np.ndarray, level: int = 16) -> bool:
    """Whether an outermost row or column of ``frame`` is entirely dark."""
    return any(int(edge.max()) <= level for edge in (frame[0], frame[-1], frame[:, 0], frame[:, -1]))


@pytest.mark.parametrize("size", [None, "640x480"])
def test_stream_out_gets_the_call_frame_filled_by_the_pasted_back_portrait(media, tmp_path, size):
    pytest.importorskip("imageio_ffmpeg", reason="writing .mp4 (H.264) needs imageio-ffmpeg")
    out = tmp_path / "call.mp4"
    portrait = ASSETS / "portrait_bram.png"
    result = run("stream", "--source", str(portrait), "--scripted", "--seconds", "3", "--out", str(out),
                 *(["--vcam-size", size] if size else []))  # the shipped model, face detection
    assert result.returncode == 0, result.stderr
    info = probe_video(out)
    assert (info.width, info.height) == ((1280, 720) if size is None else (640, 480))
    assert info.fps == 30.0 and info.frame_count >= 60  # real time at the default cap: ~3 s of 30 frames/s
    frames = list(iter_video(out))
    assert not any(has_black_bar(frame) for frame in frames)
    # the whole portrait is there (pasted back, not the face crop alone): its own top-left colour
    # (the background) fills the frame's corners as it does the portrait's
    corner = read_image(portrait)[:20, :20].reshape(-1, 3).mean(axis=0)
    assert np.abs(frames[-1][:20, :20].reshape(-1, 3).mean(axis=0) - corner).max() < 25


@pytest.mark.parametrize("value, expected", [("641x480", "even numbers"), ("wide", "WIDTHxHEIGHT"),
                                             ("99999x720", "from 160x120 to 3840x2160")])
def test_stream_refuses_a_bad_vcam_size_in_one_line(media, tmp_path, value, expected):
    out = tmp_path / "never.mp4"
    result = run("stream", "--source", str(media / "portrait.png"), "--scripted", "--frames", "3", "--out",
                 str(out), "--vcam-size", value, *common(media))
    one_line_error(result, "--vcam-size", expected)
    assert not out.exists()


def test_stream_refuses_a_bad_fps_in_one_line(media):
    result = run("stream", "--source", str(media / "portrait.png"), "--scripted", "--frames", "3", "--fps", "0",
                 *common(media))
    one_line_error(result, "--fps must be from 1 to 60")


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing source", ["image not found", "nothing.png"]),
        ("source is not an image", ["notes.png is not a readable image"]),
        ("undecodable driving video", ["junk.mp4 cannot be decoded"]),
        ("missing driving video", ["video not found"]),
        ("output folder missing", ["output folder does not exist"]),
        ("output inside a file", ["output folder does not exist"]),
        ("output format", ["use a .mp4, .avi or .webm"]),
        ("bad checkpoint", ["notes.png is not a monkeycam checkpoint"]),
        ("smoothing out of range", ["--smoothing must be between 0 and 1"]),
        ("crop scale not positive", ["--crop-scale must be from 0.5 to 8.0, got -1.0"]),
        ("pose strength out of range", ["--pose-strength must be between 0 and 2, got 2.5"]),
        ("expression strength out of range", ["--expression-strength must be between 0 and 2, got -1.0"]),
    ],
)
def test_animate_bad_input_is_one_line_and_writes_nothing(media, tmp_path, case, expected):
    source, driving, out = media / "portrait.png", media / "driving.avi", tmp_path / "out.mp4"
    extra: list[str] = []
    checkpoint = str(media / "face64.safetensors")
    if case == "missing source":
        source = media / "nothing.png"
    elif case == "source is not an image":
        source = media / "notes.png"
    elif case == "undecodable driving video":
        driving = media / "junk.mp4"
    elif case == "missing driving video":
        driving = media / "gone.mp4"
    elif case == "output folder missing":
        out = tmp_path / "no" / "such" / "out.mp4"
    elif case == "output inside a file":
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "out.mp4"
    elif case == "output format":
        out = tmp_path / "out.xyz"
    elif case == "bad checkpoint":
        checkpoint = str(media / "notes.png")
    elif case == "smoothing out of range":
        extra = ["--smoothing", "3"]
    elif case == "crop scale not positive":
        extra = ["--crop-scale", "-1"]
    elif case == "pose strength out of range":
        extra = ["--pose-strength", "2.5"]
    elif case == "expression strength out of range":
        extra = ["--expression-strength", "-1"]
    before = sorted(tmp_path.rglob("*"))
    result = run("animate", "--source", str(source), "--driving", str(driving), "--out", str(out),
                 "--checkpoint", checkpoint, "--no-face", *extra)
    one_line_error(result, "monkeycam animate: error:", *expected)
    assert sorted(tmp_path.rglob("*")) == before


def test_animate_without_the_shipped_model_says_how_to_pass_one(media, tmp_path):
    out = tmp_path / "out.mp4"
    result = run("animate", "--source", str(media / "portrait.png"), "--driving", str(media / "driving.avi"),
                 "--out", str(out), "--no-face", env={"MONKEYCAM_WEIGHTS_DIR": str(tmp_path)})
    one_line_error(result, DEFAULT_CPU_MODEL, "--checkpoint")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- stream


def test_stream_scripted_motion_to_a_file_prints_live_figures(media, tmp_path):
    out = tmp_path / "live.avi"
    result = run("stream", "--source", str(media / "portrait.png"), "--scripted", "--frames", "12", "--out", str(out),
                 "--size", "64", *common(media))
    assert result.returncode == 0, result.stderr
    assert "fps | latency" in result.stdout and "skipped" in result.stdout
    assert "done: 12 frames" in result.stdout or "done: 13 frames" in result.stdout
    assert probe_video(out).frame_count >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.avi"]


def test_stream_from_a_video_file_unpaced(media):
    result = run("stream", "--source", str(media / "portrait.png"), "--driving", str(media / "driving.avi"),
                 "--frames", "10", "--unpaced", "--size", "64", *common(media))
    assert result.returncode == 0, result.stderr
    assert "streaming video" in result.stdout and "done:" in result.stdout and " 0 camera frames skipped" in result.stdout


@pytest.mark.parametrize(
    "case, expected",
    [
        ("camera that does not exist", ["camera 7 not found"]),
        ("undecodable driving video", ["junk.mp4 cannot be decoded"]),
        ("recording folder missing", ["output folder does not exist"]),
        ("source is not an image", ["notes.png is not a readable image"]),
    ],
)
def test_stream_bad_input_is_one_line_and_writes_nothing(media, tmp_path, case, expected):
    args = ["stream", "--source", str(media / "portrait.png"), "--frames", "3", *common(media)]
    if case == "camera that does not exist":
        args += ["--camera", "7"]
    elif case == "undecodable driving video":
        args += ["--driving", str(media / "junk.mp4")]
    elif case == "recording folder missing":
        args += ["--scripted", "--out", str(tmp_path / "missing" / "out.mp4")]
    elif case == "source is not an image":
        args[2] = str(media / "notes.png")
        args += ["--scripted"]
    result = run(*args)
    one_line_error(result, "monkeycam stream: error:", *expected)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux") or bool(list(Path("/dev").glob("video*"))),
                    reason="needs Linux without any /dev/video* device")
def test_stream_to_a_missing_virtual_camera_says_how_to_get_one(media):
    result = run("stream", "--source", str(media / "portrait.png"), "--scripted", "--vcam", "--frames", "3",
                 *common(media))
    one_line_error(result, "virtual camera unavailable", "modprobe v4l2loopback", "OBS Studio")


# --------------------------------------------------------------------------- bench


def test_bench_reports_stages_cache_gain_and_writes_json(media, tmp_path):
    out = tmp_path / "bench.json"
    result = run("bench", "--preset", "face64", "--backend", "cpu", "--backend", "tensorrt", "--frames", "4",
                 "--warmup", "1", "--no-face", "--size", "64", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "model time" in result.stdout and "no cache" in result.stdout and "outside the networks" in result.stdout
    report = json.loads(out.read_text())
    cpu, tensorrt = report["backends"]
    assert cpu["available"] and cpu["network_fps"] > 0 and cpu["frame"]["total_ms"] > 0
    assert cpu["uncached_frame_ms"] > 0 and cpu["source_switch_back_ms"] < cpu["source_prepare_ms"]
    assert not tensorrt["available"] and "unavailable" in result.stdout
    assert report["context"]["face_detection"] is False and report["context"]["image_size"] == 64


def test_bench_with_an_unknown_preset_is_one_line():
    one_line_error(run("bench", "--preset", "face65", "--frames", "1"), "unknown preset 'face65'")
