"""`monkeycam prepare`: shot planning, face crops found by the real detector, generic crops, bad input."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np
import pytest

from monkeycam.face import FaceBox, FaceDetector
from monkeycam.io import probe_video, read_image, read_video
from monkeycam.paths import assets_dir
from tests.cli import one_line_error, run_monkeycam
from tests.conftest import FACES, require_shared
from tests.media_files import (
    mean_abs_difference,
    moving_shapes,
    write_frame_folder,
    write_junk,
    write_strip,
    write_video,
)
from training.data import DatasetError, square_resize
from training.prepare import (
    MANIFEST,
    FaceCropSettings,
    FaceSample,
    PrepareError,
    parse_crops,
    plan_shots,
    prepare_faces,
    prepare_generic,
)

SETTINGS = FaceCropSettings()


def face_at(x: float, y: float, size: float) -> FaceBox:
    """A square face box centred on (x, y)."""
    return FaceBox(x - size / 2, y - size / 2, size, size, 0.9)


def samples(frames: range, *faces_of) -> list[FaceSample]:
    """One sample per frame of ``frames``; ``faces_of(frame)`` gives its boxes."""
    found = []
    for f in frames:
        boxes = sorted((box for fn in faces_of for box in fn(f)), key=lambda b: b.area, reverse=True)
        found.append(FaceSample(f, tuple(boxes)))  # largest first, as the detector gives them
    return found


def plan(found, frame_count, frame_size=(640, 480), stride=2, fps=25.0, settings=SETTINGS):
    return plan_shots(found, frame_count, frame_size, fps, stride, settings)


# --------------------------------------------------------------------------- shot planning


def test_a_steady_face_gives_one_shot_with_an_enlarged_square_moved_up():
    found = samples(range(0, 60, 2), lambda f: [face_at(320 + (f % 6), 240, 100)])
    shots, dropped = plan(found, 60)
    assert dropped == 0 and len(shots) == 1
    shot = shots[0]
    assert (shot.start, shot.stop) == (0, 60) and shot.face_size == 100
    assert shot.box.size == pytest.approx(200)  # scale 2 x face
    cx, cy = shot.box.centre
    assert cx == pytest.approx(322) and cy == pytest.approx(240 - 0.1 * 100)  # shifted up


def test_a_face_that_moves_far_starts_a_new_shot():
    found = samples(range(0, 120, 2), lambda f: [face_at(200 if f < 60 else 440, 240, 100)])
    shots, _ = plan(found, 120)
    assert [(s.start, s.stop) for s in shots] == [(0, 60), (60, 120)]
    assert shots[0].box.centre[0] == pytest.approx(200) and shots[1].box.centre[0] == pytest.approx(440)


def test_a_face_that_grows_a_lot_starts_a_new_shot():
    found = samples(range(0, 80, 2), lambda f: [face_at(320, 240, 80 if f < 40 else 140)])
    shots, _ = plan(found, 80)
    assert len(shots) == 2 and shots[0].box.size == pytest.approx(160) and shots[1].box.size == pytest.approx(280)


def test_a_long_gap_without_a_face_splits_and_drops_the_gap_a_short_one_is_bridged():
    long_gap = samples(range(0, 160, 2), lambda f: [face_at(320, 240, 100)] if f <= 40 or f >= 100 else [])
    shots, _ = plan(long_gap, 160)
    assert [(s.start, s.stop) for s in shots] == [(0, 42), (100, 160)]
    short_gap = samples(range(0, 160, 2), lambda f: [face_at(320, 240, 100)] if f <= 40 or f >= 56 else [])
    shots, _ = plan(short_gap, 160)
    assert [(s.start, s.stop) for s in shots] == [(0, 160)]


def test_short_shots_and_small_faces_are_dropped():
    brief = samples(range(0, 100, 2), lambda f: [face_at(320, 240, 100)] if f < 10 else [])
    assert plan(brief, 100) == ([], 1)
    tiny = samples(range(0, 100, 2), lambda f: [face_at(320, 240, 20)])  # below min_face = 32
    assert plan(tiny, 100) == ([], 0)


def test_another_person_in_view_does_not_break_the_shot():
    found = samples(
        range(0, 60, 2),
        lambda f: [] if 20 <= f <= 24 else [face_at(200 + f % 3, 240, 120)],  # turns away briefly
        lambda f: [face_at(480, 240, 100)],  # another person, alone in view meanwhile
    )
    shots, _ = plan(found, 60)
    assert [(s.start, s.stop) for s in shots] == [(0, 60)]
    assert abs(shots[0].box.centre[0] - 201) < 1.5 and shots[0].face_size == 120


def test_a_face_that_moves_away_and_back_is_cut_out():
    found = samples(range(0, 80, 2), lambda f: [face_at(440 if 30 <= f < 40 else 200, 240, 100)])
    shots, dropped = plan(found, 80)
    assert [(s.start, s.stop) for s in shots] == [(0, 30), (40, 80)] and dropped == 1


def test_a_crop_larger_than_the_frame_shrinks_to_it_when_the_face_still_fits():
    fits = samples(range(0, 40, 2), lambda f: [face_at(112, 112, 140)])
    (shot,), _ = plan(fits, 40, frame_size=(224, 224))
    assert (shot.box.x, shot.box.y, shot.box.size) == (0, 0, 224)  # 224 >= 1.5 x 140
    too_big = samples(range(0, 40, 2), lambda f: [face_at(112, 112, 180)])
    (shot,), _ = plan(too_big, 40, frame_size=(224, 224))
    assert shot.box.size == pytest.approx(360) and shot.box.x < 0  # padded, face kept at scale 2


def test_a_crop_slides_into_the_frame_but_never_off_the_face():
    near_top = samples(range(0, 40, 2), lambda f: [face_at(320, 80, 100)])
    (shot,), _ = plan(near_top, 40)
    assert shot.box.y == 0  # slid down from -30 into the frame
    at_edge = samples(range(0, 40, 2), lambda f: [face_at(320, 30, 100)])
    (shot,), _ = plan(at_edge, 40)
    assert shot.box.y == pytest.approx(30 - 50 - 25)  # as far as the face (plus hair margin) allows
    near_left = samples(range(0, 40, 2), lambda f: [face_at(70, 240, 100)])
    (shot,), _ = plan(near_left, 40)
    assert shot.box.x == 0 and shot.box.size == 200
    near_right = samples(range(0, 40, 2), lambda f: [face_at(600, 240, 100)])
    (shot,), _ = plan(near_right, 40)
    assert shot.box.x == pytest.approx(600 + 50 + 10 - 200)  # slid left until the face (+ margin) reaches the edge


# --------------------------------------------------------------------------- faces, with the real detector


def portrait(size: int) -> np.ndarray:
    path = assets_dir() / "portrait_ada.png"
    if not path.exists():
        pytest.skip(f"{path} is absent (the painted test portrait ships in assets/)")
    return cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA)


def face_video_with_a_jump(frames: int = 80, width: int = 480, height: int = 270) -> np.ndarray:
    """The painted portrait (200 px) bobbing on the left half, then on the right half."""
    face = portrait(200)
    video = np.full((frames, height, width, 3), 90, np.uint8)
    for t in range(frames):
        x = (20 if t < frames // 2 else 260) + t % 3
        y = 30 + (t % 4)
        video[t, y : y + 200, x : x + 200] = face
    return video


def detected_face(frame: np.ndarray) -> FaceBox | None:
    with FaceDetector(full_range=False) as detector:
        return detector.largest(frame)


def test_prepare_faces_cuts_one_square_clip_per_shot_with_the_face_inside(tmp_path):
    raw = tmp_path / "raw"
    write_video(raw / "train" / "jump.mp4", face_video_with_a_jump())
    write_video(raw / "train" / "no_face.mp4", moving_shapes(30, 96))
    write_video(raw / "test" / "still.mp4", face_video_with_a_jump()[:30])
    out = tmp_path / "out"

    report = prepare_faces(raw, out, size=128, progress=False)

    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4")) == [
        "test/still.mp4", "train/jump_shot1.mp4", "train/jump_shot2.mp4"]
    assert [(p.name, "no face" in why) for p, why in report.skipped] == [("no_face.mp4", True)]
    jump = next(c for c in report.clips if c.source.name == "jump.mp4")
    assert [(s.start, s.stop) for s in jump.shots] == [(0, 40), (40, 80)]
    for path in out.rglob("*.mp4"):
        video = read_video(path)
        assert video.shape[1:] == (128, 128, 3)
        for frame in (video[0], video[-1]):
            box = detected_face(frame)
            assert box is not None, path
            assert 0.3 * 128 < box.width < 0.7 * 128  # scale 2: the face is about half the crop
            assert abs(box.centre[0] - 64) < 0.15 * 128, path
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["mode"] == "faces" and len(manifest["clips"]) == 2
    assert manifest["skipped"][0]["source"].endswith("no_face.mp4")


@pytest.mark.shared
def test_prepare_faces_on_a_real_talking_head_clip(tmp_path):
    clip = require_shared(FACES / "test" / "pcavs_796100172.mp4")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / clip.name).symlink_to(clip)  # read in place: the shared clips are never copied
    out = tmp_path / "out"
    report = prepare_faces(raw, out, size=96, progress=False)
    written = out / clip.name
    assert report.clips[0].outputs == [written] and report.skipped == []
    info = probe_video(written)
    assert (info.width, info.height) == (96, 96)
    assert info.frame_count == probe_video(clip).frame_count
    video = read_video(written)
    for index in (0, len(video) // 2, len(video) - 1):
        box = detected_face(video[index])
        assert box is not None and box.width > 0.3 * 96


def test_prepare_faces_without_any_face_fails_and_writes_nothing(tmp_path):
    write_video(tmp_path / "raw" / "shapes.mp4", moving_shapes(20, 64))
    out = tmp_path / "out"
    with pytest.raises(DatasetError, match="no usable clip"):
        prepare_faces(tmp_path / "raw", out, size=64, progress=False)
    assert not out.exists()


# --------------------------------------------------------------------------- generic


def test_prepare_generic_mirrors_splits_and_centre_crops(tmp_path):
    raw = tmp_path / "raw"
    wide = moving_shapes(10, height=64, width=96, seed=2)
    write_frame_folder(raw / "train" / "wide", wide)
    write_video(raw / "test" / "square.mp4", moving_shapes(7, 64, seed=3))
    write_junk(raw / "train" / "broken.mp4")
    out = tmp_path / "out"
    (out / "train").mkdir(parents=True)
    write_video(out / "train" / "wide_shot3.mp4", moving_shapes(3, 32))  # stale output of an earlier run

    report = prepare_generic(raw, out, size=32, progress=False)

    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4")) == ["test/square.mp4", "train/wide.mp4"]
    assert [p.name for p, _ in report.skipped] == ["broken.mp4"]
    video = read_video(out / "train" / "wide.mp4")
    assert video.shape == (10, 32, 32, 3)
    expected = np.stack([square_resize(frame, 32) for frame in wide])
    assert mean_abs_difference(video, expected) < 6
    assert "prepared 2 of 3 clips" in report.summary()


def test_flat_input_gives_flat_output(tmp_path):
    write_video(tmp_path / "raw" / "a.mp4", moving_shapes(5, 48))
    write_video(tmp_path / "raw" / "a.avi", moving_shapes(5, 48, seed=1))
    prepare_generic(tmp_path / "raw", tmp_path / "out", size=16, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_avi.mp4", "a_mp4.mp4", MANIFEST]


def composite(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A side-by-side demo video like the tai-chi composites: the real clip (48x48, moving
    shapes) in the top-right cell of a 112x96 frame, other pictures in the rest. Returns
    (composite frames, real clip)."""
    real = moving_shapes(frames, 48, seed=seed)
    other = moving_shapes(frames, 96, width=112, seed=seed + 10)
    other[:, 0:48, 64:112] = real
    return other, real


