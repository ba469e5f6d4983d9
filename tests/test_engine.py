"""The animation engine on the CPU: source cache, relative transfer, paste-back, scripted
motion, backend planning and fallback, and clear errors. A real face64 checkpoint (random
weights, fixed seed) is saved under tmp_path; driving frames are generated or read from
../shared/data/faces when present."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from monkeycam.checkpoint import save_checkpoint
from monkeycam.drawing import keypoint_overlay
from monkeycam.engine import available_backends, create_engine
from monkeycam.engine.backends import BUILDERS, CpuBackend
from monkeycam.engine.compose import resize_square
from monkeycam.engine.engine import Engine, posed_keypoints
from monkeycam.engine.planning import BackendCandidate, candidate, plan_backends
from monkeycam.engine.rewrites import densify_grouped_pointwise, inference_copy
from monkeycam.face.crop import CropBox
from monkeycam.io import iter_video, read_image
from monkeycam.live import BACKEND_NAMES, EngineError, EngineSettings, HeadPose, SettingsError
from monkeycam.model import Keypoints, build_model, preset
from monkeycam.paths import DEFAULT_CPU_MODEL


def make_model(seed: int = 0):
    """face64 with random weights; the dense-motion output conv (zero at init) is randomised
    too so the predicted flow, and thus the frame, really depends on the keypoints."""
    torch.manual_seed(seed)
    model = build_model(preset("face64"), with_discriminator=False).eval()
    with torch.no_grad():
        model.generator.dense_motion_module.hourglass.decoder.conv.weight.normal_(0.0, 0.05)
    return model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "face64.safetensors"
    save_checkpoint(path, make_model(), include_discriminator=False)
    return str(path)


def portrait(seed: int = 1, height: int = 120, width: int = 100) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def driving_frames(count: int = 6, seed: int = 2) -> list[np.ndarray]:
    """Frames of a bright square moving over noise (a real motion for the keypoint detector)."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, (96, 96, 3), dtype=np.uint8)
    frames = []
    for index in range(count):
        frame = background.copy()
        frame[30 + 2 * index : 60 + 2 * index, 20 + 3 * index : 50 + 3 * index] = (230, 200, 180)
        frames.append(frame)
    return frames


def engine_for(checkpoint: str, **changes) -> Engine:
    options = {key: changes.pop(key) for key in ("reuse_source_features", "on_status") if key in changes}
    settings = EngineSettings(checkpoint=checkpoint, backend="cpu", output_size=64, **changes)
    return create_engine(settings, face_detection=False, **options)


# --------------------------------------------------------------------------- source cache


def test_cached_and_uncached_paths_give_identical_frames(checkpoint):
    cached = engine_for(checkpoint)
    uncached = engine_for(checkpoint, reuse_source_features=False)
    for engine in (cached, uncached):
        engine.set_source(portrait())
    for index, frame in enumerate(driving_frames()):
        a = cached.process(frame, timestamp=index / 25)
        b = uncached.process(frame, timestamp=index / 25)
        assert np.array_equal(a.image, b.image)
        assert np.array_equal(a.keypoints.means, b.keypoints.means)


def test_switching_back_to_a_seen_source_reuses_its_features(checkpoint):
    engine = engine_for(checkpoint)
    first, second = portrait(1), portrait(3)
    info = engine.set_source(first)
    features = engine.source_features
    assert not info.cached and info.crop.shape == (64, 64, 3)
    assert not engine.set_source(second).cached
    again = engine.set_source(first.copy())  # same content, another array
    assert again.cached
    assert engine.source_features is features


def test_whole_image_is_used_with_a_warning_when_no_face_is_found(checkpoint):
    pytest.importorskip("mediapipe")
    engine = create_engine(EngineSettings(checkpoint=checkpoint, backend="cpu"), face_detection=True)
    info = engine.set_source(np.full((90, 160, 3), 90, dtype=np.uint8))  # a flat grey picture
    assert info.face_box is None
    assert info.warning and "no face" in info.warning
    assert info.crop.shape == (64, 64, 3)


