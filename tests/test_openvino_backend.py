"""The optional OpenVINO backend (`--backend openvino`, installed with the dev extras) against
the torch CPU backend on the shipped live256 weights and a real portrait and clip, the
elimination solve it needs (OpenVINO has no linalg.solve), and its fallback to torch."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from monkeycam.checkpoint import load_checkpoint
from monkeycam.engine import create_engine
from monkeycam.engine.backends import CpuBackend, openvino_installed
from monkeycam.engine.planning import plan_backends
from monkeycam.io import iter_video, read_image
from monkeycam.live import EngineSettings
from monkeycam.model.dense_motion import local_flow_correction, solve_by_elimination
from monkeycam.model.keypoints import Keypoints
from monkeycam.paths import DEFAULT_CPU_MODEL, weights_dir

needs_openvino = pytest.mark.skipif(not openvino_installed(), reason="OpenVINO is not installed")


def ridge_kernel(points: torch.Tensor, sigma: float = 0.05, ridge: float = 0.05) -> torch.Tensor:
    """(B, n, 2) points -> the local flow's (B, n, n) system: Gaussian kernel + ridge * I."""
    squared = torch.cdist(points, points) ** 2
    return torch.exp(-squared / (2 * sigma**2)) + ridge * torch.eye(points.shape[1])


def test_elimination_solves_the_local_flow_systems_like_linalg_solve():
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(6, 10, 2, generator=generator) * 2 - 1
    points[:3, 5] = points[:3, 4] + 0.01  # closed lips: two keypoints almost on top of each other
    system, rhs = ridge_kernel(points), torch.randn(6, 10, 2, generator=generator)
    expected = torch.linalg.solve(system, rhs)
    found = solve_by_elimination(system, rhs)
    assert torch.allclose(found, expected, atol=1e-4, rtol=1e-4)
    assert torch.allclose(system @ found, rhs, atol=1e-4)


def test_the_local_flow_is_the_same_with_either_solver():
    generator = torch.Generator().manual_seed(1)
    flow = torch.randn(2, 2, 16, 16, generator=generator) * 0.05
    mean_source = torch.rand(2, 12, 2, generator=generator) * 1.6 - 0.8
    mean_driving = mean_source + torch.randn(2, 12, 2, generator=generator) * 0.03
    covar = torch.eye(2).expand(2, 12, 2, 2) * 0.01
    source, driving = Keypoints(mean_source, covar), Keypoints(mean_driving, covar)
    reference = local_flow_correction(flow, source, driving, 10, 0.05)
    unrolled = local_flow_correction(flow, source, driving, 10, 0.05, solve_by_elimination)
    assert reference.abs().max() > 1e-3  # the correction is not trivially zero
    assert torch.allclose(unrolled, reference, atol=1e-5)


@pytest.fixture(scope="module")
def live_model():
    model, _ = load_checkpoint(weights_dir() / DEFAULT_CPU_MODEL)
    return model


def square(image: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def clip_frames(faces_dir, count: int, size: int) -> list[np.ndarray]:
    """The first ``count`` frames of a real talking-head test clip, resized to size x size."""
    return [square(frame, size) for frame in iter_video(faces_dir / "test" / "lp_d3.mp4", max_frames=count)]


@needs_openvino
def test_openvino_matches_torch_on_the_shipped_model(live_model, faces_dir):
    from monkeycam.engine.backends import OpenVinoBackend

    size = live_model.config.image_size
    portrait = square(read_image(faces_dir / "portraits" / "lp_s0.jpg"), size)
    torch_backend, openvino_backend = CpuBackend(live_model, threads=1), OpenVinoBackend(live_model, threads=1)
    openvino_backend.warm_up()
    assert openvino_backend.description.startswith("openvino (float32")
    with torch.inference_mode():
        features = [backend.encode_source(backend.to_tensor(portrait)) for backend in (torch_backend, openvino_backend)]
        for frame in clip_frames(faces_dir, 3, size):
            kp_torch = torch_backend.keypoints(torch_backend.to_tensor(frame))
            kp_openvino = openvino_backend.keypoints(openvino_backend.to_tensor(frame))
            assert torch.allclose(kp_openvino.mean, kp_torch.mean, atol=1e-4)
            assert torch.allclose(kp_openvino.covar, kp_torch.covar, atol=1e-4)
            image_torch = torch_backend.to_image(torch_backend.generate(features[0], kp_torch))
            image_openvino = openvino_backend.to_image(openvino_backend.generate(features[1], kp_torch))
            assert image_openvino.shape == (size, size, 3)
            assert np.abs(image_openvino.astype(int) - image_torch.astype(int)).max() <= 2  # uint8 levels
    openvino_backend.close()


@needs_openvino
def test_a_new_source_rebinds_the_features(live_model, faces_dir):
    """Frames after switching the portrait show the new portrait, not the one bound first."""
    from monkeycam.engine.backends import OpenVinoBackend

    size = live_model.config.image_size
    backend = OpenVinoBackend(live_model, threads=1)
    first = square(read_image(faces_dir / "portraits" / "lp_s0.jpg"), size)
    second = square(read_image(faces_dir / "portraits" / "lp_s6.jpg"), size)
    frame = clip_frames(faces_dir, 1, size)[0]
    with torch.inference_mode():
        kp = backend.keypoints(backend.to_tensor(frame))
        kp = Keypoints(kp.mean.clone(), kp.covar.clone())
        images = [backend.to_image(backend.generate(backend.encode_source(backend.to_tensor(p)), kp))
                  for p in (first, second, first)]
    assert np.abs(images[0].astype(int) - images[1].astype(int)).mean() > 5
    assert np.array_equal(images[0], images[2])


@needs_openvino
def test_the_engine_runs_openvino_when_asked_and_auto_stays_on_torch(faces_dir):
    engine = create_engine(EngineSettings(backend="openvino", output_size=128), face_detection=False)
    assert engine.backend_name == "openvino"
    engine.set_source(read_image(faces_dir / "portraits" / "lp_s0.jpg"))
    for index, frame in enumerate(clip_frames(faces_dir, 3, 512)):
        image = engine.process(frame, timestamp=index / 30).image
        assert image.shape == (128, 128, 3) and image.std() > 5
    assert plan_backends("auto", cuda=False, tensorrt=False).names == ("cpu",)
    assert plan_backends("openvino", cuda=False, tensorrt=False).names == ("openvino", "cpu")