def test_a_crop_cuts_the_real_clip_out_of_composites_and_named_crops_win(tmp_path):
    raw = tmp_path / "raw"
    big, big_real = composite(8, seed=1)
    write_video(raw / "train" / "cmp_a.mp4", big)
    bottom = moving_shapes(8, 96, width=112, seed=5)
    bottom[:, 40:88, 8:56] = big_real  # the real cell of this one lies elsewhere
    write_video(raw / "train" / "other.mp4", bottom)
    write_frame_folder(raw / "test" / "cmp_b", composite(6, seed=2)[0])
    out = tmp_path / "out"

    report = prepare_generic(raw, out, size=32, progress=False, crops=parse_crops(["64,0,48,48", "other=8,40,48,48"]))

    assert not report.skipped
    expected = np.stack([square_resize(frame, 32) for frame in big_real])
    for name in ("train/cmp_a.mp4", "train/other.mp4"):
        video = read_video(out / name)
        assert video.shape == (8, 32, 32, 3)
        assert mean_abs_difference(video, expected) < 6, name
        uncropped = np.stack([square_resize(frame, 32) for frame in read_video(raw / name)])
        assert mean_abs_difference(video, uncropped) > 20  # the crop really changed what was kept
    assert mean_abs_difference(read_video(out / "test" / "cmp_b.mp4"),
                               np.stack([square_resize(f, 32) for f in composite(6, seed=2)[1]])) < 6
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["settings"]["crop"] == {"default": "64,0,48,48", "patterns": {"other": "8,40,48,48"}}
    shots = {clip["outputs"][0]: clip["shots"][0]["crop_xy_side"] for clip in manifest["clips"]}
    assert shots["train/cmp_a.mp4"] == [64, 0, 48] and shots["train/other.mp4"] == [8, 40, 48]