def test_a_real_portrait_is_cropped_around_its_face(checkpoint, faces_dir):
    pytest.importorskip("mediapipe")
    image = read_image(faces_dir / "portraits" / "lp_s0.jpg")
    engine = create_engine(EngineSettings(checkpoint=checkpoint, backend="cpu"), face_detection=True)
    info = engine.set_source(image)
    assert info.face_box is not None and info.warning is None
    x, y, size = info.face_box
    height, width = image.shape[:2]
    assert 0.2 * min(height, width) < size < 2.5 * max(height, width)
    assert -size / 2 < x < width and -size / 2 < y < height


# --------------------------------------------------------------------------- relative transfer


def test_relative_transfer_with_a_constant_driving_frame_returns_the_source(checkpoint):
    engine = engine_for(checkpoint, adapt_covariance=True, smoothing=0.5)
    engine.set_source(portrait())
    still = driving_frames(1)[0]
    results = [engine.process(still, timestamp=index / 25) for index in range(4)]

    kp_source = engine.source_keypoints
    expected_overlay = keypoint_overlay(kp_source.mean[0].numpy(), kp_source.covar[0].numpy(), 64, CropBox(0, 0, 64))
    backend = engine.backend
    with torch.inference_mode():
        prediction = backend.generate(engine.source_features, backend.keypoints_to_device(kp_source))
        reconstruction = backend.to_image(prediction)
    model = engine.model
    with torch.inference_mode():
        crop = torch.from_numpy(engine.source_crop).permute(2, 0, 1)[None].float() / 255
        eager = model.animate(model.prepare_source(crop), kp_source).prediction[0].permute(1, 2, 0).numpy()
    for result in results:
        np.testing.assert_allclose(result.keypoints.means, expected_overlay.means, atol=1e-4)
        np.testing.assert_allclose(result.keypoints.covariances, expected_overlay.covariances, rtol=1e-3, atol=1e-4)
        assert np.abs(result.image.astype(int) - resize_square(reconstruction, 64).astype(int)).max() <= 1
        assert np.abs(result.image / 255.0 - eager).max() < 2.5 / 255  # unfolded fp32 model, NCHW


def test_relative_means_follow_the_source_and_absolute_ones_the_driving_frame(checkpoint):
    frames = driving_frames()
    relative = engine_for(checkpoint, smoothing=0.0)
    absolute = engine_for(checkpoint, smoothing=0.0, relative=False)
    for engine in (relative, absolute):
        engine.set_source(portrait())
    first_rel = relative.process(frames[0]).keypoints.means
    first_abs = absolute.process(frames[0]).keypoints.means
    source_means = keypoint_overlay(relative.source_keypoints.mean[0].numpy(),
                                    relative.source_keypoints.covar[0].numpy(), 64, CropBox(0, 0, 64)).means
    np.testing.assert_allclose(first_rel, source_means, atol=1e-4)  # the first frame is the reference
    assert np.abs(first_abs - source_means).max() > 0.5  # absolute: the driving keypoints
    moved_rel = relative.process(frames[-1]).keypoints.means
    moved_abs = absolute.process(frames[-1]).keypoints.means
    np.testing.assert_allclose(moved_rel - first_rel, moved_abs - first_abs, atol=1e-3)


def test_reset_reference_re_anchors_motion_on_the_next_frame(checkpoint):
    engine = engine_for(checkpoint, smoothing=0.0)
    engine.set_source(portrait())
    frames = driving_frames()
    engine.process(frames[0])
    moved = engine.process(frames[-1]).keypoints.means
    engine.set_reference(None)
    anchored = engine.process(frames[-1]).keypoints.means
    source = keypoint_overlay(engine.source_keypoints.mean[0].numpy(), engine.source_keypoints.covar[0].numpy(),
                              64, CropBox(0, 0, 64)).means
    assert np.abs(moved - source).max() > 0.01
    np.testing.assert_allclose(anchored, source, atol=1e-4)
    engine.set_reference(frames[0])
    np.testing.assert_allclose(engine.process(frames[0]).keypoints.means, source, atol=1e-4)


def test_smoothing_strength_reduces_keypoint_jitter(checkpoint):
    rng = np.random.default_rng(5)
    base = driving_frames(1)[0].astype(np.int16)
    noisy = [np.clip(base + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8) for _ in range(12)]

    def jitter(strength: float) -> float:
        engine = engine_for(checkpoint, smoothing=strength)
        engine.set_source(portrait())
        means = [engine.process(frame, timestamp=i / 30).keypoints.means for i, frame in enumerate(noisy)]
        return float(np.std(np.stack(means[2:]), axis=0).mean())

    assert jitter(1.0) < 0.5 * jitter(0.0)


