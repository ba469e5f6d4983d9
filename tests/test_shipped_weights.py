"""The shipped face models: they load, describe themselves, are used by default, and animate
a real held-out talking-head clip better than the no-motion baseline."""

from __future__ import annotations

import pytest

from monkeycam.checkpoint import read_info
from monkeycam.io import VideoWriter, probe_video, read_image, read_video
from monkeycam.model import preset
from monkeycam.paths import DEFAULT_CPU_MODEL, DEFAULT_GPU_MODEL, assets_dir, weights_dir
from tests.cli import run_monkeycam
from tests.conftest import FACES, require_shared


def shipped(name: str):
    path = weights_dir() / name
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    return path


def test_the_cpu_default_is_the_native_256_px_real_time_model():
    assert DEFAULT_CPU_MODEL == "live256.safetensors"
    config = read_info(shipped(DEFAULT_CPU_MODEL)).config
    assert config.image_size == 256 and config.generator.blend_source


@pytest.mark.parametrize("name, preset_name", [
    (DEFAULT_CPU_MODEL, "live256"), ("face64.safetensors", "face64"), (DEFAULT_GPU_MODEL, "face256"),
])
def test_shipped_files_are_inference_checkpoints_with_their_story(name, preset_name):
    path = shipped(name)
    info = read_info(path)
    assert info.config == preset(preset_name)
    assert info.networks == ("kp_detector", "generator")
    training = info.metadata["training"]
    assert training["steps"] > 1000 and "../shared/data/faces" in training["data"]
    assert "PC-AVS" in training["data_attribution"]
    assert path.stat().st_size <= 16 * 2**20


def test_animate_uses_the_shipped_model_by_default(tmp_path):
    shipped(DEFAULT_CPU_MODEL)
    portrait = read_image(assets_dir() / "portrait_bram.png")
    with VideoWriter(tmp_path / "driving.avi", fps=25) as writer:
        for shift in range(0, 12, 2):
            writer.write(portrait[::2, ::2][:, shift:shift + 200].copy())
    out = tmp_path / "out.avi"
    result = run_monkeycam("animate", "--source", str(assets_dir() / "portrait_ada.png"),
                           "--driving", str(tmp_path / "driving.avi"), "--out", str(out), "--backend", "cpu",
                           timeout=600)
    assert result.returncode == 0, result.stderr
    assert probe_video(out).frame_count == 6
    assert read_video(out).std() > 10


@pytest.mark.slow
@pytest.mark.parametrize("name", ["face64.safetensors", DEFAULT_CPU_MODEL])
def test_shipped_cpu_models_beat_the_no_motion_baseline_on_a_held_out_clip(tmp_path, name):
    """Quality regression guard (the full evaluation is in weights/README.md)."""
    shipped(name)
    clip = require_shared(FACES / "test" / "lp_d3.mp4")
    from training.evaluate import evaluate_checkpoint
    from training.prepare import prepare_faces

    raw = tmp_path / "raw" / "test"
    raw.mkdir(parents=True)
    (raw / clip.name).symlink_to(clip)
    prepare_faces(tmp_path / "raw", tmp_path / "prepared", size=256, progress=False)
    report = evaluate_checkpoint(weights_dir() / name, tmp_path / "prepared", max_frames=150,
                                 faces=True, progress=False, cache_dir=tmp_path / "cache")
    assert report["frames"] == 150
    assert report["l1"] < 0.8 * report["baseline"]["l1"]
    assert report["akd"] < 0.6 * report["baseline"]["akd"]
    assert report["mkr"] <= report["baseline"]["mkr"] + 0.05
