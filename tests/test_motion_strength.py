"""Pose and expression strength (issue 11): the driving motion split into the similarity fitted
to all keypoints (head rotation, scale, translation) and the local rest (eyes, mouth), each
scaled. On exact synthetic motion, on the shipped face model's keypoints of a real clip from
../shared/data/faces/test, and through the real engine."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from monkeycam.checkpoint import load_checkpoint
from monkeycam.engine import create_engine
from monkeycam.io import iter_video, read_image
from monkeycam.live import EngineSettings, SettingsError
from monkeycam.model import Keypoints
from monkeycam.model.transfer import fit_similarity, scale_motion
from monkeycam.paths import assets_dir, weights_dir
from tests.conftest import FACES, require_shared

CLIP = FACES / "test" / "lp_d3.mp4"


def similarity_parts(points_from: torch.Tensor, points_to: torch.Tensor) -> tuple[float, float, float, float]:
    """(angle rad, log scale, shift length, rms residual) of the fitted similarity, batch 1."""
    linear, centre, shift = fit_similarity(points_from, points_to)
    angle = math.atan2(float(linear[0, 1, 0]), float(linear[0, 0, 0]))
    log_scale = math.log(math.hypot(float(linear[0, 0, 0]), float(linear[0, 1, 0])))
    fitted = centre[:, None] + shift[:, None] + (points_from - centre[:, None]) @ linear.transpose(-1, -2)
    residual = float((points_to - fitted).pow(2).sum(-1).mean().sqrt())
    return angle, log_scale, float(shift.norm()), residual


def synthetic_motion() -> tuple[Keypoints, Keypoints, torch.Tensor]:
    """Reference keypoints, driving = similarity(reference) + local, and the local part."""
    generator = torch.Generator().manual_seed(0)
    reference = torch.rand(1, 10, 2, generator=generator) - 0.5
    local = 0.03 * torch.randn(1, 10, 2, generator=generator)
    # keep only what no similarity explains (as the fit will see it): zero mean, no turn, no scale
    linear, centre, shift = fit_similarity(reference, reference + local)
    local = reference + local - (centre[:, None] + shift[:, None] + (reference - centre[:, None]) @ linear.transpose(-1, -2))
    angle, scale, shift = 0.3, 1.2, torch.tensor([0.1, -0.05])
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centre = reference.mean(dim=1, keepdim=True)
    moved = centre + shift + scale * (reference - centre) @ rotation.T
    covar = torch.eye(2).expand(1, 10, 2, 2) * 0.01
    return Keypoints(reference, covar.clone()), Keypoints(moved + local, covar.clone()), local


def test_fit_similarity_recovers_an_exact_similarity():
    reference, driving, local = synthetic_motion()
    angle, log_scale, shift, residual = similarity_parts(reference.mean, driving.mean - local)
    assert angle == pytest.approx(0.3, abs=1e-5) and log_scale == pytest.approx(math.log(1.2), abs=1e-5)
    assert shift == pytest.approx(math.hypot(0.1, 0.05), abs=1e-5) and residual < 1e-5


def test_strength_one_leaves_the_motion_and_zero_keeps_only_one_part():
    reference, driving, local = synthetic_motion()
    assert scale_motion(driving, reference, 1.0, 1.0) is driving
    still_head = scale_motion(driving, reference, 0.0, 1.0)
    angle, log_scale, shift, _ = similarity_parts(reference.mean, still_head.mean)
    assert abs(angle) < 1e-3 and abs(log_scale) < 1e-3 and shift < 1e-5
    # the local part survives, carried back onto the unturned, unscaled head
    angle = 0.3
    unturn = torch.tensor([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]]) / 1.2
    assert torch.allclose(still_head.mean - reference.mean, local @ unturn.T, atol=1e-5)
    neutral = scale_motion(driving, reference, 1.0, 0.0)
    angle, log_scale, shift, residual = similarity_parts(reference.mean, neutral.mean)
    assert residual < 1e-5 and angle == pytest.approx(0.3, abs=1e-3)
    # the reference's covariances moved by the head (scaled by 1.2, turned): no local change
    assert torch.allclose(neutral.covar, 1.2**2 * reference.covar, atol=1e-6)
    double = scale_motion(driving, reference, 2.0, 2.0)
    angle, log_scale, shift, _ = similarity_parts(reference.mean, double.mean)
    assert angle == pytest.approx(0.6, abs=2e-2) and log_scale == pytest.approx(2 * math.log(1.2), abs=2e-2)


def test_covariances_follow_the_scaled_rotation():
    reference, driving, _ = synthetic_motion()
    stretched = torch.tensor([[0.02, 0.0], [0.0, 0.005]]).expand(1, 10, 2, 2).clone()
    driving = Keypoints(driving.mean, stretched)
    still = scale_motion(driving, reference, 0.0, 1.0)
    # pose 0 undoes the 0.3 rad rotation and 1.2 scale of the driving covariance
    rotation = torch.tensor([[math.cos(-0.3), -math.sin(-0.3)], [math.sin(-0.3), math.cos(-0.3)]]) / 1.2
    expected = rotation @ stretched[0, 0] @ rotation.T
    assert torch.allclose(still.covar[0, 0], expected, atol=1e-3)


def test_expression_strength_scales_the_covariances_local_change():
    reference, driving, _ = synthetic_motion()
    # the head turns and scales; keypoint 0's blob also stretches on its own (a mouth opening)
    linear, _, _ = fit_similarity(reference.mean, driving.mean)
    head_covar = linear[:, None] @ reference.covar @ linear[:, None].transpose(-1, -2)
    stretched = head_covar.clone()
    stretched[0, 0] = torch.tensor([[0.05, 0.0], [0.0, 0.01]])
    driving = Keypoints(driving.mean, stretched)

    def elongation(strength: float) -> float:
        eigenvalues = torch.linalg.eigvalsh(scale_motion(driving, reference, 1.0, strength).covar[0, 0].double())
        assert float(eigenvalues.min()) > 0
        return float(eigenvalues.max() / eigenvalues.min())

    assert torch.allclose(scale_motion(driving, reference, 1.0, 0.0).covar, head_covar, atol=1e-6)
    assert elongation(0.0) == pytest.approx(1.0, abs=1e-4)
    assert elongation(1.0) == pytest.approx(5.0, rel=1e-4)
    assert 1.2 < elongation(0.5) < elongation(1.0) < elongation(2.0)
    # the other keypoints did not change locally: only the head moves them, at any strength
    assert torch.allclose(scale_motion(driving, reference, 1.0, 2.0).covar[0, 1:], head_covar[0, 1:], atol=1e-6)


def test_engine_scripted_motion_at_zero_strengths_is_one_still_frame():
    """Pose 0 and expression 0: nothing of the scripted head motion or mouth opening reaches the
    shipped model's output (the mouth used to leak through the covariances)."""
    engine = create_engine(EngineSettings(checkpoint=str(weights_dir() / "face64.safetensors"), backend="cpu",
                                          output_size=128, smoothing=0.0, pose_strength=0.0, expression_strength=0.0))
    engine.set_source(read_image(assets_dir() / "portrait_ada.png"))
    rest = engine.process_scripted(0.0).image
    # 1 s: the mouth is open; 6 and 14 s: the head is turned and tilted
    for seconds in (1.0, 6.0, 14.0):
        assert np.array_equal(engine.process_scripted(seconds).image, rest)
    engine.update_settings(EngineSettings(checkpoint=str(weights_dir() / "face64.safetensors"), backend="cpu",
                                          output_size=128, smoothing=0.0, pose_strength=0.0, expression_strength=1.0))
    assert np.abs(engine.process_scripted(1.0).image.astype(int) - rest).max() > 10  # the mouth moves it
    engine.close()


