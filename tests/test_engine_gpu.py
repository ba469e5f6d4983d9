"""GPU backends agree with the float32 eager model (skipped without CUDA).

Tolerances (float16 against float32, images in [0, 1]): keypoint means within 0.02 of the
[-1, 1] frame (0.6 px at 64 px), predictions within a mean absolute difference of 0.01 and a
maximum of 0.1. The CUDA-graph path must match the eager CUDA path within 2e-3 (same kernels,
same dtype), also after switching sources (the graph's feature buffers are refreshed).

Needs only torch, numpy, OpenCV and safetensors (no mediapipe, Qt or pyvirtualcam), so it runs
on the lent GPU machine: ``python -m pytest -q -m gpu tests/test_engine_gpu.py``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from monkeycam.engine.backends import Backend, CompiledBackend, CudaBackend
from monkeycam.live.api import EngineSettings
from monkeycam.model import Keypoints, build_model, preset

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

KP_TOLERANCE = 0.02
MEAN_TOLERANCE = 0.01
MAX_TOLERANCE = 0.1


def make_model(name: str, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(preset(name), with_discriminator=False).eval()
    with torch.no_grad():
        model.generator.dense_motion_module.hourglass.decoder.conv.weight.normal_(0.0, 0.05)
    return model


def smooth_image(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), size / 32)


def run_backend(backend: Backend, source: np.ndarray, driving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keypoint means (K, 2), prediction (3, S, S)) as float64 numpy arrays."""
    with torch.inference_mode():
        features = backend.encode_source(backend.to_tensor(source))
        kp = backend.keypoints(backend.to_tensor(driving))
        kp = Keypoints(kp.mean.clone(), kp.covar.clone())
        prediction = backend.generate(features, kp)
        return kp.mean[0].double().cpu().numpy(), prediction[0].double().cpu().numpy()


def reference(model, source: np.ndarray, driving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unmodified float32 eager model on the CPU."""
    def tensor(image):
        return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255

    with torch.inference_mode():
        features = model.prepare_source(tensor(source))
        kp = model.kp_detector(tensor(driving))
        prediction = model.animate(features, kp).prediction
    return kp.mean[0].double().numpy(), prediction[0].double().numpy()


def assert_agrees(ours, expected) -> None:
    (kp, image), (kp_ref, image_ref) = ours, expected
    assert np.abs(kp - kp_ref).max() < KP_TOLERANCE
    difference = np.abs(image - image_ref)
    assert difference.mean() < MEAN_TOLERANCE, difference.mean()
    assert difference.max() < MAX_TOLERANCE, difference.max()


@pytest.mark.parametrize("name", ["face64", "face256", "vox", "live256"])
def test_cuda_fp16_agrees_with_fp32_eager(name):
    model = make_model(name)
    size = model.config.image_size
    source, driving = smooth_image(size, 1), smooth_image(size, 2)
    expected = reference(model, source, driving)
    assert_agrees(run_backend(CudaBackend(model, use_graphs=False), source, driving), expected)
    assert_agrees(run_backend(CudaBackend(model, use_graphs=True), source, driving), expected)


@pytest.mark.parametrize("name", ["face64", "face256", "live256"])  # live256: the local flow's solve in a graph
def test_cuda_graph_path_matches_eager_cuda_across_source_switches(name):
    model = make_model(name)
    size = model.config.image_size
    graphed, eager = CudaBackend(model, use_graphs=True), CudaBackend(model, use_graphs=False)
    graphed.warm_up()
    assert graphed.use_graphs, graphed.graph_note
    driving = smooth_image(size, 5)
    for seed in (1, 2, 1):  # a new source, another, then back to the first
        source = smooth_image(size, seed)
        ours, theirs = run_backend(graphed, source, driving), run_backend(eager, source, driving)
        assert np.abs(ours[0] - theirs[0]).max() < 2e-3
        assert np.abs(ours[1] - theirs[1]).max() < 2e-3


@pytest.mark.slow
def test_compile_backend_agrees_with_fp32_eager():
    model = make_model("face64")
    source, driving = smooth_image(64, 1), smooth_image(64, 2)
    backend = CompiledBackend(model)
    backend.warm_up()
    assert backend.device.type == "cuda"
    assert_agrees(run_backend(backend, source, driving), reference(model, source, driving))


def test_engine_on_cuda_runs_graphs_and_its_cache_changes_nothing():
    from monkeycam.engine import create_engine

    model = make_model("face64")
    settings = EngineSettings(backend="cuda", output_size=64)
    cached = create_engine(settings, model=model, face_detection=False)
    uncached = create_engine(settings, model=model, face_detection=False, reuse_source_features=False)
    assert cached.backend_name == "cuda" and "CUDA graphs" in cached.backend_reason
    for engine in (cached, uncached):
        engine.set_source(smooth_image(90, 3))
    for index in range(5):
        frame = smooth_image(80, 10 + index)
        a = cached.process(frame, timestamp=index / 30).image.astype(int)
        b = uncached.process(frame, timestamp=index / 30).image.astype(int)
        assert np.abs(a - b).max() <= 2
