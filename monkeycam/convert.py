"""Convert checkpoints in the original Monkey-Net layout into monkeycam checkpoints.

The original file is a torch pickle with ``kp_detector`` / ``generator`` / ``discriminator``
state dicts of 3D layers (conv weights ``[out, in, 1, k, k]``). Widths and block counts are
inferred from the tensor shapes, because users often pair a checkpoint with the wrong
config; what shapes cannot tell (frame size, motion-net scale) is guessed from the generator
depth and may be overridden.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError, check_config_bounds, load_network_weights, save_checkpoint
from .errors import one_line, user_errors
from .model import (
    AblationConfig,
    DenseMotionConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    KeypointDetectorConfig,
    ModelConfig,
    build_model,
)

StateDict = dict[str, torch.Tensor]
# Generator depth -> frame size of the published configs (the deepest level is 2x2).
_SIZE_BY_GENERATOR_BLOCKS = {5: 64, 6: 128, 7: 256}


def load_original(path: str | os.PathLike) -> dict[str, StateDict]:
    """Read an original checkpoint safely (``weights_only=True``) -> the three state dicts."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"original checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign or broken files
        if "weights only" in str(error).lower():  # never pass on torch's advice to unpickle arbitrary code
            raise CheckpointError(f"{path} holds Python objects besides tensors; monkeycam reads only plain "
                                  "tensors and never runs code from a checkpoint") from None
        raise CheckpointError(f"{path} cannot be read as a PyTorch checkpoint ({one_line(error, 200)})") from None
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]  # the parity fixture nests them
    if not isinstance(data, dict) or not {"kp_detector", "generator"} <= set(data):
        raise CheckpointError(f"{path} is not an original Monkey-Net checkpoint (no kp_detector/generator weights)")
    states = {name: data[name] for name in ("kp_detector", "generator", "discriminator") if name in data}
    for name, state in states.items():
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointError(f"{path}: its {name} entry is not a state dict of tensors")
    return states


def to_2d_state_dict(state: StateDict) -> StateDict:
    """Drop the depth axis of 3D conv weights and rename ``conv-last`` -> ``conv_last``."""
    converted = {}
    for key, value in state.items():
        if value.dim() == 5:
            if value.shape[2] != 1:
                raise CheckpointError(f"{key} has a temporal kernel {tuple(value.shape)}; only depth-1 kernels convert")
            value = value[:, :, 0]
        converted[key.replace("conv-last", "conv_last")] = value
    return converted


def _count(state: StateDict, pattern: str) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for key in state if (m := regex.match(key))})


def _hourglass_widths(state: StateDict, prefix: str) -> tuple[int, int, int]:
    """(block_expansion, max_features, num_blocks) of an encoder under ``prefix``."""
    num_blocks = _count(state, re.escape(prefix) + r"down_blocks\.(\d+)\.conv\.weight")
    widths = [state[f"{prefix}down_blocks.{i}.conv.weight"].shape[0] for i in range(num_blocks)]
    return widths[0] // 2, max(widths), num_blocks