# --------------------------------------------------------------------------- output


def test_output_size_and_paste_back_into_the_full_portrait(checkpoint):
    engine = engine_for(checkpoint)
    image = portrait(height=150, width=110)
    engine.set_source(image)
    frame = driving_frames(1)[0]
    assert engine.process(frame).image.shape == (64, 64, 3)
    engine.update_settings(engine.settings.updated(output_size=200))
    resized = engine.process(frame)
    assert resized.image.shape == (200, 200, 3)
    engine.update_settings(engine.settings.updated(paste_back=True))
    pasted = engine.process(frame)
    assert pasted.image.shape == image.shape
    # no face detection: the crop covers the whole portrait, so the face replaces its centre
    assert not np.array_equal(pasted.image[70:80, 50:60], image[70:80, 50:60])
    assert pasted.keypoints.means.min() > -20 and pasted.keypoints.means.max() < 170


def test_a_frame_size_lays_out_the_portrait_or_the_crop_in_that_frame(checkpoint):
    engine = engine_for(checkpoint, frame_size=(640, 480))
    image = portrait(height=300, width=200)  # a tall portrait: 4:3 needs surroundings at the sides
    engine.set_source(image)
    frame = driving_frames(1)[0]
    crop_only = engine.process(frame)
    assert crop_only.image.shape == (480, 640, 3)
    engine.update_settings(engine.settings.updated(paste_back=True))
    pasted = engine.process(frame)
    assert pasted.image.shape == (480, 640, 3)
    assert not np.array_equal(pasted.image, crop_only.image)
    for edge in (pasted.image[0], pasted.image[-1], pasted.image[:, 0], pasted.image[:, -1]):
        assert edge.max() > 60  # the portrait's noise or its blurred surroundings, never a black bar
    means = pasted.keypoints.means
    assert means[:, 0].min() > 0 and means[:, 0].max() < 640 and means[:, 1].min() > -100
    engine.update_settings(engine.settings.updated(frame_size=(1280, 720)))
    assert engine.process(frame).image.shape == (720, 1280, 3)


def test_scripted_motion_moves_the_source_keypoints(checkpoint):
    engine = engine_for(checkpoint)
    engine.set_source(portrait())
    rest = engine.process_pose(HeadPose())
    turned = engine.process_pose(HeadPose(yaw=0.1))
    source_means = keypoint_overlay(engine.source_keypoints.mean[0].numpy(), engine.source_keypoints.covar[0].numpy(),
                                    64, CropBox(0, 0, 64)).means
    np.testing.assert_allclose(rest.keypoints.means, source_means, atol=1e-4)
    np.testing.assert_allclose(turned.keypoints.means[:, 0] - source_means[:, 0], 0.1 * 63, atol=1e-3)
    assert not np.array_equal(rest.image, turned.image)
    frames = [engine.process_scripted(t).image for t in (0.0, 0.7, 1.4)]
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[1], frames[2])


def test_posed_keypoints_rotate_scale_and_open_the_mouth():
    mean = torch.tensor([[[0.0, -0.5], [0.0, 0.5], [-0.5, 0.0], [0.5, 0.0]]])
    covar = torch.eye(2).expand(1, 4, 2, 2) * torch.tensor([0.01, 0.02]).diag_embed()
    kp = Keypoints(mean, covar)
    rolled = posed_keypoints(kp, HeadPose(roll=np.pi / 2, scale=2.0))
    np.testing.assert_allclose(rolled.mean[0, 0].numpy(), [1.0, 0.0], atol=1e-6)  # top point -> right, twice as far
    np.testing.assert_allclose(rolled.covar[0, 0].numpy(), 4 * np.diag([0.02, 0.01]), atol=1e-7)
    mouth = posed_keypoints(kp, HeadPose(mouth=1.0))
    assert mouth.mean[0, 1, 1] > 0.5 and torch.equal(mouth.mean[0, 0], mean[0, 0])


