"""Parity with the reference Monkey-Net code through the converter (../shared/reference)."""

from __future__ import annotations

import re

import pytest
import torch

from monkeycam.checkpoint import load_checkpoint
from monkeycam.convert import convert_checkpoint, infer_config, to_2d_state_dict
from monkeycam.model import preset
from tests.conftest import REFERENCE, require_shared

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    fixture = require_shared(REFERENCE / "parity_small.pt")
    out = tmp_path_factory.mktemp("parity") / "parity.safetensors"
    convert_checkpoint(fixture, out)
    model, _ = load_checkpoint(out, with_discriminator=True)
    data = torch.load(fixture, weights_only=True)
    source = data["inputs"]["source"][:, :, 0]  # (B, C, T=1, H, W) -> (B, C, H, W)
    driving = data["inputs"]["driving"][:, :, 0]
    with torch.no_grad():
        kp_source, kp_driving = model.kp_detector(source), model.kp_detector(driving)
        generated = model.generator(source, kp_source, kp_driving)
        maps = model.discriminator(driving, kp_driving)
    ours = {
        "kp_source_mean": kp_source.mean, "kp_source_var": kp_source.covar,
        "kp_driving_mean": kp_driving.mean, "kp_driving_var": kp_driving.covar,
        "deformation": generated.motion.grid, "prediction": generated.prediction, "deformed": generated.deformed,
    }
    return ours, maps, data["outputs"]


def reference_2d(name: str, tensor: torch.Tensor) -> torch.Tensor:
    if name.startswith("kp_"):
        return tensor[:, 0]  # drop T
    if name == "deformation":
        return tensor[:, 0, ..., :2]  # (B, T, H, W, 3) -> x, y
    return tensor[:, :, 0]


@pytest.mark.parametrize(
    "name", ["kp_source_mean", "kp_source_var", "kp_driving_mean", "kp_driving_var", "deformation", "prediction", "deformed"]
)
def test_output_matches_the_reference(parity, name):
    ours, _, reference = parity
    expected = reference_2d(name, reference[name])
    assert ours[name].shape == expected.shape
    assert (ours[name] - expected).abs().max().item() <= TOLERANCE


def test_discriminator_maps_match_the_reference(parity):
    _, maps, reference = parity
    assert len(maps) == len(reference["discriminator_maps"])
    for ours, expected in zip(maps, reference["discriminator_maps"]):
        expected = expected[:, :, 0]
        assert ours.shape == expected.shape
        assert (ours - expected).abs().max().item() <= TOLERANCE


def fake_original_state(name: str) -> dict[str, dict[str, torch.Tensor]]:
    """Random tensors with every key and 3D shape of a published original checkpoint."""
    path = require_shared(REFERENCE / f"keys_{name}.tsv")
    states: dict[str, dict[str, torch.Tensor]] = {}
    network = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            network = line[3:].split(":")[0]
            states[network] = {}
        elif line.strip():
            key, shape = line.split("\t")
            states[network][key] = torch.randn([int(d) for d in re.findall(r"\d+", shape)])
    return states


@pytest.mark.parametrize("name", ["nemo", "taichi", "mgif", "vox"])
def test_converter_infers_the_published_config_from_shapes(name):
    states = {k: to_2d_state_dict(v) for k, v in fake_original_state(name).items()}
    inferred = infer_config(states, name=name)
    expected = preset(name)
    for section in ("kp_detector", "dense_motion", "generator", "discriminator"):
        assert getattr(inferred, section) == getattr(expected, section), section
    assert (inferred.image_size, inferred.num_kp) == (expected.image_size, expected.num_kp)


def test_converting_a_full_original_checkpoint_file(tmp_path):
    states = fake_original_state("nemo")
    original = tmp_path / "nemo.pth.tar"
    torch.save({**states, "optimizer_generator": {}, "epoch": 499, "it": 0}, original)
    out = tmp_path / "nemo.safetensors"
    config = convert_checkpoint(original, out)
    model, info = load_checkpoint(out, with_discriminator=True)
    weight = model.generator.appearance_encoder.down_blocks[0].conv.weight
    assert torch.equal(weight, states["generator"]["appearance_encoder.down_blocks.0.conv.weight"][:, :, 0])
    assert info.metadata["converted_from"] == "nemo.pth.tar" and config.image_size == 64
