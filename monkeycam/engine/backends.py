"""Inference backends: one model, run on CPU or CUDA, eager, CUDA-graphed or compiled.

Every backend exposes the same four steps, on tensors of the model's frame size S:

- ``to_tensor(image)``: (S, S, 3) uint8 RGB -> (1, 3, S, S) in [0, 1] on the device;
- ``encode_source(image)``: the source-only work (:class:`SourceFeatures`), done once per source;
- ``keypoints(frame)``: driving keypoints (means (1, K, 2) in [-1, 1], float32 on the device);
- ``generate(features, kp_driving)``: the animated frame (1, 3, S, S) in [0, 1];

and ``to_image(tensor)`` back to (S, S, 3) uint8. Keypoint maths and softmax stay in float32
(the model casts them) whatever the backend's dtype. Each backend works on its own copy of
the model rewritten for inference (:mod:`.rewrites`).

Backends (:data:`BUILDERS`, the one table of them, keyed by the names of
:data:`monkeycam.live.api.BACKEND_NAMES`; :mod:`.planning` chooses among them):
    cpu: float32, flushed denormals, a chosen number of threads, channels_last.
    cuda: float16, channels_last, the per-frame work replayed from CUDA graphs.
    compile: torch.compile (inductor) of the per-frame work, on CUDA (fp16) or CPU (fp32).
    tensorrt: torch.compile with the torch-tensorrt backend, fp16 (optional extra).
    openvino: the per-frame networks converted to OpenVINO and run by its CPU plugin in
        float32 (the source-only work stays in torch); optional extra ``monkeycam[openvino]``.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..errors import UserError, one_line
from ..model import Keypoints, MonkeyNet, SourceFeatures
from ..model.dense_motion import solve_by_elimination
from ..torch_runtime import configure_cpu, default_threads
from .rewrites import inference_copy

log = logging.getLogger(__name__)

# Errors a backend may raise while building or running (CUDA errors, compiler failures,
# missing compilers, unsupported operators); anything else is a bug and propagates.
BACKEND_FAILURES: tuple[type[BaseException], ...] = (
    RuntimeError, NotImplementedError, AssertionError, OSError, ImportError,
)


class BackendUnavailable(UserError, RuntimeError):
    """A backend cannot be built on this machine; the message (one line) says why."""


class Backend:
    """The eager model on one device and dtype (the ``cpu`` backend; base of the others).

    Args:
        model: float32 model (not modified; the backend keeps its own copy).
        device, dtype: where and how to run.
        channels_last: NHWC memory format (faster convolutions on CPU and tensor cores).
    """

    name = "cpu"

    def __init__(
        self, model: MonkeyNet, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
        channels_last: bool = True, pad_to: int = 0,
    ) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        self.channels_last = channels_last
        self.model = inference_copy(model, self.device, dtype, channels_last, pad_to)
        self.image_size = model.config.image_size

    @property
    def description(self) -> str:
        """e.g. 'cpu (float32, channels_last, 1 thread)'."""
        details = [str(self.dtype).replace("torch.", "")]
        if self.channels_last:
            details.append("channels_last")
        if self.device.type == "cpu":
            threads = torch.get_num_threads()
            details.append(f"{threads} thread{'s' if threads != 1 else ''}")
        return f"{self.name} ({', '.join(details)})"

    # ------------------------------------------------------------------ conversions
    def to_tensor(self, image: np.ndarray) -> torch.Tensor:
        """(S, S, 3) uint8 RGB -> (1, 3, S, S) ``dtype`` in [0, 1] on the device (NHWC strides)."""
        tensor = torch.from_numpy(np.ascontiguousarray(image)).to(self.device, non_blocking=True)
        tensor = tensor.permute(2, 0, 1).unsqueeze(0).to(self.dtype).div_(255.0)
        return tensor if self.channels_last else tensor.contiguous()

    def to_image(self, tensor: torch.Tensor) -> np.ndarray:
        """(1, 3, S, S) in [0, 1] -> (S, S, 3) uint8 RGB on the CPU (rounded)."""
        pixels = tensor[0].permute(1, 2, 0).float().mul(255.0).add_(0.5).clamp_(0.0, 255.0).to(torch.uint8)
        return pixels.cpu().numpy()

    def synchronize(self) -> None:
        """Wait for queued device work (for timing)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # ------------------------------------------------------------------ networks
    def encode_source(self, image: torch.Tensor) -> SourceFeatures:
        """Source-only work for a (1, 3, S, S) source: keypoints, encoder features, heatmaps."""
        return self.model.prepare_source(image)

    def keypoints(self, frame: torch.Tensor) -> Keypoints:
        """Keypoints of a (1, 3, S, S) frame (float32). Valid until the next call."""
        return self.model.kp_detector(frame)

    def generate(self, features: SourceFeatures, kp_driving: Keypoints) -> torch.Tensor:
        """The source moved to ``kp_driving``: (1, 3, S, S) in [0, 1]. Valid until the next call."""
        return self.model.animate(features, kp_driving).prediction

    def keypoints_to_device(self, kp: Keypoints) -> Keypoints:
        return Keypoints(kp.mean.to(self.device, torch.float32), kp.covar.to(self.device, torch.float32))

    def warm_up(self) -> None:
        """Run the per-frame work twice on a grey source and a noise frame; raise on failure.

        Builds what is built lazily (CUDA graphs, compiled kernels) so the first real frame
        is not slow, and checks the output is finite.
        """
        size = self.image_size
        grey = np.full((size, size, 3), 128, dtype=np.uint8)
        noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
        with torch.inference_mode():
            features = self.encode_source(self.to_tensor(grey))
            for _ in range(2):
                kp = self.keypoints(self.to_tensor(noise))
                kp = Keypoints(kp.mean.clone(), kp.covar.clone())
                prediction = self.generate(features, kp)
            if not bool(torch.isfinite(prediction).all()):
                raise BackendUnavailable(f"{self.name} produced non-finite values on a test frame")
            self.synchronize()

    def close(self) -> None:
        """Release what the backend holds (graphs, compiled code)."""