def infer_config(
    states: dict[str, StateDict],
    image_size: int | None = None,
    motion_scale: float | None = None,
    name: str = "converted",
    temperature: float = 0.1,
    clip_variance: float | None = 0.001,
) -> ModelConfig:
    """Infer a :class:`ModelConfig` from original (3D or 2D) state dicts."""
    kp, gen = states["kp_detector"], states["generator"]
    try:
        num_kp = kp["predictor.decoder.conv.weight"].shape[0]
        num_channels = kp["predictor.encoder.down_blocks.0.conv.weight"].shape[1]
        kp_widths = _hourglass_widths(kp, "predictor.encoder.")
        gen_widths = _hourglass_widths(gen, "appearance_encoder.")
        refinement = _count(gen, r"refinement_module\.r(\d+)\.conv1\.weight")
        deformation = any(k.startswith("dense_motion_module.") for k in gen)
        dense, ablation = DenseMotionConfig(), AblationConfig()
        if deformation:
            dense, ablation = _infer_dense_motion(gen, num_kp, num_channels)
        else:
            ablation = AblationConfig(deformation=False)
        disc = DiscriminatorConfig()
        if "discriminator" in states:
            d = states["discriminator"]
            blocks = _count(d, r"down_blocks\.(\d+)\.conv\.weight")
            widths = [d[f"down_blocks.{i}.conv.weight"].shape[0] for i in range(blocks)]
            disc = DiscriminatorConfig(widths[0] // 2, max(widths), blocks)
    except KeyError as error:
        raise CheckpointError(f"original checkpoint lacks the tensor {error.args[0]}") from None

    if image_size is None:
        image_size = _SIZE_BY_GENERATOR_BLOCKS.get(gen_widths[2], 2 ** gen_widths[2] * 2)
    if motion_scale is None:
        motion_scale = min(1.0, (2 ** kp_widths[2] * 2) / image_size)
    return ModelConfig(
        name=name,
        image_size=image_size,
        num_channels=int(num_channels),
        num_kp=int(num_kp),
        kp_detector=KeypointDetectorConfig(*kp_widths, temperature, motion_scale, clip_variance),
        dense_motion=DenseMotionConfig(
            dense.block_expansion, dense.max_features, dense.num_blocks, dense.num_group_blocks,
            motion_scale, dense.bg_init, dense.use_keypoint_difference,
        ),
        generator=GeneratorConfig(*gen_widths, refinement, "bilinear" if image_size >= 256 else "nearest"),
        discriminator=disc,
        ablation=ablation,
    )


def _infer_dense_motion(gen: StateDict, num_kp: int, num_channels: int) -> tuple[DenseMotionConfig, AblationConfig]:
    widths = _hourglass_widths(gen, "dense_motion_module.hourglass.encoder.")
    group_blocks = _count(gen, r"dense_motion_module\.group_blocks\.(\d+)\.conv\.weight")
    in_features = gen["dense_motion_module.hourglass.encoder.down_blocks.0.conv.weight"].shape[1]
    per_slot = in_features // (num_kp + 1)
    uses_source = per_slot in (1 + num_channels, 3 + num_channels)
    uses_difference = per_slot in (3, 3 + num_channels)
    if per_slot not in (1, 3, 1 + num_channels, 3 + num_channels):
        raise CheckpointError(f"dense motion input has {per_slot} channels per keypoint slot; cannot interpret")
    outputs = gen["dense_motion_module.hourglass.decoder.conv.weight"].shape[0]
    use_mask = outputs in (num_kp + 1, num_kp + 3)
    use_residual = outputs in (2, num_kp + 3)
    dense = DenseMotionConfig(*widths, group_blocks, use_keypoint_difference=uses_difference)
    ablation = AblationConfig(coarse_flow=use_mask, residual_flow=use_residual, source_in_dense_motion=uses_source)
    return dense, ablation


def convert_checkpoint(
    original: str | os.PathLike,
    out: str | os.PathLike,
    image_size: int | None = None,
    motion_scale: float | None = None,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> ModelConfig:
    """Convert ``original`` into a monkeycam checkpoint at ``out`` (written atomically)."""
    original = Path(original)
    states = {k: to_2d_state_dict(v) for k, v in load_original(original).items()}
    if image_size is not None and not 16 <= image_size <= 2048:
        raise CheckpointError(f"--image-size must be from 16 to 2048 pixels, got {image_size}")
    if motion_scale is not None and not (math.isfinite(motion_scale) and 0 < motion_scale <= 1):
        raise CheckpointError(f"--motion-scale must be in (0, 1], got {motion_scale}")
    with user_errors(ValueError, prefix=f"{original}: "):  # the model config rejects the sizes given or inferred
        config = infer_config(states, image_size, motion_scale, name or original.stem)
        check_config_bounds(config.to_dict())
    model = build_model(config, with_discriminator="discriminator" in states)
    for network_name, state in states.items():
        load_network_weights(getattr(model, network_name), state, f"{original} ({network_name})")
    info = {"converted_from": original.name, "source_layout": "original Monkey-Net (3D layers)"}
    save_checkpoint(out, model, metadata={**info, **(metadata or {})})
    return config
