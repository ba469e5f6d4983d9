"""Model categories (issue 14): a checkpoint says what it animates; a model that is not of faces
skips face detection and animates whole frames, in the engine, the commands and the window; the
reference's frame-strip format trains such a model with `monkeycam train`."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
import yaml

from monkeycam.checkpoint import read_info, save_checkpoint
from monkeycam.engine import create_engine
from monkeycam.face import crop_square, whole_frame_box
from monkeycam.io import probe_video, read_image, write_image
from monkeycam.live import EngineSettings
from monkeycam.model import ModelConfig, build_model, preset
from monkeycam.paths import assets_dir, weights_dir
from tests.cli import run_monkeycam
from tests.conftest import FACES, require_shared
from tests.media_files import moving_shapes, write_video
from tests.test_training import TINY
from training.body_pose import BodyPoseFinder
from training.data import iter_item_frames
from training.evaluate import body_sums, evaluate_checkpoint

# The window test's QApplication is made before conftest's per-test fixtures run (no display here).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def save_model(path, category: str) -> str:
    """face64's widths with random weights, stored with ``category``."""
    torch.manual_seed(0)
    save_checkpoint(path, build_model(preset("face64").replace(category=category)), include_discriminator=False)
    return str(path)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("categories")
    return {category: save_model(folder / f"{category}.safetensors", category) for category in ("face", "body")}


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return read_image(assets_dir() / "portrait_ada.png")  # a clear painted face: mediapipe finds it


# --------------------------------------------------------------------------- the config field


def test_configs_and_checkpoints_without_a_category_are_faces():
    raw = preset("face64").to_dict()
    del raw["category"]
    assert ModelConfig.from_dict(raw).category == "face"
    shipped = weights_dir() / "face64.safetensors"  # saved before the field existed
    if shipped.exists():
        assert read_info(shipped).config.category == "face"


def test_body_presets_and_bad_categories():
    assert preset("actions").category == "body" and not preset("actions").is_face
    assert preset("actions").image_size == 64 and preset("actions").num_kp == 10
    assert preset("face64").is_face and preset("nemo").is_face
    for bad in ("", "Body", "a body", "x" * 40, 3):
        with pytest.raises(ValueError, match="category"):
            preset("face64").replace(category=bad)


def test_the_category_travels_in_the_checkpoint(checkpoints):
    assert read_info(checkpoints["body"]).config.category == "body"
    assert read_info(checkpoints["face"]).config.category == "face"
    shown = run_monkeycam("info", checkpoints["body"])
    assert shown.returncode == 0 and "category" in shown.stdout and "body (whole frames" in shown.stdout


# --------------------------------------------------------------------------- the engine


def test_a_body_model_animates_the_whole_frame_even_when_faces_are_asked_for(checkpoints, portrait):
    pytest.importorskip("mediapipe")
    settings = {"backend": "cpu", "output_size": 64}
    face = create_engine(EngineSettings(checkpoint=checkpoints["face"], **settings), face_detection=True)
    body = create_engine(EngineSettings(checkpoint=checkpoints["body"], **settings), face_detection=True)
    assert face.face_detection and face.category == "face"
    assert not body.face_detection and body.category == "body"

    face_info, body_info = face.set_source(portrait), body.set_source(portrait)
    assert face_info.face_box is not None  # the same image: a face model crops the face
    assert body_info.face_box is None and body_info.warning is None  # no "no face found"
    whole = crop_square(portrait, whole_frame_box(portrait.shape[1], portrait.shape[0], cover=True), 64)
    assert np.array_equal(body_info.crop, whole)
    frame = body.process(moving_shapes(1, 96)[0])
    assert frame.image.shape == (64, 64, 3) and frame.driving_box == (0.0, 0.0, 96.0)
    for engine in (face, body):
        engine.close()


def test_loading_a_model_of_another_category_switches_face_detection(checkpoints, portrait):
    pytest.importorskip("mediapipe")
    engine = create_engine(EngineSettings(checkpoint=checkpoints["face"], backend="cpu"), face_detection=True)
    engine.set_source(portrait)
    engine.update_settings(engine.settings.updated(checkpoint=checkpoints["body"]))
    assert not engine.face_detection and engine.category == "body"
    assert engine.set_source(portrait).face_box is None
    engine.update_settings(engine.settings.updated(checkpoint=checkpoints["face"]))
    assert engine.face_detection and engine.set_source(portrait).face_box is not None
    engine.close()


def test_animate_a_body_checkpoint_with_no_extra_flag(checkpoints, portrait, tmp_path):
    pytest.importorskip("mediapipe")  # else the command says it skips face detection
    driving = write_video(tmp_path / "driving.mp4", moving_shapes(6, 64))
    out = tmp_path / "out.mp4"
    result = run_monkeycam("animate", "--checkpoint", checkpoints["body"], "--source",
                           str(assets_dir() / "portrait_ada.png"), "--driving", str(driving), "--out", str(out),
                           "--backend", "cpu", "--size", "64", "--paste-back")
    assert result.returncode == 0, result.stderr
    assert "face" not in result.stderr.lower(), result.stderr
    info = probe_video(out)
    # pasted back into the whole portrait: the output has the portrait's own size
    assert (info.width, info.height) == (portrait.shape[1], portrait.shape[0]) and info.frame_count == 6


# --------------------------------------------------------------------------- training on frame strips