class CpuBackend(Backend):
    """float32 on the CPU with denormals flushed (BatchNorm/ReLU on denormals ran up to 3x
    slower) and ``threads`` intra-op threads (process-wide setting)."""

    name = "cpu"

    def __init__(self, model: MonkeyNet, threads: int = 0) -> None:
        configure_cpu(threads if threads > 0 else default_threads())
        super().__init__(model, "cpu", torch.float32, channels_last=True)


class _GraphedCall:
    """A function of fixed-shape CUDA tensors, captured once in a CUDA graph and replayed.

    Calling copies the arguments into the captured input buffers and replays the graph; the
    returned tensors are the graph's output buffers (overwritten by the next call).
    """

    def __init__(self, function: Callable[..., object], example: Sequence[torch.Tensor]) -> None:
        self.inputs = [tensor.clone() for tensor in example]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm-up outside the graph (cuDNN picks its algorithms here)
                function(*self.inputs)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = function(*self.inputs)

    def __call__(self, *arguments: torch.Tensor) -> object:
        for buffer, value in zip(self.inputs, arguments, strict=True):
            if buffer is not value:
                buffer.copy_(value)
        self.graph.replay()
        return self.outputs


def _flatten_features(
    features: SourceFeatures,
) -> tuple[list[torch.Tensor], Callable[[list[torch.Tensor]], SourceFeatures]]:
    """The tensors of ``features`` as a flat list, and a function rebuilding SourceFeatures."""
    optional = [features.motion_image, features.motion_heatmap]
    flat = [features.image, features.keypoints.mean, features.keypoints.covar, features.heatmap,
            *features.skips, *[t for t in optional if t is not None]]
    present = [t is not None for t in optional]
    skips = len(features.skips)

    def rebuild(tensors: list[torch.Tensor]) -> SourceFeatures:
        image, mean, covar, heatmap = tensors[:4]
        skip_tensors = list(tensors[4 : 4 + skips])
        rest = iter(tensors[4 + skips :])
        motion_image, motion_heatmap = (next(rest) if flag else None for flag in present)
        return SourceFeatures(image, Keypoints(mean, covar), skip_tensors, heatmap, motion_image, motion_heatmap)

    return flat, rebuild