def test_real_video_drives_a_real_portrait(checkpoint, faces_dir):
    pytest.importorskip("mediapipe")
    engine = create_engine(EngineSettings(checkpoint=checkpoint, backend="cpu", output_size=128), face_detection=True)
    engine.set_source(read_image(faces_dir / "portraits" / "lp_s0.jpg"))
    results = [engine.process(frame, timestamp=i / 30)
               for i, frame in enumerate(iter_video(faces_dir / "test" / "lp_d3.mp4", max_frames=8))]
    assert all(result.face_found for result in results)
    assert all(result.image.shape == (128, 128, 3) for result in results)
    boxes = np.array([result.driving_box for result in results])
    assert np.abs(np.diff(boxes, axis=0)).max() < 0.05 * boxes[:, 2].mean()  # a steady crop
    assert results[-1].timings.total_ms >= results[-1].timings.generator_ms > 0


# --------------------------------------------------------------------------- backends


def test_inference_rewrites_keep_what_the_model_computes():
    model = make_model()
    rewritten = inference_copy(model, torch.device("cpu"), torch.float32, channels_last=True)
    assert densify_grouped_pointwise(build_model(preset("face64"))) == 2  # the dense motion's 1x1 blocks
    assert isinstance(model.kp_detector.predictor.encoder.down_blocks[0].norm, torch.nn.BatchNorm2d)  # untouched
    generator = torch.Generator().manual_seed(3)
    source, driving = torch.rand(1, 3, 64, 64, generator=generator), torch.rand(1, 3, 64, 64, generator=generator)
    with torch.inference_mode():
        expected_kp = model.kp_detector(driving)
        expected = model.animate(model.prepare_source(source), expected_kp).prediction
        kp = rewritten.kp_detector(driving.contiguous(memory_format=torch.channels_last))
        prediction = rewritten.animate(rewritten.prepare_source(source), kp).prediction
    torch.testing.assert_close(kp.mean, expected_kp.mean, atol=1e-5, rtol=0)
    torch.testing.assert_close(prediction, expected, atol=1e-5, rtol=0)
    assert not any(isinstance(getattr(block, "norm", None), torch.nn.BatchNorm2d) for block in rewritten.modules())


def test_one_table_of_backends_matches_the_names_offered_to_users():
    assert ("auto", *BUILDERS) == BACKEND_NAMES
    assert set(available_backends()) <= set(BUILDERS) and available_backends()[0] == "cpu"