def test_a_real_tai_chi_composite_with_its_crop(tmp_path):
    clip = require_shared(FACES.parent / "objects" / "taichi" / "train" / "tc_mraa_reg00_A.mp4")  # 256x512
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / clip.name).symlink_to(clip)
    prepare_generic(raw, tmp_path / "out", size=64, progress=False, crops=parse_crops(["0,0,256,256"]))
    video = read_video(tmp_path / "out" / clip.name)
    whole = read_video(clip)
    top, bottom = (np.stack([cv2.resize(f[rows], (64, 64), interpolation=cv2.INTER_AREA) for f in whole])
                   for rows in (slice(0, 256), slice(256, 512)))
    assert video.shape == top.shape
    assert mean_abs_difference(video, top) < 8 < mean_abs_difference(video, bottom)  # 8: H.264 at 64 px


def test_frame_strips_are_prepared_like_videos(tmp_path):
    frames = moving_shapes(7, 40, seed=4)
    write_strip(tmp_path / "raw" / "strip.png", frames)
    prepare_generic(tmp_path / "raw", tmp_path / "out", size=40, progress=False)
    assert mean_abs_difference(read_video(tmp_path / "out" / "strip.mp4"), frames) < 6


# --------------------------------------------------------------------------- bad input, through the command


def test_bad_crops_give_one_line_and_write_nothing(tmp_path):
    raw = tmp_path / "raw"
    write_video(raw / "a.mp4", moving_shapes(4, 48))
    out = tmp_path / "out"
    for crop, words in (("0,0,32", "x,y,w,h"), ("a,b,c,d", "x,y,w,h"), ("-1,0,16,16", "x, y >= 0"),
                        ("0,0,1,16", "w, h >= 2"), ("nope=0,0,16,16", "no input clip is called 'nope'"),
                        ("0,0,64,16", "does not fit its 48x48 frames")):
        result = run_monkeycam("prepare", "generic", str(raw), str(out), "--size", "16", f"--crop={crop}", "--quiet")
        assert_one_line_error(result, words)
        assert not out.exists(), crop
    twice = run_monkeycam("prepare", "generic", str(raw), str(out), "--crop", "0,0,8,8", "--crop", "0,0,16,16")
    assert_one_line_error(twice, "given twice")