def solve_without_linalg(model: MonkeyNet) -> None:
    """Make the local flow solve its small systems by elimination (:func:`solve_by_elimination`,
    the same result): ``torch.linalg.solve`` synchronises a CUDA device with the CPU, which
    breaks CUDA-graph capture, and OpenVINO cannot convert it."""
    motion = model.generator.dense_motion_module
    if motion is not None:
        motion.linear_solver = solve_by_elimination


class CudaBackend(Backend):
    """float16, channels_last, per-frame work replayed from CUDA graphs.

    The keypoint detector and the generator are captured as two graphs (the keypoint
    transfer between them runs on the CPU, as smoothing and relative motion need it there).
    Source features are copied into the generator graph's buffers when the source changes.
    If capture fails the backend runs eagerly and says so in its description.
    """

    name = "cuda"

    def __init__(
        self, model: MonkeyNet, use_graphs: bool = True, dtype: torch.dtype = torch.float16, pad_to: int = 8
    ) -> None:
        if not torch.cuda.is_available():
            raise BackendUnavailable("no CUDA GPU is available to torch here")
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        super().__init__(model, "cuda", dtype, channels_last=True, pad_to=pad_to)
        solve_without_linalg(self.model)
        self.use_graphs = use_graphs
        self.graph_note = "CUDA graphs" if use_graphs else "eager"
        self._kp_graph: _GraphedCall | None = None
        self._generate_graph: _GraphedCall | None = None
        self._loaded_features: SourceFeatures | None = None

    @property
    def description(self) -> str:
        return f"{self.name} ({str(self.dtype).replace('torch.', '')}, channels_last, {self.graph_note}, " \
               f"{torch.cuda.get_device_name(self.device)})"

    def keypoints(self, frame: torch.Tensor) -> Keypoints:
        if not self.use_graphs:
            return super().keypoints(frame)
        if self._kp_graph is None:
            self._kp_graph = self._capture(lambda x: tuple(self.model.kp_detector(x)), [frame])
            if self._kp_graph is None:
                return super().keypoints(frame)
        mean, covar = self._kp_graph(frame)
        return Keypoints(mean, covar)

    def generate(self, features: SourceFeatures, kp_driving: Keypoints) -> torch.Tensor:
        if not self.use_graphs:
            return super().generate(features, kp_driving)
        flat, rebuild = _flatten_features(features)
        if self._generate_graph is None:
            graph = self._capture(
                lambda *t: self.model.animate(rebuild(list(t[:-2])), Keypoints(t[-2], t[-1])).prediction,
                [*flat, kp_driving.mean, kp_driving.covar],
            )
            if graph is None:
                return super().generate(features, kp_driving)
            self._generate_graph, self._loaded_features = graph, features
        graph = self._generate_graph
        if features is not self._loaded_features:  # a new source: refresh the feature buffers once
            for buffer, value in zip(graph.inputs[:-2], flat, strict=True):
                buffer.copy_(value)
            self._loaded_features = features
        graph.inputs[-2].copy_(kp_driving.mean)
        graph.inputs[-1].copy_(kp_driving.covar)
        graph.graph.replay()
        return graph.outputs

    def _capture(self, function: Callable[..., object], example: list[torch.Tensor]) -> _GraphedCall | None:
        try:
            return _GraphedCall(function, example)
        except BACKEND_FAILURES as error:
            self.use_graphs = False
            self.graph_note = f"eager: CUDA graph capture failed ({one_line(error, 300)})"
            log.warning("CUDA graph capture failed, running eagerly: %s", one_line(error, 300))
            torch.cuda.synchronize()
            return None

    def close(self) -> None:
        self._kp_graph = self._generate_graph = self._loaded_features = None


