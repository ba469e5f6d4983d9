"""Checkpoint files: round trip, and one clear line for every kind of bad file."""

from __future__ import annotations

import pytest
import torch

from monkeycam.checkpoint import CheckpointError, load_checkpoint, read_info, save_checkpoint
from monkeycam.model import build_model, preset


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(preset("face64")).eval()
    path = tmp_path_factory.mktemp("ckpt") / "face64.safetensors"
    save_checkpoint(path, model, metadata={"steps": 12, "data": "synthetic"})
    return model, path


def animate(model, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    source = torch.rand(1, 3, 64, 64, generator=generator)
    driving = torch.rand(1, 3, 64, 64, generator=generator)
    with torch.no_grad():
        return model(source, driving).generated.prediction


def test_round_trip_gives_identical_frames_and_keeps_metadata(saved):
    model, path = saved
    loaded, info = load_checkpoint(path, with_discriminator=True)
    assert info.config == model.config
    assert info.metadata == {"steps": 12, "data": "synthetic"}
    assert info.networks == ("kp_detector", "generator", "discriminator")
    assert torch.equal(animate(model), animate(loaded))


def test_half_precision_file_is_smaller_and_close(saved, tmp_path):
    model, path = saved
    half = save_checkpoint(tmp_path / "half.safetensors", model, dtype=torch.float16, include_discriminator=False)
    assert half.stat().st_size < 0.6 * path.stat().st_size
    loaded, info = load_checkpoint(half)
    assert info.networks == ("kp_detector", "generator")
    assert (animate(model) - animate(loaded)).abs().max() < 2e-2


def one_line_error(path, **kwargs) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_file(tmp_path):
    assert "not found" in one_line_error(tmp_path / "nope.safetensors")


def test_non_checkpoint_file(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("these are my holiday notes, not weights\n" * 10)
    assert "not a monkeycam checkpoint" in one_line_error(text)
    image = tmp_path / "picture.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    assert "not a monkeycam checkpoint" in one_line_error(image)


def test_truncated_file(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in one_line_error(truncated)


def test_checkpoint_of_another_config(saved):
    _, path = saved
    message = one_line_error(path, expect=preset("nemo"))
    assert "'face64'" in message and "'nemo'" in message


def test_weights_that_do_not_fit_their_config(saved, tmp_path):
    model, _ = saved
    lying = tmp_path / "lying.safetensors"
    # the header claims face128 but the tensors are face64's
    model.config = preset("face128")
    try:
        save_checkpoint(lying, model)
    finally:
        model.config = preset("face64")
    message = one_line_error(lying)
    assert "do not fit" in message and "wrong shape" in message


def test_original_pickle_suggests_the_converter(tmp_path):
    original = tmp_path / "vox-full.pth.tar"
    torch.save({"generator": {}, "kp_detector": {}}, original)
    assert "monkeycam convert" in one_line_error(original)


def test_inference_file_cannot_resume_training(saved, tmp_path):
    model, _ = saved
    path = save_checkpoint(tmp_path / "g.safetensors", model, include_discriminator=False)
    assert "no discriminator" in one_line_error(path, with_discriminator=True)
    assert read_info(path).config == model.config


def test_save_is_atomic_when_interrupted(saved, tmp_path, monkeypatch):
    model, _ = saved
    target = tmp_path / "out.safetensors"
    from monkeycam import checkpoint

    def failing(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", failing)
    with pytest.raises(OSError):
        save_checkpoint(target, model)
    assert list(tmp_path.iterdir()) == []
