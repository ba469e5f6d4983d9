"""`monkeycam evaluate`: reconstruction metrics checked against direct computations."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from monkeycam.checkpoint import load_checkpoint, save_checkpoint
from monkeycam.io import read_image, read_video
from monkeycam.model import build_model, preset
from monkeycam.paths import assets_dir
from tests.cli import run_monkeycam
from tests.media_files import moving_shapes, write_frame_folder, write_strip, write_video
from training.evaluate import evaluate_checkpoint, format_table
from training.visualise import draw_keypoints

SIZE = 64  # the face64 preset


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    return save_checkpoint(path, build_model(preset("face64")))


@pytest.fixture
def dataset(tmp_path):
    """test/still: 6 identical frames; test/moving: 7 frames of moving shapes (lossless)."""
    still = np.repeat(moving_shapes(1, SIZE, seed=8), 6, axis=0)
    moving = moving_shapes(7, SIZE, seed=9)
    write_strip(tmp_path / "data" / "test" / "still.png", still)
    write_frame_folder(tmp_path / "data" / "test" / "moving", moving)
    write_video(tmp_path / "data" / "train" / "unused.mp4", moving_shapes(4, SIZE))
    return tmp_path / "data", {"still.png": still, "moving": moving}


def evaluate(checkpoint, data, tmp_path, **kwargs):
    kwargs.setdefault("faces", False)
    return evaluate_checkpoint(checkpoint, data, cache_dir=tmp_path / "cache", progress=False, **kwargs)


def direct_l1(checkpoint, frames: np.ndarray) -> float:
    """L1 of the reconstruction computed frame by frame, straight from the model's networks."""
    model, _ = load_checkpoint(checkpoint)
    tensor = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    source = tensor[:1]
    errors = []
    with torch.no_grad():
        kp_source = model.kp_detector(source)
        for t in range(len(frames)):
            driving = tensor[t : t + 1]
            prediction = model.generator(source, kp_source, model.kp_detector(driving)).prediction
            errors.append((prediction - driving).abs().mean().item())
    return float(np.mean(errors))


def rows_by_name(report):
    return {row["name"]: row for row in report["videos"]}


# --------------------------------------------------------------------------- metrics


def test_baseline_is_zero_on_identical_frames_and_model_l1_matches_a_direct_computation(checkpoint, dataset, tmp_path):
    data, frames = dataset
    report = evaluate(checkpoint, data, tmp_path)
    rows = rows_by_name(report)
    assert set(rows) == {"still.png", "moving"}  # the test split only

    still = rows["still.png"]
    assert still["baseline"]["l1"] == 0.0 and still["frames"] == 6
    assert still["l1"] > 0.01  # an untrained model does not reproduce the frame
    assert still["l1"] == pytest.approx(direct_l1(checkpoint, frames["still.png"]), abs=1e-5)

    moving = rows["moving"]
    baseline = np.abs(frames["moving"].astype(np.float64) - frames["moving"][:1]).mean() / 255
    assert moving["baseline"]["l1"] == pytest.approx(baseline, abs=1e-6) and baseline > 0.01
    assert moving["l1"] == pytest.approx(direct_l1(checkpoint, frames["moving"]), abs=1e-5)

    # overall rows: every frame counts once
    assert report["frames"] == 13 and report["image_size"] == SIZE and report["checkpoint"] == "m.safetensors"
    assert report["l1"] == pytest.approx((6 * still["l1"] + 7 * moving["l1"]) / 13)
    assert report["baseline"]["l1"] == pytest.approx(7 * baseline / 13)
    for row in (report, report["baseline"], still, moving):
        assert row["akd"] is None and row["mkr"] is None  # faces=False


def test_batching_does_not_change_the_numbers(checkpoint, dataset, tmp_path):
    data, _ = dataset
    one = evaluate(checkpoint, data, tmp_path, batch_size=1)
    many = evaluate(checkpoint, data, tmp_path, batch_size=5)
    for a, b in zip(one["videos"], many["videos"]):
        assert a["l1"] == pytest.approx(b["l1"], abs=1e-6)


def test_json_holds_the_same_numbers(checkpoint, dataset, tmp_path):
    data, _ = dataset
    report = evaluate(checkpoint, data, tmp_path, json_path=tmp_path / "out" / "eval.json", max_frames=4)
    saved = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert {"l1", "akd", "mkr", "baseline", "videos", "checkpoint", "image_size", "frames"} <= set(saved)
    assert set(saved["baseline"]) == {"l1", "akd", "mkr", "aed"}
    assert saved["frames"] == 8 and all(row["frames"] == 4 for row in saved["videos"])  # --max-frames 4


def test_a_model_in_memory_gives_the_same_numbers_and_keeps_its_mode(checkpoint, dataset, tmp_path):
    data, _ = dataset
    model, _ = load_checkpoint(checkpoint)
    model.train()
    from_memory = evaluate(model, data, tmp_path)
    assert model.training
    from_file = evaluate(checkpoint, data, tmp_path)
    assert from_memory["l1"] == pytest.approx(from_file["l1"], abs=1e-6)


