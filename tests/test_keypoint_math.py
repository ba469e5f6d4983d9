"""Keypoint math: Gaussian fit (Eq. 1), encoding (Eq. 2), warping, motion transfer (Eq. 7)."""

from __future__ import annotations

import math

import pytest
import torch

from monkeycam.model import Keypoints, build_model, preset
from monkeycam.model.config import AblationConfig
from monkeycam.model.keypoints import (
    coordinate_grid,
    heatmap_to_keypoints,
    identity_grid,
    inverse_2x2,
    keypoints_to_gaussians,
    smallest_singular_value,
    warp,
)
from monkeycam.model.transfer import (
    absolute_keypoints,
    adapt_covariance,
    convex_hull_area,
    movement_scale,
    relative_keypoints,
)


def gaussian_heatmap(mean: torch.Tensor, covar: torch.Tensor, size: int) -> torch.Tensor:
    """A normalised (1, 1, size, size) heatmap of a Gaussian density (built independently of Eq. 2)."""
    grid = coordinate_grid(size, size, dtype=torch.float64).reshape(-1, 2)
    diff = grid - mean
    density = torch.exp(-0.5 * (diff @ torch.linalg.inv(covar) * diff).sum(-1))
    return (density / density.sum()).reshape(1, 1, size, size)


@pytest.mark.parametrize(
    "mean, covar",
    [
        ((0.1, -0.2), ((0.02, 0.0), (0.0, 0.02))),
        ((-0.3, 0.25), ((0.03, 0.012), (0.012, 0.015))),
        ((0.0, 0.0), ((0.01, -0.006), (-0.006, 0.02))),
    ],
)
def test_gaussian_fit_recovers_mean_and_covariance(mean, covar):
    mean, covar = torch.tensor(mean, dtype=torch.float64), torch.tensor(covar, dtype=torch.float64)
    kp = heatmap_to_keypoints(gaussian_heatmap(mean, covar, 128), clip_variance=None)
    # the fit adds 1e-7 per pixel (as the reference does), which biases the estimate slightly
    assert torch.allclose(kp.mean[0, 0], mean, atol=2e-3)
    assert torch.allclose(kp.covar[0, 0], covar, atol=2e-3)


def test_variance_clipping_raises_the_smallest_singular_value():
    heatmap = gaussian_heatmap(torch.zeros(2, dtype=torch.float64),
                               torch.tensor([[1e-4, 0.0], [0.0, 0.05]], dtype=torch.float64), 64)
    kp = heatmap_to_keypoints(heatmap, clip_variance=0.001)
    assert smallest_singular_value(kp.covar).item() == pytest.approx(0.001, rel=1e-6)


def test_gaussian_encoding_peaks_at_the_mean():
    kp = Keypoints(torch.tensor([[[0.0, 0.0], [-1.0, 1.0]]]), torch.tensor([[[0.01, 0.0], [0.0, 0.01]]] * 2).unsqueeze(0))
    maps = keypoints_to_gaussians(kp, 33, 33)
    assert maps.shape == (1, 2, 33, 33)
    assert maps[0, 0, 16, 16].item() == pytest.approx(1.0)
    assert maps[0, 1, 32, 0].item() == pytest.approx(1.0)
    assert maps.max().item() <= 1.0 + 1e-6
    # one pixel away along x: exp(-0.5 * (1/16)^2 / 0.01)
    assert maps[0, 0, 16, 17].item() == pytest.approx(math.exp(-0.5 * (1 / 16) ** 2 / 0.01), rel=1e-5)


def test_inverse_2x2_matches_linalg():
    matrices = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    assert torch.allclose(inverse_2x2(matrices), torch.linalg.inv(matrices))


def test_warping_with_the_identity_grid_returns_the_input():
    image = torch.rand(2, 3, 17, 23)
    assert torch.allclose(warp(image, identity_grid(2, 17, 23)), image, atol=1e-6)


def test_identity_motion_gives_the_identity_grid_at_initialisation():
    model = build_model(preset("face64"), with_discriminator=False).eval()
    source = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        kp = model.kp_detector(source)
        motion = model.generator(source, kp, kp).motion
    assert torch.allclose(motion.grid, identity_grid(1, 64, 64), atol=1e-6)


def test_identity_motion_has_no_coarse_flow_even_with_trained_masks():
    """The coarse flow is a mask-weighted sum of keypoint shifts: zero when nothing moves."""
    config = preset("face64").replace(ablation=AblationConfig(residual_flow=False))
    model = build_model(config, with_discriminator=False).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.generator.dense_motion_module.hourglass.decoder.conv.parameters():
            p.normal_()
        source = torch.rand(1, 3, 64, 64)
        kp = model.kp_detector(source)
        motion = model.generator(source, kp, kp).motion
    assert motion.masks.std() > 0.01  # masks are not trivial...
    assert torch.allclose(motion.grid, identity_grid(1, 64, 64), atol=1e-6)  # ...yet nothing moves