def test_backend_plans():
    assert plan_backends("auto", cuda=False, tensorrt=False).names == ("cpu",)
    assert plan_backends("auto", cuda=True, tensorrt=False).names == ("cuda", "cpu")
    assert plan_backends("auto", cuda=True, tensorrt=True).names == ("tensorrt", "cuda", "cpu")
    assert plan_backends("compile", cuda=False, tensorrt=False).names == ("compile", "cpu")
    assert plan_backends("tensorrt", cuda=False, tensorrt=False).names == ("tensorrt", "cpu")
    assert "no CUDA GPU" in plan_backends("auto", cuda=False, tensorrt=False).reason
    with pytest.raises(ValueError, match="unknown backend"):
        plan_backends("fastest", cuda=False, tensorrt=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
def test_a_backend_that_cannot_be_built_falls_back_and_says_why(checkpoint):
    messages = []
    engine = create_engine(EngineSettings(checkpoint=checkpoint, backend="tensorrt"), face_detection=False,
                           on_status=messages.append)
    assert engine.backend_name == "cpu"
    assert "tensorrt backend unavailable" in engine.backend_reason
    assert any("tensorrt" in message for message in messages)
    engine.set_source(portrait())
    assert engine.process(driving_frames(1)[0]).image.shape == (256, 256, 3)


class FlakyBackend(CpuBackend):
    """A real CPU backend whose generator breaks after a few frames (a driver crash, say)."""

    name = "flaky"

    def __init__(self, model, fail_after: int) -> None:
        super().__init__(model, threads=1)
        self.calls = 0
        self.fail_after = fail_after

    def generate(self, features, kp_driving):
        self.calls += 1
        if self.calls > self.fail_after:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return super().generate(features, kp_driving)


def test_a_backend_failing_while_running_falls_back_without_losing_a_frame(checkpoint):
    from monkeycam.checkpoint import load_checkpoint

    model, _ = load_checkpoint(checkpoint)
    messages = []
    settings = EngineSettings(backend="cpu", output_size=64)
    flaky = Engine(model, settings, [BackendCandidate("flaky", lambda m: FlakyBackend(m, fail_after=4)),
                                     candidate("cpu", threads=1)], face_detection=False, on_status=messages.append)
    steady = Engine(model, settings, [candidate("cpu", threads=1)], face_detection=False)
    frames = driving_frames(6)
    for engine in (flaky, steady):
        engine.set_source(portrait())
    assert flaky.backend_name == "flaky"  # warm-up used 2 generator calls
    outputs = [(flaky.process(f, timestamp=i / 25), steady.process(f, timestamp=i / 25)) for i, f in enumerate(frames)]
    assert flaky.backend_name == "cpu"
    assert any("flaky failed while running" in message for message in messages)
    assert "fell back to cpu" in flaky.backend_reason
    for ours, reference in outputs:
        assert np.array_equal(ours.image, reference.image)


def test_when_every_backend_fails_the_error_names_them(checkpoint):
    from monkeycam.checkpoint import load_checkpoint

    model, _ = load_checkpoint(checkpoint)

    def broken(_model):
        raise RuntimeError("no device")

    with pytest.raises(EngineError, match="no backend works here: a backend unavailable \\(no device\\)"):
        Engine(model, EngineSettings(), [BackendCandidate("a", broken)], face_detection=False)


# --------------------------------------------------------------------------- errors


def test_a_missing_default_model_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MONKEYCAM_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(EngineError) as caught:
        create_engine(EngineSettings())
    message = str(caught.value)
    assert "\n" not in message and DEFAULT_CPU_MODEL in message and "--checkpoint" in message


def test_bad_checkpoints_and_frames_are_clear_errors(checkpoint, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError, match="bad.safetensors"):
        create_engine(EngineSettings(checkpoint=str(bad)))
    engine = engine_for(checkpoint)
    with pytest.raises(EngineError, match="no source image"):
        engine.process(driving_frames(1)[0])
    with pytest.raises(ValueError, match="uint8 RGB"):
        engine.set_source(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError, match="smoothing"):
        engine.update_settings(engine.settings.updated(smoothing=2.0))


def test_settings_check_themselves_and_know_what_needs_a_reload():
    with pytest.raises(SettingsError, match=r"crop_scale must be from 0.5 to 8.0, got -1.0"):
        EngineSettings(crop_scale=-1.0)
    for bad in ({"backend": "warp"}, {"output_size": 8}, {"threads": -1}, {"smoothing": 1.5},
                {"crop_scale": float("nan")}, {"crop_scale": 1e308}, {"output_size": 100000}):
        with pytest.raises(SettingsError) as caught:
            EngineSettings().updated(**bad)
        assert caught.value.field == next(iter(bad)) and isinstance(caught.value, ValueError)
    base = EngineSettings()
    assert base.needs_reload(None)
    assert not base.updated(smoothing=0.1, mirror=True, output_size=128, crop_scale=3.0).needs_reload(base)
    for change in ({"checkpoint": "other.safetensors"}, {"backend": "cpu"}, {"threads": 2}):
        assert base.updated(**change).needs_reload(base), change


def test_importing_the_live_layer_and_the_gui_does_not_import_torch():
    code = ("import sys, monkeycam.live, monkeycam.drawing, monkeycam.gui.window; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["face64", "face256"])
def test_channel_padding_for_tensor_cores_changes_no_value(name):
    """The CUDA backend pads convolution channels to multiples of 8; the maths is unchanged."""
    from monkeycam.engine.rewrites import ChannelPaddedConv2d, inference_copy

    torch.manual_seed(0)
    model = build_model(preset(name), with_discriminator=False).eval()
    with torch.no_grad():
        model.generator.dense_motion_module.hourglass.decoder.conv.weight.normal_(0.0, 0.05)
    plain = inference_copy(model, torch.device("cpu"), torch.float32, channels_last=False)
    padded = inference_copy(model, torch.device("cpu"), torch.float32, channels_last=True, pad_to=8)
    wrapped = [m for m in padded.modules() if isinstance(m, ChannelPaddedConv2d)]
    assert wrapped and all(m.conv.in_channels % 8 == 0 and m.conv.out_channels % 8 == 0 for m in wrapped)
    size = model.config.image_size
    source, driving = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size)
    with torch.no_grad():
        expected = plain.animate(plain.prepare_source(source), plain.kp_detector(driving)).prediction
        actual = padded.animate(padded.prepare_source(source), padded.kp_detector(driving)).prediction
    assert (expected - actual).abs().max() < 1e-4