def test_no_faces_found_turns_landmark_metrics_off(checkpoint, dataset, tmp_path):
    data, _ = dataset
    report = evaluate(checkpoint, data, tmp_path, faces=None)
    assert report["faces"] is False and report["akd"] is None and report["baseline"]["mkr"] is None
    assert "-" in format_table(report).splitlines()[-1]


# --------------------------------------------------------------------------- face landmarks


def painted_face(size: int) -> np.ndarray:
    path = assets_dir() / "portrait_ada.png"
    if not path.exists():
        pytest.skip(f"{path} is absent (the painted test portrait ships in assets/)")
    return cv2.resize(read_image(path)[40:440, 56:456], (size, size), interpolation=cv2.INTER_AREA)


def shifted(image: np.ndarray, dx: float) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, 0]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_face_landmark_baseline_is_zero_on_identical_frames(checkpoint, tmp_path):
    face = painted_face(SIZE)
    write_strip(tmp_path / "faces" / "test" / "still.png", np.stack([face] * 4))
    report = evaluate(checkpoint, tmp_path / "faces", tmp_path, faces=None)
    assert report["faces"] is True  # found automatically
    assert report["baseline"] == {"l1": 0.0, "akd": 0.0, "mkr": 0.0, "aed": 0.0}
    assert report["mkr"] is not None  # the model's row is measured too


def test_akd_is_in_pixels_of_the_evaluation_resolution(checkpoint, tmp_path):
    """Frames 1-4 are frame 0 moved 4 px right at 64 px: the baseline's AKD is (0 + 4 x 4) / 5,
    not 4 times that (face mesh runs on 256 px upscales, distances are divided back)."""
    face = painted_face(SIZE)
    frames = np.stack([face] + [shifted(face, 4.0)] * 4)
    write_strip(tmp_path / "faces" / "test" / "shift.png", frames)
    report = evaluate(checkpoint, tmp_path / "faces", tmp_path, faces=True)
    assert report["baseline"]["mkr"] == 0.0
    assert report["baseline"]["akd"] == pytest.approx(16 / 5, abs=0.5)


def test_missing_landmarks_count_only_frames_with_a_face_in_the_real_frame(checkpoint, tmp_path):
    face = painted_face(SIZE)
    blank = np.full_like(face, 128)
    write_strip(tmp_path / "faces" / "test" / "face_first.png", np.stack([face, blank, face]))
    write_strip(tmp_path / "faces" / "test" / "blank_first.png", np.stack([blank, face, face]))
    rows = rows_by_name(evaluate(checkpoint, tmp_path / "faces", tmp_path, faces=True))
    # source = frame 0: with the face, no real face goes missing; without it, both do
    one_blank_frame = np.abs(face.astype(np.float64) - 128).mean() / 255 / 3
    assert rows["face_first.png"]["baseline"] == {"l1": pytest.approx(one_blank_frame), "akd": 0.0, "mkr": 0.0, "aed": 0.0}
    assert rows["blank_first.png"]["baseline"]["mkr"] == 1.0 and rows["blank_first.png"]["baseline"]["akd"] is None


# --------------------------------------------------------------------------- videos and the command


def test_keypoints_are_drawn_where_they_are():
    frame = np.zeros((64, 64, 3), np.uint8)
    drawn = draw_keypoints(frame, np.array([[-1.0, -1.0], [1.0, 1.0]]))
    assert drawn[0, 0].any() and drawn[63, 63].any() and not drawn[32, 32].any()
    assert not frame.any()  # the input is not modified



def test_the_command_prints_the_table_and_writes_json_and_videos(checkpoint, dataset, tmp_path):
    data, frames = dataset
    result = run_monkeycam("evaluate", "--checkpoint", str(checkpoint), "--data", str(data), "--json",
                       str(tmp_path / "eval.json"), "--save-video", str(tmp_path / "videos"), "--no-faces", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "no motion" in result.stdout and "all videos" in result.stdout and "not computed" in result.stdout
    report = json.loads((tmp_path / "eval.json").read_text())
    assert f"{report['l1']:.4f}" in result.stdout and f"{report['baseline']['l1']:.4f}" in result.stdout
    video = read_video(tmp_path / "videos" / "moving.mp4")
    assert video.shape == (7, 256, 3 * 256, 3)  # driving | generated | keypoints, 256 px panels
    driving = cv2.resize(frames["moving"][3], (256, 256), interpolation=cv2.INTER_CUBIC)
    assert np.abs(video[3, :, :256].astype(float) - driving).mean() < 8
    assert (tmp_path / "videos" / "still.mp4").exists()


def test_the_command_reports_bad_input_in_one_line(checkpoint, tmp_path):
    (tmp_path / "empty").mkdir()
    cases = [
        (["--checkpoint", str(tmp_path / "none.safetensors"), "--data", str(tmp_path / "empty")], "not found"),
        (["--checkpoint", str(checkpoint), "--data", str(tmp_path / "empty")], "no videos"),
        (["--checkpoint", str(checkpoint), "--data", str(tmp_path / "missing")], "not found"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--checkpoint", str(checkpoint), "--data", str(tmp_path), "--device", "cuda"], "CUDA"))
    for args, words in cases:
        result = run_monkeycam("evaluate", *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and words in lines[0], (args, result.stderr)
