"""Steady crops and smooth keypoints: the One Euro filter, the crop-box tracker (dead zone, no
jumps), the face tracker on a real video, paste-back masks and overlay coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from monkeycam.drawing import keypoint_overlay
from monkeycam.engine.compose import PasteBack, feathered_mask
from monkeycam.face import CropBox, CropBoxTracker, FaceBox, FaceTracker
from monkeycam.io import iter_video
from monkeycam.live.scripted import LOOP_SECONDS, scripted_pose
from monkeycam.one_euro import OneEuroFilter, one_euro_for_strength


def test_one_euro_filter_smooths_noise_and_follows_a_step():
    rng = np.random.default_rng(0)
    still = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    noisy = 0.5 + rng.normal(0, 0.05, 300)
    out = np.array([still(np.array([v]), t / 30)[0] for t, v in enumerate(noisy)])
    assert out[30:].std() < 0.4 * noisy[30:].std()
    fast = OneEuroFilter(min_cutoff=1.0, beta=50.0)
    steps = [fast(np.array([0.0 if t < 10 else 1.0]), t / 30)[0] for t in range(30)]
    assert steps[0] == 0.0 and steps[-1] > 0.95  # follows the move within ~0.6 s


def test_one_euro_filter_passes_the_first_value_and_ignores_repeated_timestamps():
    smoother = OneEuroFilter(min_cutoff=0.5)
    first = smoother(np.array([[1.0, 2.0]]), 0.0)
    np.testing.assert_array_equal(first, [[1.0, 2.0]])
    np.testing.assert_array_equal(smoother(np.array([[5.0, 5.0]]), 0.0), first)
    smoother.reset()
    np.testing.assert_array_equal(smoother(np.array([[5.0, 5.0]]), 0.0), [[5.0, 5.0]])
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0.0)


def test_smoothing_strength_zero_is_off_and_stronger_means_lower_cutoff():
    assert one_euro_for_strength(0.0) is None
    assert one_euro_for_strength(1.0).min_cutoff < one_euro_for_strength(0.5).min_cutoff < \
        one_euro_for_strength(0.1).min_cutoff


def test_crop_box_tracker_ignores_jitter_and_follows_real_moves_without_jumping():
    rng = np.random.default_rng(1)
    tracker = CropBoxTracker(smoothing=0.5)
    boxes = [tracker.update(CropBox(100 + rng.normal(0, 2), 80 + rng.normal(0, 2), 200 + rng.normal(0, 3)), t / 30)
             for t in range(60)]
    centres = np.array([box.centre for box in boxes[10:]])
    assert np.ptp(centres[:, 0]) < 1.0 and np.ptp(centres[:, 1]) < 1.0  # jitter of +-2 px: the crop holds still
    moved = [tracker.update(CropBox(100 + 3 * t, 80, 200), (60 + t) / 30) for t in range(40)]
    xs = np.array([box.x for box in moved])
    assert xs[-1] > 200  # followed a 120 px move
    assert np.abs(np.diff(xs)).max() < 15  # smoothly, without jumps


class FixedFaces:
    """A face locator returning prepared boxes (frame pixels), or None."""

    def __init__(self, faces):
        self.faces = list(faces)

    def largest(self, frame):
        return self.faces.pop(0)


def test_face_tracker_keeps_the_last_box_when_the_face_is_lost_and_uses_the_frame_before_any():
    frame = np.zeros((240, 320, 3), np.uint8)
    face = FaceBox(140, 100, 40, 50, 0.9)
    tracker = FaceTracker(FixedFaces([None, face, None]), crop_scale=2.0, detect_side=320)
    first = tracker.update(frame, 0.0)
    assert not first.face_found and first.box == CropBox(40.0, 0.0, 240.0)  # the centred square
    found = tracker.update(frame, 0.04)
    assert found.face_found and found.box.size == pytest.approx(100.0)
    lost = tracker.update(frame, 0.08)
    assert not lost.face_found and lost.box == found.box


def test_face_tracker_gives_a_steady_crop_on_a_real_video(faces_dir):
    pytest.importorskip("mediapipe")
    from monkeycam.face import FaceDetector

    with FaceDetector(full_range=False) as detector:
        tracker = FaceTracker(detector, crop_scale=2.0)
        tracked = [tracker.update(frame, t / 30)
                   for t, frame in enumerate(iter_video(faces_dir / "test" / "lp_d3.mp4", max_frames=30))]
    assert all(item.face_found for item in tracked)
    sizes = np.array([item.box.size for item in tracked])
    centres = np.array([item.box.centre for item in tracked])
    assert 100 < sizes.mean() < 512 * 1.5
    assert np.abs(np.diff(centres, axis=0)).max() < 0.03 * sizes.mean()


def test_feathered_mask_is_soft_inside_and_hard_at_the_portrait_border():
    mask = feathered_mask(40, 60, feather=10, soft_edges=(True, True, False, True))
    assert mask[20, 30] == 1.0 and mask[20, 0] < 0.05 and mask[0, 30] < 0.05
    assert mask[20, 59] == 1.0  # the right edge lies on the portrait border: no fade there
    assert np.all(np.diff(mask[20, :15]) >= 0)


def test_paste_back_changes_only_the_face_region():
    portrait = np.full((100, 80, 3), 50, np.uint8)
    paste = PasteBack.prepare(portrait, CropBox(10, 20, 40))
    out = paste.apply(np.full((64, 64, 3), 250, np.uint8))
    assert out.shape == portrait.shape
    assert np.array_equal(out[:20], portrait[:20]) and np.array_equal(out[:, :10], portrait[:, :10])
    assert out[40, 30, 0] == 250  # the middle of the box is the animated face
    assert 50 < out[22, 30, 0] < 250  # the edge is blended
    with pytest.raises(ValueError, match="does not overlap"):
        PasteBack.prepare(portrait, CropBox(200, 200, 10))


def test_keypoint_overlay_maps_crop_coordinates_to_output_pixels():
    means = np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    overlay = keypoint_overlay(means, np.tile(np.eye(2) * 0.01, (3, 1, 1)), crop_size=64, box=CropBox(0, 0, 64))
    np.testing.assert_allclose(overlay.means, [[0, 0], [63, 63], [31.5, 31.5]])
    np.testing.assert_allclose(overlay.covariances[0], np.eye(2) * 0.01 * 31.5**2, rtol=1e-6)
    shifted = keypoint_overlay(means, np.tile(np.eye(2), (3, 1, 1)), crop_size=64, box=CropBox(100, 50, 128))
    np.testing.assert_allclose(shifted.means[0], [100.5, 50.5])


def test_the_scripted_trajectory_starts_at_rest_is_smooth_and_loops():
    rest = scripted_pose(0.0)
    assert (rest.yaw, rest.pitch, rest.roll, rest.scale, rest.mouth) == (0.0, 0.0, 0.0, 1.0, 0.0)
    times = np.arange(0, LOOP_SECONDS, 1 / 30)
    yaws = np.array([scripted_pose(t).yaw for t in times])
    mouths = np.array([scripted_pose(t).mouth for t in times])
    assert np.abs(np.diff(yaws)).max() < 0.01 and yaws.max() > 0.05 and yaws.min() < -0.05
    assert mouths.max() > 0.5 and mouths.min() == 0.0
    assert scripted_pose(LOOP_SECONDS + 1.0) == scripted_pose(1.0)


def test_face_tracker_can_detect_every_few_frames():
    frame = np.zeros((240, 320, 3), np.uint8)
    face = FaceBox(140, 100, 40, 50, 0.9)
    locator = FixedFaces([face, face, FaceBox(150, 100, 40, 50, 0.9)])
    tracker = FaceTracker(locator, detect_every=3)
    boxes = [tracker.update(frame, t / 30) for t in range(7)]
    assert locator.faces == []  # frames 0, 3 and 6 were searched
    assert boxes[1] == boxes[0] and boxes[2] == boxes[0] and boxes[4] == boxes[3]
    assert all(item.face_found for item in boxes)
    locator.faces = [face]
    assert tracker.update(np.zeros((100, 100, 3), np.uint8), 1.0).face_found  # a new frame size: searched at once
