"""The real-time 256-px design and its CPU training recipe (beyond the paper): area
shrinking, the full-resolution blend, landmark guidance (points move with the augmented
frames), keypoint equivariance, and the trainer running the recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monkeycam.model import (
    DenseMotionConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    KeypointDetectorConfig,
    ModelConfig,
    build_model,
    preset,
)
from monkeycam.model.blocks import scale_image
from monkeycam.model.generator import Generator
from monkeycam.model.keypoints import Keypoints, identity_grid
from tests.media_files import moving_shapes
from training.augment import augment_pairs_with_points
from training.config import AugmentConfig, ConfigError, ExperimentConfig, TrainConfig, load_experiment
from training.landmarks import FACE_GUIDE_POINTS, clip_landmarks, mirror_permutation, normalised_points
from training.losses import RandomAffine, equivariance_loss, landmark_loss, pyramid_l1, region_l1
from training.trainer import Trainer

TINY_LIVE = ModelConfig(
    name="tiny-live",
    image_size=64,
    num_kp=4,
    downsample="area",
    kp_detector=KeypointDetectorConfig(8, 32, 3, scale_factor=0.5),
    dense_motion=DenseMotionConfig(8, 32, 3, num_group_blocks=1, scale_factor=0.5),
    generator=GeneratorConfig(8, 32, 3, 1, "bilinear", scale_factor=0.5, blend_source=True),
    discriminator=DiscriminatorConfig(8, 32, 2),
)


def dot_image(points: np.ndarray, size: int) -> torch.Tensor:
    """(1, 3, S, S) black images with a bright 3x3 dot at each (x, y) point in [-1, 1]."""
    image = torch.zeros(1, 3, size, size)
    for x, y in points:
        col, row = round((x + 1) / 2 * (size - 1)), round((y + 1) / 2 * (size - 1))
        image[0, :, row - 1 : row + 2, col - 1 : col + 2] = 1.0
    return image


def brightest(image: torch.Tensor) -> np.ndarray:
    """(x, y) in [-1, 1] of the centroid of the brightest pixels of a (3, S, S) image."""
    grey = image.mean(dim=0)
    rows, cols = torch.nonzero(grey > 0.5 * grey.max(), as_tuple=True)
    size = grey.shape[-1]
    return np.array([cols.float().mean() / (size - 1) * 2 - 1, rows.float().mean() / (size - 1) * 2 - 1])


# --------------------------------------------------------------------------- the model


def test_area_shrink_averages_pixels_where_nearest_aliases():
    stripes = torch.zeros(1, 1, 8, 8)
    stripes[..., ::2] = 1.0  # one-pixel stripes: nearest keeps one phase, area the mean
    assert torch.allclose(scale_image(stripes, 0.25, "area"), torch.full((1, 1, 2, 2), 0.5))
    assert set(scale_image(stripes, 0.25, "nearest").unique().tolist()) <= {0.0, 1.0}


def test_live_preset_renders_natively_at_256_with_its_networks_at_64():
    config = preset("live256")
    assert config.image_size == 256 and config.generator.blend_source
    assert config.kp_detector_size == config.dense_motion_size == config.generator_size == 64
    model = build_model(config, with_discriminator=False).eval()
    source = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        features = model.prepare_source(source)
        out = model.animate(features, model.kp_detector(torch.rand(1, 3, 256, 256)))
    assert out.prediction.shape == (1, 3, 256, 256) and out.blend_mask.shape == (1, 1, 256, 256)
    assert features.skips[0].shape[-1] == 64
    assert 0 <= float(out.prediction.min()) and float(out.prediction.max()) <= 1


def test_zero_flow_upsamples_to_the_exact_identity_so_a_still_stays_sharp():
    grid = identity_grid(1, 64, 64)
    full = Generator._full_resolution_grid(grid, (256, 256))
    assert torch.allclose(full, identity_grid(1, 256, 256), atol=1e-6)
    # the plain bilinear resize of the grid would shift pixels near the borders
    naive = torch.nn.functional.interpolate(grid.permute(0, 3, 1, 2), size=(256, 256), mode="bilinear")
    assert float((naive.permute(0, 2, 3, 1) - identity_grid(1, 256, 256)).abs().max()) > 1e-3


def test_the_output_starts_as_the_warped_portrait():
    """At initialisation the blend mask favours the warped source, whose pixels are the portrait's."""
    torch.manual_seed(0)
    model = build_model(TINY_LIVE, with_discriminator=False).eval()
    source = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        features = model.prepare_source(source)
        out = model.animate(features, features.keypoints)  # the source's own pose: no motion
    assert torch.allclose(out.deformed, source, atol=1e-5)
    assert float(out.blend_mask.mean()) > 0.85


