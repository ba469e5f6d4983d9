"""Trainer on synthetic shape videos: the loss falls, resume is exact, NaN stops cleanly,
every ablation trains, augmentations keep pairs consistent."""

from __future__ import annotations

import json

import pytest
import torch

from monkeycam.checkpoint import load_checkpoint
from monkeycam.model import (
    AblationConfig,
    DenseMotionConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    KeypointDetectorConfig,
    ModelConfig,
)
from tests.media_files import moving_shapes
from training.augment import FrameBank, augment_pairs, random_smooth_warp
from training.config import AugmentConfig, ExperimentConfig, TrainConfig, builtin_configs, load_experiment
from training.trainer import Trainer, TrainingError

TINY = ModelConfig(
    name="tiny",
    image_size=32,
    num_kp=5,
    kp_detector=KeypointDetectorConfig(8, 32, 3),
    dense_motion=DenseMotionConfig(8, 32, 3, num_group_blocks=1),
    generator=GeneratorConfig(8, 64, 3, 1),
    discriminator=DiscriminatorConfig(8, 32, 2),
)


def experiment(steps: int, model: ModelConfig = TINY, **train) -> ExperimentConfig:
    settings = dict(steps=steps, batch_size=4, log_every=1, checkpoint_every=1000, image_every=1000, lr=1e-3)
    settings.update(train)
    return ExperimentConfig(model=model, train=TrainConfig(**settings))


@pytest.fixture(scope="module")
def clips():
    return [moving_shapes(frames=10, height=32, seed=seed) for seed in range(6)]


