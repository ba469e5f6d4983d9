"""Presets: published widths reproduce the reference parameter counts; every preset and
ablation switch builds, runs forward and backward, and gives finite outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from monkeycam.model import PRESETS, AblationConfig, ModelConfig, build_model, count_parameters, preset
from tests.conftest import REFERENCE, require_shared

# From ../shared/reference/README.md ("Parameter counts"); the .tsv files there are checked too.
README_COUNTS = {
    "nemo": (9_412_600, 19_088_315, 1_719_489),
    "vox": (14_132_728, 80_629_691, 1_719_489),
}


def tsv_counts(path: Path) -> tuple[int, int, int]:
    counts = dict(re.findall(r"^## (\w+): \d+ entries, (\d+) trainable params", path.read_text(), re.MULTILINE))
    return int(counts["kp_detector"]), int(counts["generator"]), int(counts["discriminator"])


def model_counts(name: str) -> tuple[int, int, int]:
    model = build_model(preset(name))
    return tuple(count_parameters(m) for m in (model.kp_detector, model.generator, model.discriminator))


@pytest.mark.parametrize("name", sorted(README_COUNTS))
def test_published_counts_match_the_reference_readme(name):
    assert model_counts(name) == README_COUNTS[name]


@pytest.mark.parametrize("name", ["nemo", "taichi", "mgif", "vox"])
def test_published_counts_match_the_reference_key_files(name):
    path = require_shared(REFERENCE / f"keys_{name}.tsv")
    assert model_counts(name) == tsv_counts(path)


@pytest.mark.parametrize("name", ["nemo", "taichi", "mgif", "vox"])
def test_state_dict_keys_and_shapes_match_the_reference(name):
    """Every reference tensor exists in our 2D model with the same shape (depth axis dropped)."""
    path = require_shared(REFERENCE / f"keys_{name}.tsv")
    model = build_model(preset(name))
    ours = {}
    for network in ("kp_detector", "generator", "discriminator"):
        for key, value in getattr(model, network).state_dict().items():
            ours[(network, key.replace("conv_last", "conv-last"))] = tuple(value.shape)
    reference, network = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            network = line[3:].split(":")[0]
        elif line.strip():
            key, shape = line.split("\t")
            dims = [int(d) for d in re.findall(r"\d+", shape)]
            if len(dims) == 5:
                dims.pop(2)
            reference[(network, key)] = tuple(dims)
    assert ours == reference


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_and_gives_finite_frames(name):
    config = preset(name)
    model = build_model(config).eval()
    size = config.image_size
    torch.manual_seed(0)
    source, driving = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size)
    with torch.no_grad():
        out = model(source, driving)
        maps = model.discriminator(out.generated.prediction, out.kp_driving)
    assert out.generated.prediction.shape == (1, 3, size, size)
    assert out.generated.deformed.shape == (1, 3, size, size)
    assert torch.isfinite(out.generated.prediction).all() and torch.isfinite(maps[-1]).all()
    assert 0 <= out.generated.prediction.min() and out.generated.prediction.max() <= 1
    assert out.kp_source.mean.shape == (1, config.num_kp, 2)
    assert out.kp_source.mean.abs().max() <= 1


ABLATIONS = {
    "no_F": AblationConfig(deformation=False),
    "no_F_coarse": AblationConfig(coarse_flow=False),
    "no_F_residual": AblationConfig(residual_flow=False),
    "no_Sigma": AblationConfig(learned_covariance=False),
    "no_x": AblationConfig(source_in_dense_motion=False),
}


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_every_ablation_trains_a_step(name):
    config = preset("face64").replace(ablation=ABLATIONS[name])
    model = build_model(config)
    source, driving = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    out = model(source, driving)
    loss = (out.generated.prediction - driving).abs().mean()
    loss.backward()
    grads = [p.grad for p in model.generator.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    if name == "no_F":
        assert model.generator.dense_motion_module is None and out.generated.motion is None
    if name == "no_Sigma":
        expected = torch.eye(2) * config.ablation.fixed_variance
        assert torch.allclose(out.kp_driving.covar, expected.expand_as(out.kp_driving.covar))
    if name == "no_F_coarse":
        assert out.generated.motion.masks is None and out.generated.motion.residual is not None
    if name == "no_F_residual":
        assert out.generated.motion.residual is None and out.generated.motion.masks is not None


def test_no_x_removes_the_source_from_the_dense_motion_input():
    full = build_model(preset("face64")).generator.dense_motion_module
    no_x = build_model(preset("face64").replace(ablation=AblationConfig(source_in_dense_motion=False))).generator.dense_motion_module
    assert full.hourglass.encoder.down_blocks[0].conv.in_channels == 11 * 4
    assert no_x.hourglass.encoder.down_blocks[0].conv.in_channels == 11 * 1


def test_config_round_trips_through_json_and_rejects_unknown_fields():
    for config in PRESETS.values():
        assert ModelConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="unknown field"):
        ModelConfig.from_dict({**preset("nemo").to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="divisible"):
        preset("nemo").replace(image_size=48)