# --------------------------------------------------------------------------- landmark points


def test_face_mesh_points_are_converted_to_pixel_centre_coordinates():
    landmarks = np.zeros((468, 2), np.float32)
    landmarks[1] = (0.5, 0.5)  # the centre of the first pixel
    landmarks[152] = (255.5, 127.5)
    points = normalised_points(landmarks, (1, 152), 256)
    assert np.allclose(points[0], (-1, -1)) and np.allclose(points[1], (1, -1 + 127 / 255 * 2))
    assert np.isnan(normalised_points(None, (1, 152), 256)).all()


def test_mirror_partners_pair_up_and_unknown_partners_are_refused():
    perm = mirror_permutation(FACE_GUIDE_POINTS)
    guided = list(FACE_GUIDE_POINTS)
    assert guided[perm[0]] == 386 and guided[perm[4]] == 13  # upper lids swap, the lip centre stays
    assert sorted(perm) == list(range(len(guided)))
    with pytest.raises(ValueError, match="mirror partner"):
        mirror_permutation((159, 13))


def test_points_move_with_the_augmented_frames_and_flips_swap_partners():
    """Two mirror-partner points drawn as a red and a green dot: after a crop (and maybe a
    flip) each point lies on a dot, and a flip names each dot by its partner, as face mesh
    would on the mirrored face."""
    size = 64
    points = torch.tensor([[[-0.5, -0.2], [0.4, 0.3]]])
    image = torch.zeros(1, 3, size, size)
    image[:, 0:1] = dot_image(points[0, :1].numpy(), size)[:, :1]  # point 0: red
    image[:, 1:2] = dot_image(points[0, 1:].numpy(), size)[:, :1]  # point 1: green
    config = AugmentConfig(time_flip=False, horizontal_flip=True, crop_scale=(0.7, 0.9))
    outcomes = set()
    for seed in range(8):
        out = augment_pairs_with_points(image, image.clone(), (points, points.clone()), [1, 0], config,
                                        torch.Generator().manual_seed(seed))
        red = brightest(out.source[0, 0:1].expand(3, -1, -1))
        green = brightest(out.source[0, 1:2].expand(3, -1, -1))
        moved = out.source_points[0].numpy()
        if np.abs(moved[0] - red).max() < 0.08:
            assert np.abs(moved[1] - green).max() < 0.08
            outcomes.add("kept")
        else:
            assert np.abs(moved[0] - green).max() < 0.08 and np.abs(moved[1] - red).max() < 0.08
            outcomes.add("flipped")
        assert torch.equal(out.source_points, out.driving_points)
    assert outcomes == {"kept", "flipped"}


def test_synthetic_driving_frames_have_unknown_points():
    config = AugmentConfig(time_flip=False, horizontal_flip=False, synthetic_pairs=1.0)
    frames = torch.rand(2, 3, 32, 32)
    points = torch.zeros(2, 3, 2)
    out = augment_pairs_with_points(frames, frames.clone(), (points, points.clone()), None, config,
                                    torch.Generator().manual_seed(0))
    assert torch.isnan(out.driving_points).all() and not torch.isnan(out.source_points).any()


def test_real_face_frames_get_eyelid_and_lip_points(faces_dir, tmp_path):
    from training.data import decode_item

    frames = decode_item(faces_dir / "test" / "lp_d3.mp4", 256, max_frames=6)
    found = clip_landmarks([frames], FACE_GUIDE_POINTS, tmp_path)[0]
    assert found.shape == (6, 10, 2) and np.isfinite(found).all()
    upper, lower = found[:, 0], found[:, 1]  # eyelids: the lower one sits below the upper one
    assert (lower[:, 1] > upper[:, 1]).all()
    assert (found[:, 9, 1] > found[:, 8, 1]).all()  # the chin below the nose tip
    cached = clip_landmarks([frames], FACE_GUIDE_POINTS, tmp_path, progress=False)[0]
    assert np.array_equal(cached, found) and len(list(tmp_path.glob("landmarks-*.npy"))) == 1


# --------------------------------------------------------------------------- losses


def test_landmark_loss_skips_unknown_points():
    means = torch.zeros(2, 4, 2)
    points = torch.full((2, 2, 2), torch.nan)
    assert float(landmark_loss(means, points)) == 0.0
    points[0, 1] = torch.tensor([0.5, -0.25])
    assert float(landmark_loss(means, points)) == pytest.approx(0.75)