class CompiledBackend(Backend):
    """The per-frame work compiled with ``torch.compile``.

    On CUDA: float16, channels_last, inductor with CUDA graphs ("reduce-overhead"). On CPU:
    float32 with weights frozen into the compiled code (inductor ``freezing``). Compilation
    happens in :meth:`warm_up` (about a minute per model on a small CPU the first time;
    inductor caches it on disk, later starts take seconds).
    """

    name = "compile"

    def __init__(self, model: MonkeyNet, compiler: str = "inductor", threads: int = 0) -> None:
        cuda = torch.cuda.is_available()
        if cuda:
            super().__init__(model, "cuda", torch.float16, channels_last=True)
            solve_without_linalg(self.model)  # "reduce-overhead" records CUDA graphs
            settings: dict = {"mode": "reduce-overhead"} if compiler == "inductor" else {}
        else:
            configure_cpu(threads if threads > 0 else default_threads())
            super().__init__(model, "cpu", torch.float32, channels_last=True)
            settings = {"options": {"freezing": True}} if compiler == "inductor" else {}
        settings.update(self._compiler_settings())
        self.compiler = compiler
        self._keypoints = torch.compile(self.model.kp_detector, backend=compiler, dynamic=False, **settings)
        self._predict = torch.compile(self._eager_predict, backend=compiler, dynamic=False, **settings)

    def _compiler_settings(self) -> dict:
        return {}

    def _eager_predict(self, features: SourceFeatures, kp_driving: Keypoints) -> torch.Tensor:
        return self.model.animate(features, kp_driving).prediction

    @property
    def description(self) -> str:
        if self.device.type == "cuda":
            where = torch.cuda.get_device_name(self.device)
        else:
            threads = torch.get_num_threads()
            where = f"cpu, {threads} thread{'s' if threads != 1 else ''}"
        return f"{self.name} ({self.compiler}, {str(self.dtype).replace('torch.', '')}, channels_last, {where})"

    def keypoints(self, frame: torch.Tensor) -> Keypoints:
        if self.device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()  # the previous frame's outputs are consumed
        return Keypoints(*self._keypoints(frame))

    def generate(self, features: SourceFeatures, kp_driving: Keypoints) -> torch.Tensor:
        return self._predict(features, kp_driving)

    def close(self) -> None:
        self._keypoints = self._predict = None


class TensorRTBackend(CompiledBackend):
    """torch.compile with the torch-tensorrt backend in float16 (``pip install 'monkeycam[tensorrt]'``)."""

    name = "tensorrt"

    def __init__(self, model: MonkeyNet) -> None:
        if not torch.cuda.is_available():
            raise BackendUnavailable("TensorRT needs a CUDA GPU; none is available to torch here")
        if not tensorrt_installed():
            raise BackendUnavailable("torch-tensorrt is not installed (pip install 'monkeycam[tensorrt]')")
        try:
            importlib.import_module("torch_tensorrt")  # registers the "torch_tensorrt" compile backend
        except (ImportError, OSError) as error:
            raise BackendUnavailable(f"torch-tensorrt cannot be loaded ({one_line(error, 300)})") from None
        super().__init__(model, compiler="torch_tensorrt")

    def _compiler_settings(self) -> dict:
        return {"options": {"enabled_precisions": {torch.float16}, "min_block_size": 1}}


def tensorrt_installed() -> bool:
    return importlib.util.find_spec("torch_tensorrt") is not None


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