def random_keypoints(batch: int = 3, num_kp: int = 10, seed: int = 0) -> Keypoints:
    generator = torch.Generator().manual_seed(seed)
    mean = torch.rand(batch, num_kp, 2, generator=generator) * 1.6 - 0.8
    a = torch.randn(batch, num_kp, 2, 2, generator=generator) * 0.1
    return Keypoints(mean, a @ a.transpose(-1, -2) + 0.01 * torch.eye(2))


def test_relative_transfer_with_the_reference_frame_returns_the_source():
    source, reference = random_keypoints(seed=1), random_keypoints(seed=2)
    for scale in (False, True):
        kp = relative_keypoints(source, reference, reference, adapt_movement_scale=scale, adapt_covariances=True)
        assert torch.allclose(kp.mean, source.mean, atol=1e-6)
        assert torch.allclose(kp.covar, source.covar, atol=1e-5)
    plain = relative_keypoints(source, reference, reference)
    assert torch.equal(plain.mean, source.mean)
    assert torch.equal(plain.covar, reference.covar)  # Eq. 7 keeps the driving covariance


def test_relative_transfer_moves_the_source_by_the_driving_displacement():
    source, reference = random_keypoints(seed=1), random_keypoints(seed=2)
    shift = torch.tensor([0.1, -0.05])
    driving = Keypoints(reference.mean + shift, reference.covar)
    kp = relative_keypoints(source, driving, reference)
    assert torch.allclose(kp.mean - source.mean, shift.expand_as(kp.mean), atol=1e-6)
    assert torch.equal(absolute_keypoints(driving).mean, driving.mean)


def test_movement_scale_is_the_square_root_of_the_hull_area_ratio():
    square = torch.tensor([[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [0.0, 0.0]]])
    assert convex_hull_area(square).item() == pytest.approx(1.0)
    covar = torch.eye(2).expand(1, 5, 2, 2) * 0.01
    small = Keypoints(square * 0.5, covar)
    big = Keypoints(square, covar)
    assert movement_scale(small, big).item() == pytest.approx(0.5)
    moved = Keypoints(big.mean + 0.2, covar)
    kp = relative_keypoints(small, moved, big, adapt_movement_scale=True)
    assert torch.allclose(kp.mean - small.mean, torch.full_like(kp.mean, 0.1), atol=1e-6)


def test_covariance_adaptation_is_symmetric_positive_definite():
    a, b, c = (random_keypoints(seed=s).covar for s in (3, 4, 5))
    adapted = adapt_covariance(a, b, c)
    assert torch.allclose(adapted, adapted.transpose(-1, -2), atol=1e-6)
    assert (torch.linalg.eigvalsh(adapted) > 0).all()


def test_local_flow_moves_the_guided_keypoints_exactly_and_leaves_far_pixels_alone():
    """Beyond the paper (dense_motion.local_flow_keypoints): an untrained dense motion
    network predicts almost no motion; with the local flow the grid at each driving keypoint
    samples the source at the matching source keypoint, and far from them nothing changes."""
    import dataclasses

    from monkeycam.model.dense_motion import DenseMotionNetwork

    live = preset("live256")
    base = live.replace(dense_motion=dataclasses.replace(live.dense_motion, local_flow_keypoints=0))
    config = live.replace(dense_motion=dataclasses.replace(live.dense_motion, local_flow_keypoints=3))
    torch.manual_seed(0)
    network = DenseMotionNetwork(config).eval()
    size = config.dense_motion_size
    source = torch.rand(1, 3, size, size)
    kp_source = Keypoints(torch.rand(1, config.num_kp, 2) * 0.6 - 0.3, torch.eye(2).expand(1, config.num_kp, 2, 2) * 0.01)
    moved = kp_source.mean.clone()
    moved[:, :3] += torch.tensor([[0.04, -0.03], [-0.02, 0.05], [0.03, 0.03]])
    kp_driving = Keypoints(moved, kp_source.covar)
    with torch.no_grad():
        grid = network(source, kp_source, kp_driving).grid.permute(0, 3, 1, 2)
        plain = DenseMotionNetwork(base).eval()
        plain.load_state_dict(network.state_dict())
        plain_grid = plain(source, kp_source, kp_driving).grid.permute(0, 3, 1, 2)
    sampled = torch.nn.functional.grid_sample(grid, moved[:, None, :3], align_corners=True)[0, :, 0].T
    plain_sampled = torch.nn.functional.grid_sample(plain_grid, moved[:, None, :3], align_corners=True)[0, :, 0].T
    before = (plain_sampled - kp_source.mean[0, :3]).norm(dim=-1)
    after = (sampled - kp_source.mean[0, :3]).norm(dim=-1)
    assert (before > 0.02).all(), "the untrained network should not already move the keypoints"
    assert (after < 0.25 * before).all()
    far = torch.tensor([[-0.95, -0.95], [0.95, 0.95]])
    assert (torch.cdist(far, moved[0, :3]) > 0.5).all()
    grid_far = torch.nn.functional.grid_sample(grid - plain_grid, far[None, None], align_corners=True)
    assert grid_far.abs().max() < 1e-4