def test_a_dot_moved_by_a_random_affine_is_found_where_the_map_says():
    affine = RandomAffine.draw(1, 0.2, torch.Generator().manual_seed(3), "cpu")
    original = np.array([0.2, -0.3])
    moved = affine.warp_image(dot_image(np.array([original]), 96))
    found = torch.tensor(brightest(moved[0]), dtype=torch.float32)[None, None]
    assert float(equivariance_loss(torch.tensor(original, dtype=torch.float32)[None, None], found, affine)) < 0.05


def test_pyramid_l1_weighs_every_level():
    real, fake = torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), 0.5)
    assert float(pyramid_l1(real, fake, (1, 1, 1))) == pytest.approx(1.5)
    assert float(pyramid_l1(real, fake, (0, 0, 2))) == pytest.approx(1.0)


def test_region_l1_weighs_errors_near_the_points_and_skips_images_without_any():
    real = torch.zeros(2, 3, 33, 33)
    near, far = real.clone(), real.clone()
    near[:, :, 14:19, 14:19] = 1.0  # an error around the centre, where the point is
    far[:, :, :5, :5] = 1.0  # the same error in a corner
    points = torch.zeros(2, 1, 2)
    assert float(region_l1(real, near, points, 0.1)) > 20 * float(region_l1(real, far, points, 0.1))
    points[1] = torch.nan  # the second image has no known point: only the first counts
    assert float(region_l1(real, near, points, 0.1)) == pytest.approx(float(region_l1(real[:1], near[:1], points[:1], 0.1)))
    assert float(region_l1(real, near, torch.full((2, 1, 2), torch.nan), 0.1)) == 0.0


def test_region_loss_needs_its_points_among_the_guided_landmarks():
    with pytest.raises(ConfigError, match="region_points must be among"):
        TrainConfig(landmarks=(13, 14), landmark_weight=1, region_points=(159,), region_weight=1)
    with pytest.raises(ConfigError, match="needs train.region_points"):
        TrainConfig(landmarks=(13, 14), landmark_weight=0, region_points=(13,), region_weight=1)


# --------------------------------------------------------------------------- training