def assert_one_line_error(result: subprocess.CompletedProcess, words: str) -> None:
    assert one_line_error(result, words).startswith("monkeycam prepare: error:"), result.stderr


@pytest.mark.parametrize("mode", ["faces", "generic"])
def test_bad_folders_give_one_line_and_create_nothing(tmp_path, mode):
    out = tmp_path / "out"
    assert_one_line_error(run_monkeycam("prepare", mode, str(tmp_path / "missing"), str(out)), "not found")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_monkeycam("prepare", mode, str(tmp_path / "empty"), str(out)), "no videos")
    assert not out.exists()
    raw = tmp_path / "raw"
    write_video(raw / "a.mp4", moving_shapes(4, 32))
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("a file where a folder should be")
    assert_one_line_error(run_monkeycam("prepare", mode, str(raw), str(blocker / "out")), "is a file")
    assert_one_line_error(run_monkeycam("prepare", mode, str(raw), str(blocker)), "not a folder")
    assert_one_line_error(run_monkeycam("prepare", mode, str(raw), str(raw / "out")), "inside it")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker.txt", "empty", "raw"]
    assert [p.name for p in raw.iterdir()] == ["a.mp4"]


def test_the_command_lists_skipped_clips_and_prints_a_summary(tmp_path):
    write_video(tmp_path / "raw" / "good.mp4", moving_shapes(6, 48))
    write_junk(tmp_path / "raw" / "bad.mp4")
    result = run_monkeycam("prepare", "generic", str(tmp_path / "raw"), str(tmp_path / "out"), "--size", "32", "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "skipped 1:" and "bad.mp4" in lines[1] and "unreadable" in lines[1]
    assert lines[-1].startswith("prepared 1 of 2 clips into")


def test_prepare_error_is_a_value_error():
    assert issubclass(PrepareError, ValueError) and issubclass(DatasetError, ValueError)


def test_a_populated_output_folder_is_refused_unless_it_is_an_earlier_prepare_replaced_with_overwrite(tmp_path):
    write_video(tmp_path / "a" / "first.mp4", moving_shapes(5, 48))
    write_video(tmp_path / "b" / "second.mp4", moving_shapes(5, 48, seed=1))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "first.mp4").write_bytes(b"the user's own video")
    result = run_monkeycam("prepare", "generic", str(tmp_path / "a"), str(mine), "--size", "16", "--quiet", "--overwrite")
    assert_one_line_error(result, "not made by `monkeycam prepare`")
    assert [p.name for p in mine.iterdir()] == ["first.mp4"] and (mine / "first.mp4").read_bytes() == b"the user's own video"

    out = tmp_path / "out"
    assert run_monkeycam("prepare", "generic", str(tmp_path / "a"), str(out), "--size", "16", "--quiet").returncode == 0
    refused = run_monkeycam("prepare", "generic", str(tmp_path / "b"), str(out), "--size", "16", "--quiet")
    assert "--overwrite" in one_line_error(refused, "holds clips prepared from")
    assert sorted(p.name for p in out.iterdir()) == ["first.mp4", MANIFEST]
    result = run_monkeycam("prepare", "generic", str(tmp_path / "b"), str(out), "--size", "16", "--quiet", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "second.mp4"]
    described = [output for clip in json.loads((out / MANIFEST).read_text())["clips"] for output in clip["outputs"]]
    assert described == ["second.mp4"]
