"""monkeycam checkpoint files: weights (safetensors) + the model config + metadata, in one file.

Loading never unpickles code: the weights are safetensors and the config and metadata are
JSON strings in the safetensors header. Every failure raises :class:`CheckpointError` with a
one-line message that names the file and the problem.
"""

from __future__ import annotations

import json
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
    header, keys = _open_header(path)
    return _info_from_header(path, header, keys)


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
    header, keys = _open_header(path)
    info = _info_from_header(path, header, keys)
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
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if wrong_shape:
        k = wrong_shape[0]
        problems.append(
            f"{len(wrong_shape)} with the wrong shape (e.g. {k}: {tuple(state[k].shape)} vs {tuple(expected[k].shape)})"
        )
    if problems:
        raise CheckpointError(f"weights in {where} do not fit the model config: " + "; ".join(problems))
    network.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def _describe(config: ModelConfig) -> str:
    return f"a '{config.name}' model ({config.image_size}x{config.image_size}, {config.num_kp} keypoints)"


def _prefixed(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = name + "."
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _open_header(path: Path) -> tuple[dict[str, str], list[str]]:
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {}), list(handle.keys())
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(_why_unreadable(path, error)) from None


def _why_unreadable(path: Path, error: Exception) -> str:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return (
            f"{path} is a PyTorch pickle, not a monkeycam checkpoint; if it is an original Monkey-Net "
            f"checkpoint, convert it with: monkeycam convert {path} OUT.safetensors"
        )
    if len(head) == 8 and int.from_bytes(head, "little") < 100_000_000 and head[:1] != b"{":
        return f"{path} is truncated or corrupt ({one_line(error)})"
    return f"{path} is not a monkeycam checkpoint (not a safetensors file)"


def _info_from_header(path: Path, header: dict[str, str], keys: list[str]) -> CheckpointInfo:
    if header.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path} is a safetensors file but not a monkeycam checkpoint (no monkeycam header)")
    version = int(header.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} uses checkpoint format {version}; this monkeycam reads up to {FORMAT_VERSION}")
    try:
        config = ModelConfig.from_json(header["config"])
        metadata = json.loads(header.get("metadata", "{}"))
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path} has an invalid model config: {error}") from None
    networks = tuple(n for n in NETWORKS if any(k.startswith(n + ".") for k in keys))
    return CheckpointInfo(config=config, metadata=metadata, networks=networks, path=path)


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is truncated or corrupt ({one_line(error)})") from None
