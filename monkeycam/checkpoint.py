"""monkeycam checkpoint files: weights (safetensors) + the model config + metadata, in one file.

Loading never unpickles code: the weights are safetensors and the config and metadata are
JSON strings in the safetensors header. Every failure raises :class:`CheckpointError` with a
one-line message that names the file and the problem.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .errors import UserError, one_line
from .io.atomic import atomic_path
from .model import ModelConfig, MonkeyNet, build_model

FORMAT_NAME = "monkeycam-checkpoint"
FORMAT_VERSION = 1
NETWORKS = ("kp_detector", "generator", "discriminator")
SAFETENSORS_HEADER_LIMIT = 100_000_000  # bytes; safetensors refuses larger headers too


class CheckpointError(UserError, ValueError):
    """A checkpoint file cannot be used; the message is one line meant for the user."""


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself.

    Attributes:
        config: the model config stored in the file.
        metadata: free-form JSON metadata (training data, steps, metrics, hardware...).
        networks: which networks the file holds weights for.
        path: where it was read from.
    """

    config: ModelConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    networks: tuple[str, ...] = ()
    path: Path | None = None


def save_checkpoint(
    path: str | os.PathLike,
    model: MonkeyNet,
    metadata: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
    include_discriminator: bool = True,
) -> Path:
    """Write ``model`` atomically (temporary file, then rename) and return the path.

    Args:
        dtype: store floating tensors in this dtype (e.g. torch.float16 to halve the size).
        include_discriminator: False drops D (not needed for animation).
    """
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for name in NETWORKS:
        network = getattr(model, name)
        if network is None or (name == "discriminator" and not include_discriminator):
            continue
        for key, value in network.state_dict().items():
            value = value.detach().cpu()
            if dtype is not None and value.is_floating_point():
                value = value.to(dtype)
            tensors[f"{name}.{key}"] = value.contiguous()
    header = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": model.config.to_json(),
        "metadata": json.dumps(metadata or {}, sort_keys=True, default=str),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return path


def read_info(path: str | os.PathLike) -> CheckpointInfo:
    """Read the config and metadata of a checkpoint without loading its weights."""
    path = Path(path)
    header, shapes = _open_header(path)
    return _info_from_header(path, header, shapes)


def load_checkpoint(
    path: str | os.PathLike,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    with_discriminator: bool = False,
    expect: ModelConfig | None = None,
) -> tuple[MonkeyNet, CheckpointInfo]:
    """Build the model described by a checkpoint and load its weights (eval mode).

    Args:
        with_discriminator: also load D (training); the file must then contain it.
        expect: when given, the file's config must equal it (e.g. when resuming training).
    """
    path = Path(path)
    header, shapes = _open_header(path)
    info = _info_from_header(path, header, shapes)
    if expect is not None and expect != info.config:
        raise CheckpointError(f"{path} holds {_describe(info.config)}, but {_describe(expect)} was expected")
    if with_discriminator and "discriminator" not in info.networks:
        raise CheckpointError(f"{path} has no discriminator weights (it was saved for inference only)")
    model = build_model(info.config, with_discriminator=with_discriminator)
    tensors = _read_tensors(path)
    for name in NETWORKS:
        network = getattr(model, name)
        if network is not None:
            load_network_weights(network, _prefixed(tensors, name), f"{path} ({name})")
    model = model.to(device=device, dtype=dtype).eval()
    return model, info