class _KeypointsOnly(torch.nn.Module):
    """The keypoint detector returning a (mean, covar) tuple, for tracing."""

    def __init__(self, detector: torch.nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(self.detector(frame))


class _GenerateFlat(torch.nn.Module):
    """The generator's per-frame work on flat tensors, for tracing: (source feature tensors
    of :func:`_flatten_features`..., driving mean, driving covar) -> prediction."""

    def __init__(self, generator: torch.nn.Module, rebuild: Callable[[list[torch.Tensor]], SourceFeatures]) -> None:
        super().__init__()
        self.generator = generator
        self.rebuild = rebuild

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        kp_driving = Keypoints(tensors[-2], tensors[-1])
        return self.generator.animate(self.rebuild(list(tensors[:-2])), kp_driving).prediction


class OpenVinoBackend(Backend):
    """The keypoint detector and the generator's per-frame work converted to OpenVINO
    (traced from the inference copy of the model) and compiled for its CPU plugin.

    Precision is float32 (OpenVINO would otherwise pick bfloat16 on CPUs with AMX, whose
    frames differ visibly); ``threads`` inference threads. The source-only work runs in torch
    once per source; its features are bound to the generator's inputs when the source changes,
    so a frame passes only the frame (keypoints) or the driving keypoints (generator).
    """

    name = "openvino"

    def __init__(self, model: MonkeyNet, threads: int = 0) -> None:
        if not openvino_installed():
            raise BackendUnavailable("OpenVINO is not installed (pip install 'monkeycam[openvino]')")
        try:
            import openvino
        except (ImportError, OSError) as error:
            raise BackendUnavailable(f"OpenVINO cannot be loaded ({one_line(error, 300)})") from None
        self.threads = threads if threads > 0 else default_threads()
        configure_cpu(self.threads)  # torch runs the source-only work
        super().__init__(model, "cpu", torch.float32, channels_last=False)
        solve_without_linalg(self.model)
        self._openvino = openvino
        self._core = openvino.Core()
        self._settings = {"INFERENCE_NUM_THREADS": self.threads, "INFERENCE_PRECISION_HINT": "f32",
                          "PERFORMANCE_HINT": "LATENCY"}
        self._kp_request, self._generate_request, self._feature_count = self._convert()
        self._bound_features: SourceFeatures | None = None
        self._bound_arrays: list[np.ndarray] = []

    @property
    def description(self) -> str:
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        return f"{self.name} (float32, OpenVINO {self._openvino.__version__.split('-')[0]}, {threads})"

    def _convert(self) -> tuple[object, object, int]:
        """Trace and compile both per-frame networks on a grey source and a noise frame (the
        shapes depend on the model's config only)."""
        size = self.image_size
        frame = torch.from_numpy(np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32))
        with torch.inference_mode():
            features = self.model.prepare_source(torch.full((1, 3, size, size), 0.5))
            kp = self.model.kp_detector(frame)
        flat, rebuild = _flatten_features(features)
        generate_inputs = (*[tensor.contiguous() for tensor in flat], kp.mean, kp.covar)
        try:
            with warnings.catch_warnings():  # the tracer warns about shape checks fixed by the config
                warnings.simplefilter("ignore")
                kp_model = self._openvino.convert_model(_KeypointsOnly(self.model.kp_detector).eval(), example_input=(frame,))
                generate_model = self._openvino.convert_model(
                    _GenerateFlat(self.model.generator, rebuild).eval(), example_input=generate_inputs
                )
            kp_request = self._core.compile_model(kp_model, "CPU", self._settings).create_infer_request()
            generate_request = self._core.compile_model(generate_model, "CPU", self._settings).create_infer_request()
        except Exception as error:  # noqa: BLE001  (OpenVINO's errors, e.g. OpConversionFailure, derive from Exception only)
            raise BackendUnavailable(f"OpenVINO could not convert the model ({one_line(error, 300)})") from None
        return kp_request, generate_request, len(flat)

    @staticmethod
    def _array(tensor: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(tensor.detach().to("cpu", torch.float32).numpy())

    def keypoints(self, frame: torch.Tensor) -> Keypoints:
        request = self._kp_request
        request.infer({0: self._array(frame)})
        mean, covar = (torch.from_numpy(request.get_output_tensor(i).data.copy()) for i in range(2))
        return Keypoints(mean, covar)

    def generate(self, features: SourceFeatures, kp_driving: Keypoints) -> torch.Tensor:
        request = self._generate_request
        if features is not self._bound_features:  # a new source: bind its features once
            flat, _ = _flatten_features(features)
            self._bound_arrays = [self._array(tensor) for tensor in flat]
            for index, array in enumerate(self._bound_arrays):
                request.set_input_tensor(index, self._openvino.Tensor(array, shared_memory=True))
            self._bound_features = features
        count = self._feature_count
        request.infer({count: self._array(kp_driving.mean), count + 1: self._array(kp_driving.covar)})
        return torch.from_numpy(request.get_output_tensor(0).data.copy())

    def close(self) -> None:
        self._kp_request = self._generate_request = self._bound_features = None
        self._bound_arrays = []


# The one table of backends: name -> build(model, threads). Its names are BACKEND_NAMES
# without "auto" (monkeycam.live.api, torch-free, for the CLI and the GUI; a test checks they agree).
BUILDERS: dict[str, Callable[[MonkeyNet, int], Backend]] = {
    "cpu": lambda model, threads: CpuBackend(model, threads),
    "cuda": lambda model, threads: CudaBackend(model),
    "compile": lambda model, threads: CompiledBackend(model, threads=threads),
    "tensorrt": lambda model, threads: TensorRTBackend(model),
    "openvino": lambda model, threads: OpenVinoBackend(model, threads),
}