@pytest.fixture(scope="module")
def clip_keypoints() -> list[Keypoints]:
    """The shipped face64 model's keypoints of 40 frames of a real talking-head clip."""
    require_shared(CLIP)
    model, info = load_checkpoint(weights_dir() / "face64.safetensors")
    size = info.config.image_size
    keypoints = []
    with torch.inference_mode():
        for frame in iter_video(CLIP, max_frames=40):
            height, width = frame.shape[:2]
            side = min(height, width)
            top, left = (height - side) // 2, (width - side) // 2
            square = cv2.resize(frame[top : top + side, left : left + side], (size, size), interpolation=cv2.INTER_AREA)
            image = torch.from_numpy(square).permute(2, 0, 1)[None].float() / 255.0
            keypoints.append(model.kp_detector(image))
    return keypoints


def test_real_clip_pose_zero_keeps_the_head_put_and_expression_zero_keeps_only_head_motion(clip_keypoints):
    reference = clip_keypoints[0]
    head_motion = local_motion = 0.0
    for driving in clip_keypoints[1:]:
        full = similarity_parts(reference.mean, driving.mean)
        still = similarity_parts(reference.mean, scale_motion(driving, reference, 0.0, 1.0).mean)
        neutral = similarity_parts(reference.mean, scale_motion(driving, reference, 1.0, 0.0).mean)
        head_motion = max(head_motion, abs(full[0]) + abs(full[1]) + full[2])
        local_motion = max(local_motion, full[3])
        # pose 0: no head rotation, scaling or shift is left; the local motion is all there
        assert abs(still[0]) + abs(still[1]) + still[2] < 0.05 * max(1e-3, abs(full[0]) + abs(full[1]) + full[2]) + 1e-4
        assert still[3] == pytest.approx(full[3], rel=0.05, abs=1e-5)
        # expression 0: the same head motion, no local motion at all
        assert neutral[0] == pytest.approx(full[0], abs=1e-4) and neutral[2] == pytest.approx(full[2], abs=1e-5)
        assert neutral[3] < 1e-5
    assert head_motion > 0.02 and local_motion > 0.005, "the clip should move the head and the face"


def test_engine_pose_zero_keeps_the_keypoint_centre_still_on_a_real_clip():
    require_shared(CLIP)
    frames = list(iter_video(CLIP, max_frames=30))[::3]
    portrait = read_image(assets_dir() / "portrait_ada.png")

    def centres(pose: float, expression: float) -> np.ndarray:
        engine = create_engine(EngineSettings(backend="cpu", smoothing=0.0, pose_strength=pose,
                                              expression_strength=expression))
        engine.set_source(portrait)
        result = [engine.process(frame).keypoints.means.mean(axis=0) for frame in frames]
        engine.close()
        return np.array(result)

    moving, still = centres(1.0, 1.0), centres(0.0, 1.0)
    assert np.abs(still - still[0]).max() < 0.05  # pixels: the head's centre stays put
    assert np.abs(moving - moving[0]).max() > 0.5  # while the driving head moves it


def test_strengths_are_checked_settings():
    assert EngineSettings(pose_strength=2.0, expression_strength=0.0).pose_strength == 2.0
    for bad in (-0.1, 2.5):
        with pytest.raises(SettingsError, match="pose_strength"):
            EngineSettings(pose_strength=bad)
        with pytest.raises(SettingsError, match="expression_strength"):
            EngineSettings(expression_strength=bad)
    assert not EngineSettings(pose_strength=0.5).needs_reload(EngineSettings())