def history(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def test_loss_falls_and_a_usable_checkpoint_is_written(clips, tmp_path):
    torch.set_num_threads(2)
    trainer = Trainer(experiment(60), clips, tmp_path / "run", progress=False, data_description="shapes")
    result = trainer.run()
    assert result.reason == "done" and result.step == 60
    rows = history(tmp_path / "run")
    first = sum(r["reconstruction"] for r in rows[:8]) / 8
    last = sum(r["reconstruction"] for r in rows[-8:]) / 8
    assert last < 0.8 * first
    model, info = load_checkpoint(result.checkpoint)
    assert info.config == TINY
    assert info.metadata["training"]["steps"] == 60 and info.metadata["training"]["data"] == "shapes"
    assert (tmp_path / "run" / "config.yaml").exists()
    assert any((tmp_path / "run" / "events").iterdir())  # TensorBoard logs


def test_resume_continues_exactly(clips, tmp_path):
    straight = Trainer(experiment(6), clips, tmp_path / "a", progress=False)
    straight.run()
    first_half = Trainer(experiment(3), clips, tmp_path / "b", progress=False)
    assert first_half.run().step == 3
    second_half = Trainer(experiment(6), clips, tmp_path / "b", resume=True, progress=False)
    assert second_half.step == 3
    second_half.run()
    for name in ("kp_detector", "generator", "discriminator"):
        a = getattr(straight.model, name).state_dict()
        b = getattr(second_half.model, name).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs after resume"
    assert history(tmp_path / "a")[-1]["generator"] == history(tmp_path / "b")[-1]["generator"]


def test_resume_refuses_another_model_and_a_missing_state(clips, tmp_path):
    Trainer(experiment(2), clips, tmp_path / "run", progress=False).run()
    other = TINY.replace(num_kp=7)
    with pytest.raises(TrainingError, match="different settings"):
        Trainer(experiment(4, model=other), clips, tmp_path / "run", resume=True, progress=False)
    with pytest.raises(TrainingError, match="no training state"):
        Trainer(experiment(4), clips, tmp_path / "empty", resume=True, progress=False)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(clips, tmp_path):
    Trainer(experiment(4, checkpoint_every=2), clips, tmp_path / "run", progress=False).run()
    good = (tmp_path / "run" / "model.safetensors").read_bytes()
    trainer = Trainer(experiment(10, checkpoint_every=2), clips, tmp_path / "run", resume=True, progress=False)
    with torch.no_grad():
        trainer.model.generator.refinement_module.conv_last.bias.fill_(float("nan"))
    result = trainer.run()
    assert result.reason == "non_finite" and result.step == 5
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == good
    state = torch.load(tmp_path / "run" / "state.pt", weights_only=True)
    assert state["step"] == 4


@pytest.mark.parametrize(
    "ablation",
    [
        AblationConfig(deformation=False),
        AblationConfig(coarse_flow=False),
        AblationConfig(residual_flow=False),
        AblationConfig(learned_covariance=False),
        AblationConfig(source_in_dense_motion=False),
    ],
    ids=["no_F", "no_F_coarse", "no_F_residual", "no_Sigma", "no_x"],
)
def test_every_ablation_trains(clips, tmp_path, ablation):
    result = Trainer(experiment(3, model=TINY.replace(ablation=ablation)), clips, tmp_path, progress=False).run()
    assert result.reason == "done"
    model, info = load_checkpoint(result.checkpoint)
    assert info.config.ablation == ablation


def test_pairs_come_from_one_clip_and_augmentation_is_shared(clips):
    bank = FrameBank(clips)
    generator = torch.Generator().manual_seed(0)
    source, driving = bank.sample_pairs(16, generator)
    assert source.shape == (16, 3, 32, 32) and 0 <= source.min() and source.max() <= 1
    flat = bank.frames.float().div(255).flatten(1)
    for s, d in zip(source, driving):
        i = int((flat == s.flatten()).all(1).nonzero()[0])
        j = int((flat == d.flatten()).all(1).nonzero()[0])
        clip_i = int((bank.starts <= i).nonzero()[-1])
        assert i < j and bank.starts[clip_i] <= j < bank.starts[clip_i] + bank.lengths[clip_i]
    # an identical pair stays identical under every shared augmentation
    config = AugmentConfig(time_flip=True, horizontal_flip=True, crop_scale=(0.7, 0.9), brightness=0.3,
                           contrast=0.3, saturation=0.3, hue=0.1)
    a, b = augment_pairs(source, source.clone(), config, generator)
    assert torch.equal(a, b) and not torch.allclose(a, source)


def test_synthetic_pairs_are_smooth_warps_of_the_source(clips):
    images = FrameBank(clips).frames[:4].float() / 255
    warped = random_smooth_warp(images, 0.08, torch.Generator().manual_seed(1))
    assert warped.shape == images.shape
    difference = (warped - images).abs().mean().item()
    assert 0.005 < difference < 0.2  # moved, but still the same picture


def test_builtin_configs_load_and_typos_are_reported(tmp_path):
    assert {"nemo", "taichi", "bair", "mgif", "vox", "face64", "face256"} <= set(builtin_configs())
    for name in builtin_configs():
        assert load_experiment(name).model.name == name
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {preset: face64}\ntrain: {stepz: 10}\n")
    with pytest.raises(ValueError, match="stepz"):
        load_experiment(bad)


def test_an_extended_run_uses_the_new_schedule(clips, tmp_path):
    Trainer(experiment(2, milestones=(100,)), clips, tmp_path, progress=False).run()
    resumed = Trainer(experiment(4, milestones=(3,)), clips, tmp_path, resume=True, progress=False)
    resumed.run()
    assert resumed.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-3 * 0.1)


def test_init_from_starts_with_the_checkpoint_weights(clips, tmp_path):
    first = Trainer(experiment(2), clips, tmp_path / "first", progress=False)
    checkpoint = first.run().checkpoint
    second = Trainer(experiment(1), clips, tmp_path / "second", progress=False, init_from=checkpoint)
    for key, value in first.model.generator.state_dict().items():
        assert torch.equal(value, second.model.generator.state_dict()[key])
    result = second.run()
    _, info = load_checkpoint(result.checkpoint)
    assert info.metadata["training"]["initialised_from"]["steps"] == 2
    from monkeycam.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="expected"):
        Trainer(experiment(1, model=TINY.replace(num_kp=7)), clips, tmp_path / "third", progress=False,
                init_from=checkpoint)
    partial = Trainer(experiment(1, model=TINY.replace(num_kp=7)), clips, tmp_path / "fourth", progress=False,
                      init_from=checkpoint, init_partial=True)
    mine, theirs = partial.model.kp_detector.state_dict(), first.model.kp_detector.state_dict()
    same_shape = [k for k in mine if mine[k].shape == theirs[k].shape]
    assert same_shape and all(torch.equal(mine[k], theirs[k]) for k in same_shape)
    assert len(same_shape) < len(mine)  # the keypoint outputs differ in number: left fresh
    assert partial.initialised_from["taken"].endswith("(matching names and shapes)")