def load_network_weights(network: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Load ``state`` into ``network`` or raise one CheckpointError summarising any mismatch."""
    expected = network.state_dict()
    problems = _shape_problems({k: tuple(v.shape) for k, v in expected.items()},
                               {k: tuple(v.shape) for k, v in state.items()})
    if problems:
        raise CheckpointError(f"weights in {where} do not fit the model config: " + "; ".join(problems))
    network.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def _shape_problems(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]]) -> list[str]:
    """What differs between the tensor names and shapes a model needs and those given, each
    kind once with an example (empty when they match)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [k for k in expected if k in found and found[k] != expected[k]]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if wrong:
        problems.append(f"{len(wrong)} with the wrong shape (e.g. {wrong[0]}: {found[wrong[0]]} vs {expected[wrong[0]]})")
    return problems


def _describe(config: ModelConfig) -> str:
    return f"a '{config.name}' model ({config.image_size}x{config.image_size}, {config.num_kp} keypoints)"


def _prefixed(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = name + "."
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _open_header(path: Path) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118
            return dict(handle.metadata() or {}), shapes
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(_why_unreadable(path, error)) from None


def _why_unreadable(path: Path, error: Exception) -> str:
    with open(path, "rb") as handle:
        head = handle.read(9)
    header_size = int.from_bytes(head[:8], "little") if len(head) >= 8 else 0
    if head[8:9] == b"{":  # a safetensors header starts there
        if header_size > SAFETENSORS_HEADER_LIMIT:
            return f"{path} has a {header_size / 1e6:.0f} MB safetensors header; checkpoints over 100 MB of header are refused"
        return f"{path} is truncated or corrupt ({one_line(error, 160)})"
    if head[:2] == b"PK" or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        return (
            f"{path} is a PyTorch pickle, not a monkeycam checkpoint; if it is an original Monkey-Net "
            f"checkpoint, convert it with: monkeycam convert {path} OUT.safetensors"
        )
    if len(head) < 9:
        return f"{path} is empty or truncated (not a safetensors file)"
    return f"{path} is not a monkeycam checkpoint (not a safetensors file)"


def _info_from_header(path: Path, header: dict[str, str], shapes: dict[str, tuple[int, ...]]) -> CheckpointInfo:
    """The file's config and metadata, after checking the config is sane and describes the
    tensors the file holds (nothing is built or allocated before that)."""
    if header.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path} is a safetensors file but not a monkeycam checkpoint (no monkeycam header)")
    version_text = header.get("format_version", "0")
    if not version_text.isdigit():
        raise CheckpointError(f"{path} has an invalid format_version {version_text[:20]!r} (expected a number)")
    version = int(version_text)
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} uses checkpoint format {version}; this monkeycam reads up to {FORMAT_VERSION}")
    try:
        raw = json.loads(header["config"])
        check_config_bounds(raw)
        config = ModelConfig.from_dict(raw)
    except (KeyError, ValueError, TypeError, RecursionError) as error:
        raise CheckpointError(f"{path} has an invalid model config: {one_line(error, 200)}") from None
    try:
        metadata = json.loads(header.get("metadata", "{}"))
    except (ValueError, RecursionError) as error:
        raise CheckpointError(f"{path} has invalid metadata ({one_line(error, 120)})") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path} has invalid metadata (a {type(metadata).__name__}, expected a mapping)")
    _check_shapes(path, config, shapes)
    networks = tuple(n for n in NETWORKS if any(k.startswith(n + ".") for k in shapes))
    return CheckpointInfo(config=config, metadata=metadata, networks=networks, path=path)


# Sane bounds for a stored config: a file claiming more is refused before anything is built.
CONFIG_LIMITS = {
    "image_size": (16, 2048), "num_channels": (1, 4), "num_kp": (1, 256), "block_expansion": (1, 512),
    "max_features": (1, 4096), "num_blocks": (1, 8), "num_refinement_blocks": (0, 32), "num_group_blocks": (0, 32),
}


def check_config_bounds(raw: Any, where: str = "") -> None:
    """ValueError when a stored config (the dict of :meth:`ModelConfig.to_dict`) has a size that is
    not an integer within CONFIG_LIMITS, a float that is not finite, or a scale factor outside
    (0, 1]. Checked on the plain dict, before a ModelConfig (or anything else) is built."""
    if not isinstance(raw, dict):
        raise TypeError(f"{where.rstrip('.') or 'config'}: expected a mapping, got {type(raw).__name__}")
    for key, value in raw.items():
        name = f"{where}{key}"
        if isinstance(value, dict):
            check_config_bounds(value, name + ".")
        elif key in CONFIG_LIMITS:
            low, high = CONFIG_LIMITS[key]
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if key == "scale_factor" and not (type(value) in (int, float) and 0 < value <= 1):
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")


def _check_shapes(path: Path, config: ModelConfig, shapes: dict[str, tuple[int, ...]]) -> None:
    """The file's tensors must be exactly those of the model its config describes (compared
    on torch's meta device: no memory is allocated)."""
    with torch.device("meta"):
        expected = {f"{name}.{key}": tuple(value.shape) for name in NETWORKS
                    for key, value in getattr(build_model(config, with_discriminator=True), name).state_dict().items()}
    present = {name for name in NETWORKS if any(k.startswith(name + ".") for k in shapes)}
    if not {"kp_detector", "generator"} <= present:
        raise CheckpointError(f"{path} lacks the keypoint detector or generator weights")
    wanted = {k: v for k, v in expected.items() if k.split(".", 1)[0] in present}
    problems = _shape_problems(wanted, shapes)
    if problems:
        raise CheckpointError(f"{path}: its weights do not fit its model config ('{config.name}'): " + "; ".join(problems))


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is truncated or corrupt ({one_line(error)})") from None