def test_train_a_body_model_on_jpeg_frame_strips(tmp_path):
    data = tmp_path / "strips"
    for split, seeds in (("train", range(3)), ("test", range(3, 4))):
        (data / split).mkdir(parents=True)
        for seed in seeds:  # the reference's format: one JPEG, 32x32 frames side by side
            write_image(data / split / f"clip{seed}.jpg", np.concatenate(list(moving_shapes(6, 32, seed=seed)), axis=1))
    config = tmp_path / "body.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"config": TINY.replace(category="body").to_dict()},
        "train": {"steps": 3, "batch_size": 2, "log_every": 1, "checkpoint_every": 3, "image_every": 3},
    }))
    out = tmp_path / "run"
    result = run_monkeycam("train", "--config", str(config), "--data", str(data), "--out", str(out), "--device", "cpu",
                           "--no-progress", "--cache-dir", str(tmp_path / "cache"), env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    info = read_info(out / "model.safetensors")
    assert info.config.category == "body" and info.metadata["training"]["steps"] == 3
    assert "3 clips, 18 frames" in info.metadata["training"]["data"]
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert len(history) == 3 and all(np.isfinite(row["generator"]) for row in history)


# --------------------------------------------------------------------------- the window


def test_the_window_stops_saying_face_for_a_body_model(qtbot, checkpoints):
    pytest.importorskip("pytestqt")
    from monkeycam.gui.settings import AppState, SettingsStore
    from monkeycam.gui.window import MainWindow
    from tests.test_gui_window import FRAME_TIMEOUT_MS, start, stop, wait_for_frames

    SettingsStore().save(AppState(engine=EngineSettings(checkpoint=checkpoints["body"], output_size=64)))
    window = MainWindow()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.portrait_ready, timeout=FRAME_TIMEOUT_MS):
        window.show()
    qtbot.waitUntil(lambda: "body" in window.crop_view.title(), timeout=FRAME_TIMEOUT_MS)  # the model loaded
    assert "face" not in window.crop_view.title().lower()
    # the portrait's preview is cropped again for this model: the whole image, no "no face" warning
    qtbot.waitUntil(lambda: window.current_portrait() is not None and window.current_portrait().box is None,
                    timeout=FRAME_TIMEOUT_MS)
    assert window.current_portrait().warning is None and window.banner.level != "warning"
    window.driving.set_scripted()
    start(qtbot, window)
    wait_for_frames(qtbot, window, 2)
    assert "No face" not in window.statusBar().currentMessage()
    stop(qtbot, window)


# --------------------------------------------------------------------------- body measures

ACTIONS = FACES.parent / "objects" / "actions"


def test_body_sums_count_landmarks_and_average_the_shared_ones():
    nan = np.nan
    real = np.array([[0, 0], [10, 0], [nan, nan], [5, 5]], np.float32)
    generated = np.array([[3, 4], [nan, nan], [1, 1], [5, 5]], np.float32)
    sums = body_sums([real, real, None], [generated, None, generated])
    assert sums.real_with_landmarks == 6  # 3 visible landmarks in each of the 2 frames with a person
    assert sums.missing_in_generated == 1 + 3  # one landmark lost, then a frame without a person
    assert sums.akd_frames == 1 and sums.akd_sum == pytest.approx((5 + 0) / 2)
    row = sums.as_row(faces=False, bodies=True)
    assert row["mkr"] == pytest.approx(4 / 6) and row["akd"] == pytest.approx(2.5) and row["aed"] is None


def test_body_pose_finds_a_64px_person_and_follows_a_shift():
    pytest.importorskip("mediapipe")
    strip = require_shared(ACTIONS / "test" / "wz_60_jack_p7.jpg")
    frame = next(iter_item_frames(strip))
    finder = BodyPoseFinder()
    try:
        points = finder(frame)
        shifted = finder(np.ascontiguousarray(np.pad(frame, ((0, 0), (4, 0), (0, 0)), mode="edge")[:, :64]))
        blank = finder(np.full((64, 64, 3), 120, np.uint8))
    finally:
        finder.close()
    assert blank is None
    assert points is not None and np.isfinite(points[:, 0]).sum() >= 20
    both = np.isfinite(points[:, 0]) & np.isfinite(shifted[:, 0])
    moved = np.nanmedian(shifted[both, 0] - points[both, 0])
    assert 2.5 < moved < 5.5  # the landmarks come back in the frame's own 64-px coordinates
    assert np.all((points[both] > -8) & (points[both] < 72))


def test_evaluate_a_body_model_reports_body_akd_and_mkr(tmp_path):
    pytest.importorskip("mediapipe")
    data = tmp_path / "actions"
    (data / "test").mkdir(parents=True)
    for name in ("wz_60_jack_p7.jpg", "wz_66_wave1_p8.jpg"):
        (data / "test" / name).symlink_to(require_shared(ACTIONS / "test" / name))
    torch.manual_seed(0)
    model = build_model(preset("face64").replace(category="body"), with_discriminator=False)
    report = evaluate_checkpoint(model, data, max_frames=8, progress=False, cache_dir=tmp_path / "cache")
    assert report["bodies"] and not report["faces"] and report["category"] == "body"
    assert report["frames"] == 16 and "pose" in report["keypoints"]
    baseline, ours = report["baseline"], report
    assert baseline["akd"] > 0.5 and 0 <= baseline["mkr"] < 0.5  # real people move: frame 0 is off
    assert ours["mkr"] > baseline["mkr"] and ours["aed"] is None  # an untrained model draws no person