def test_the_cpu_recipe_trains_without_a_discriminator_and_pulls_keypoints_to_landmarks(tmp_path):
    torch.set_num_threads(2)
    recipe = load_experiment("live256").train
    clips = [moving_shapes(frames=8, height=64, seed=seed) for seed in range(4)]
    target = np.array([[-0.3, -0.3], [0.3, -0.3], [0.0, 0.4]], np.float32)  # three fixed "landmarks"
    points = [np.broadcast_to(target, (len(clip), 3, 2)).copy() for clip in clips]
    train = TrainConfig(
        steps=40, batch_size=4, lr=2e-3, log_every=1, checkpoint_every=1000, image_every=1000,
        feature_matching_weights=(0, 0, 0), gan_weight=0, pyramid_weights=recipe.pyramid_weights,
        equivariance_weight=recipe.equivariance_weight, landmarks=(1, 152, 13), landmark_weight=10,
        region_points=(13,), region_weight=recipe.region_weight, augment=AugmentConfig(horizontal_flip=False),
    )
    trainer = Trainer(ExperimentConfig(TINY_LIVE, train), clips, tmp_path / "run", progress=False, points=points)
    frame = torch.from_numpy(clips[0][:1]).permute(0, 3, 1, 2).float() / 255

    def guided_error() -> float:
        with torch.no_grad():
            kp: Keypoints = trainer.model.kp_detector(frame)
        return float(np.abs(kp.mean[0, :3].numpy() - target).mean())

    error_before = guided_error()
    before = {k: v.clone() for k, v in trainer.model.discriminator.state_dict().items()}
    result = trainer.run()
    assert result.reason == "done"
    assert all(torch.equal(v, trainer.model.discriminator.state_dict()[k]) for k, v in before.items())
    rows = [line for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    import json

    first, last = json.loads(rows[0]), json.loads(rows[-1])
    assert {"pyramid", "landmarks", "equivariance", "regions"} <= set(last)
    assert last["landmarks"] < 0.5 * first["landmarks"]
    assert guided_error() < 0.6 * error_before


# --------------------------------------------------------------------------- closed-to-open mouth pairs


def lip_points(openings: list[float]) -> np.ndarray:
    """(T, 4, 2) points 13, 14, 78, 308 of a mouth 0.4 wide opening by ``openings`` (ratios)."""
    rows = [[[0.0, 0.3 - 0.2 * o], [0.0, 0.3 + 0.2 * o], [-0.2, 0.3], [0.2, 0.3]] for o in openings]
    return np.array(rows, np.float32)


def test_mouth_opening_is_lip_distance_over_mouth_width():
    from training.trainer import mouth_opening

    points = torch.from_numpy(lip_points([0.0, 0.25, 0.8]))
    assert mouth_opening(points, (13, 14, 78, 308)).tolist() == pytest.approx([0.0, 0.25, 0.8], abs=1e-6)
    reordered = points[:, [2, 0, 3, 1]]  # the same points listed as 78, 13, 308, 14
    assert mouth_opening(reordered, (78, 13, 308, 14)).tolist() == pytest.approx([0.0, 0.25, 0.8], abs=1e-6)


def test_contrast_pairs_go_from_the_most_closed_mouth_to_the_most_open_one():
    from training.augment import FrameBank

    clips = [moving_shapes(frames=5, height=32, seed=seed) for seed in range(3)]
    bank = FrameBank(clips)
    opening = torch.tensor([0.1, 0.5, 0.2, 0.9, 0.3] * 3)
    opening[10:] = torch.nan  # the third clip has no known mouth
    opening[11] = 0.4
    source, driving = bank.sample_contrast_indices(opening, 300, torch.Generator().manual_seed(0), candidates=64)
    for s, d in zip(source.tolist(), driving.tolist()):
        clip = s // 5
        assert d // 5 == clip  # both frames from one clip
        if clip < 2:  # 64 draws from 5 frames: the clip's extremes are always among them
            assert (s % 5, d % 5) == (0, 3)
        else:  # only frame 11 is known: it is both ends, never a NaN frame
            assert s == d == 11


def test_mouth_pairs_are_never_time_flipped():
    source, driving = torch.zeros(64, 3, 16, 16), torch.ones(64, 3, 16, 16)
    keep = torch.arange(64) < 32
    config = AugmentConfig(time_flip=True, horizontal_flip=False, crop_scale=(1.0, 1.0), brightness=0, contrast=0,
                           saturation=0, hue=0)
    pairs = augment_pairs_with_points(source, driving, None, None, config, torch.Generator().manual_seed(0),
                                      keep_order=keep)
    flipped = pairs.source.mean(dim=(1, 2, 3)) > 0.5
    assert not flipped[:32].any()
    assert 5 < int(flipped[32:].sum()) < 27  # the others still flip about half the time


def test_open_mouth_pairs_need_the_lip_points():
    with pytest.raises(ConfigError, match="open_mouth_pairs"):
        TrainConfig(landmarks=(159, 145), landmark_weight=1, open_mouth_pairs=0.25)
    with pytest.raises(ConfigError, match="open_mouth_pairs"):
        TrainConfig(open_mouth_pairs=1.5)
    assert TrainConfig(landmarks=(13, 14, 78, 308), landmark_weight=1, open_mouth_pairs=0.25).open_mouth_pairs == 0.25


def test_the_trainer_draws_closed_to_open_pairs(tmp_path):
    """With open_mouth_pairs 1, every driving frame of a batch has the more open mouth."""
    clips = [moving_shapes(frames=6, height=64, seed=seed) for seed in range(3)]
    openings = [0.05, 0.6, 0.1, 0.4, 0.0, 0.8]
    points = [lip_points(openings) for _ in clips]
    train = TrainConfig(
        steps=1, batch_size=16, feature_matching_weights=(0, 0, 0), gan_weight=0, landmarks=(13, 14, 78, 308),
        landmark_weight=1, open_mouth_pairs=1.0, open_mouth_candidates=6,
        augment=AugmentConfig(horizontal_flip=False, crop_scale=(1.0, 1.0)),
    )
    trainer = Trainer(ExperimentConfig(TINY_LIVE, train), clips, tmp_path / "run", progress=False, points=points)
    pairs = trainer._sample(torch.Generator().manual_seed(0))

    def opening(p: torch.Tensor) -> torch.Tensor:
        return (p[:, 0] - p[:, 1]).norm(dim=-1) / (p[:, 2] - p[:, 3]).norm(dim=-1)

    assert bool((opening(pairs.driving_points) >= opening(pairs.source_points)).all())
    assert float((opening(pairs.driving_points) - opening(pairs.source_points)).mean()) > 0.3
