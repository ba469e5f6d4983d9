"""Training configuration: one YAML file = model config + data + optimisation settings.

The model part is a :class:`monkeycam.model.ModelConfig` (a preset name plus overrides, or a
full config); the rest is :class:`TrainConfig`. Unknown keys are errors, so a typo in a YAML
file is reported instead of silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monkeycam.errors import UserError, one_line
from monkeycam.model import ModelConfig, preset

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


class ConfigError(UserError, ValueError):
    """A training config (file, section or value) is invalid; the message names it."""


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentations applied identically to both frames of a pair (except time flip).

    Attributes:
        time_flip: swap source and driving with probability 0.5.
        horizontal_flip: mirror the pair with probability 0.5.
        crop_scale: (min, max) side of a random square crop, as a fraction of the frame.
        brightness, contrast, saturation, hue: colour-jitter amplitudes (0 = off); hue in turns.
        synthetic_pairs: probability of replacing the driving frame by a random smooth warp
            of the source (pseudo-videos made from still frames).
        warp_strength: amplitude of those warps, in [-1, 1] coordinate units.
    """

    time_flip: bool = True
    horizontal_flip: bool = True
    crop_scale: tuple[float, float] = (1.0, 1.0)
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    synthetic_pairs: float = 0.0
    warp_strength: float = 0.08


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the paper's recipe by default, Sec. 3.5).

    Attributes:
        steps: optimiser steps in total.
        batch_size: pairs per step (per process under torchrun).
        lr, betas: Adam settings for all three networks.
        milestones, gamma: step schedule (lr multiplied by gamma at each milestone step).
        feature_matching_weights: weights of |D_i(real) - D_i(fake)| for [pixels, block 0..];
            entry 0 is the pixel L1 (lambda_rec = 10). None: the reference's pattern,
            10 for the pixels and every block but the last, 1 for the last block.
        gan_weight: weight of the LSGAN generator term.
        precision: "fp32", "bf16" or "fp16" autocast (bf16/fp16 only on CUDA).
        checkpoint_every, log_every, image_every: in steps.
        seed: seeds every random choice; the same seed and data give the same run.
        frame_size: training frame side; None = the model's image_size.
        max_frames: frames decoded per video at most (None = all).
        sync_batchnorm: synchronise BatchNorm statistics across torchrun processes.
        frame_stride: keep every Nth decoded frame of each video (less memory; pairs are
            random anyway).

    Beyond the paper (off by default):
        pyramid_weights: L1 on an image pyramid, one weight per level (full size first, then
            each halved). With all discriminator weights and gan_weight at 0 the
            discriminator is not run at all (a CPU-sized recipe).
        equivariance_weight: weight of the keypoint equivariance loss, under random affine
            maps of strength ``equivariance_strength``.
        landmarks, landmark_weight: mediapipe face-mesh points (indices) that guide the first
            keypoints, and the weight of that pull (faces only; training/landmarks.py).
    """

    steps: int = 20000
    batch_size: int = 32
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    feature_matching_weights: tuple[float, ...] | None = None
    gan_weight: float = 1.0
    precision: str = "fp32"
    checkpoint_every: int = 1000
    log_every: int = 25
    image_every: int = 500
    seed: int = 0
    frame_size: int | None = None
    max_frames: int | None = None
    sync_batchnorm: bool = False
    frame_stride: int = 1
    pyramid_weights: tuple[float, ...] = ()
    equivariance_weight: float = 0.0
    equivariance_strength: float = 0.1
    landmarks: tuple[int, ...] = ()
    landmark_weight: float = 0.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError("train.steps and train.batch_size must be >= 1")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"train.precision must be fp32, bf16 or fp16, got {self.precision!r}")
        if self.frame_stride < 1:
            raise ConfigError(f"train.frame_stride must be >= 1, got {self.frame_stride}")
        if self.landmark_weight > 0 and not self.landmarks:
            raise ConfigError("train.landmark_weight > 0 needs train.landmarks (face-mesh point indices)")
        if any(not 0 <= point < 468 for point in self.landmarks):
            raise ConfigError("train.landmarks must be face-mesh point indices in 0..467")

    @property
    def uses_discriminator(self) -> bool:
        """False when no loss term needs the discriminator (it is then not run or trained)."""
        weights = self.feature_matching_weights
        return self.gan_weight != 0 or weights is None or any(weights[1:])


def feature_matching_weights(train: TrainConfig, discriminator_blocks: int) -> tuple[float, ...]:
    """The weights to use with a discriminator of ``discriminator_blocks`` blocks."""
    weights = train.feature_matching_weights or (10.0,) * discriminator_blocks + (1.0,)
    if len(weights) != discriminator_blocks + 1:
        raise ConfigError(
            f"train.feature_matching_weights needs {discriminator_blocks + 1} entries "
            f"(pixels + {discriminator_blocks} discriminator blocks), got {len(weights)}"
        )
    return tuple(weights)


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole training run: the model, where the data are, how to train."""

    model: ModelConfig
    train: TrainConfig
    data: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"model": {"config": self.model.to_dict()}, "train": dataclasses.asdict(self.train), "data": self.data}

    def to_yaml(self) -> str:
        return yaml.safe_dump(_plain(self.to_dict()), sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    kwargs = {}
    for key, value in data.items():
        if key == "augment":
            value = _build(AugmentConfig, value, f"{where}.augment")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def model_from_dict(data: dict[str, Any]) -> ModelConfig:
    """``{preset: NAME, overrides: {...}}`` or ``{config: {...full ModelConfig...}}``."""
    unknown = sorted(set(data) - {"preset", "overrides", "config"})
    if unknown:
        raise ConfigError(f"model: unknown key(s) {', '.join(unknown)}")
    if "config" in data:
        return ModelConfig.from_dict(data["config"])
    if "preset" not in data:
        raise ConfigError("model: give either 'preset' (with optional 'overrides') or a full 'config'")
    base = preset(data["preset"]).to_dict()
    for key, value in (data.get("overrides") or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return ModelConfig.from_dict(base)


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read a YAML experiment file (a bare name like ``face64`` looks in training/configs)."""
    path = Path(path)
    if not path.exists() and not path.suffix and (CONFIG_DIR / f"{path}.yaml").exists():
        path = CONFIG_DIR / f"{path}.yaml"
    if not path.is_file():
        raise ConfigError(f"training config not found: {path} (built-in: {', '.join(builtin_configs())})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {one_line(error)}") from None
    unknown = sorted(set(data) - {"model", "train", "data"})
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(unknown)}")
    try:
        return ExperimentConfig(
            model=model_from_dict(data.get("model") or {}),
            train=_build(TrainConfig, data.get("train") or {}, "train"),
            data=data.get("data"),
        )
    except (TypeError, ValueError, KeyError) as error:
        raise ConfigError(f"{path}: {error}") from None


def experiment_from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Inverse of :meth:`ExperimentConfig.to_dict` (used when resuming)."""
    return ExperimentConfig(
        model=model_from_dict(data["model"]), train=_build(TrainConfig, data["train"], "train"), data=data.get("data")
    )


def builtin_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
