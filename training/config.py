"""Training configuration: one YAML file = model config + data + optimisation settings.

The model part is a :class:`monkeycam.model.ModelConfig` (a preset name plus overrides, or a
full config); the rest is :class:`TrainConfig`. Unknown keys are errors, so a typo in a YAML
file is reported instead of silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monkeycam.errors import UserError, one_line
from monkeycam.model import ModelConfig, preset

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
# face-mesh points of the mouth opening (training.face_signals and the open-mouth pairs):
# inner lips top and bottom, then the corners
MOUTH_POINTS = (13, 14, 78, 308)


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

    def __post_init__(self) -> None:
        _check_ranges(self, "train.augment")


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
        region_points, region_weight, region_sigma: an extra L1 on the prediction, weighted
            by Gaussian windows (width ``region_sigma`` in [-1, 1] units) around the driving
            frame's face-mesh points ``region_points`` (a subset of ``landmarks``, e.g. eyelids
            and lips): the pixels where blinks and mouth opening show weigh more.
        open_mouth_pairs: beyond the paper: the share of pairs drawn from a clip as its most
            closed mouth (source) and its most open one (driving) among
            ``open_mouth_candidates`` random frames, kept in that order (no time flip). Random
            pairs rarely ask the model to open a closed mouth, the case a portrait needs most.
            Needs the lip points 13, 14, 78 and 308 among ``landmarks``.
        open_mouth_candidates: frames compared per such pair (>= 2).
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
    region_points: tuple[int, ...] = ()
    region_weight: float = 0.0
    region_sigma: float = 0.08
    open_mouth_pairs: float = 0.0
    open_mouth_candidates: int = 8
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        _check_ranges(self, "train")
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
        if self.region_weight > 0 and (self.landmark_weight <= 0 or not self.region_points):
            raise ConfigError("train.region_weight > 0 needs train.region_points and train.landmark_weight > 0")
        if not set(self.region_points) <= set(self.landmarks):
            raise ConfigError("train.region_points must be among train.landmarks (their points are found once, with them)")
        if self.open_mouth_pairs > 0 and (self.landmark_weight <= 0 or not set(MOUTH_POINTS) <= set(self.landmarks)):
            raise ConfigError(
                f"train.open_mouth_pairs > 0 needs train.landmark_weight > 0 and the lip points {list(MOUTH_POINTS)} "
                "among train.landmarks"
            )

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
        else:
            value = _checked(names[key].type, value, f"{where}.{key}")
        kwargs[key] = value
    return cls(**kwargs)


# The YAML types each annotation accepts (bool is not a number here, a number is not a bool).
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


_SCALARS = {"int": (_is_int, "an integer"), "float": (_is_number, "a finite number"),
            "bool": (lambda v: isinstance(v, bool), "true or false"), "str": (lambda v: isinstance(v, str), "a string")}


def _checked(annotation: str, value: Any, where: str) -> Any:
    """``value`` from YAML as the annotated type (lists become tuples); ConfigError otherwise."""
    options = [part.strip() for part in annotation.split("|")]
    if value is None:
        if "None" in options:
            return None
        raise ConfigError(f"{where} needs a value")
    kind = next(option for option in options if option != "None")
    if kind.startswith("tuple["):
        inner = [part.strip() for part in kind[len("tuple["):-1].split(",")]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        if inner[-1] != "..." and len(value) != len(inner):
            raise ConfigError(f"{where} must be a list of {len(inner)} values, got {list(value)!r}")
        test, what = _SCALARS[inner[0]]
        if not all(test(item) for item in value):
            raise ConfigError(f"{where} must be a list of {what.split(' ', 1)[1]}s, got {list(value)!r}")
        return tuple(value)
    test, what = _SCALARS[kind]
    if kind == "float" and isinstance(value, str):  # YAML reads 2e-4 (no dot) as text
        try:
            value = float(value)
        except ValueError:
            pass
    if not test(value):
        raise ConfigError(f"{where} must be {what}, got {value!r}")
    return value


def _check_ranges(config: Any, where: str) -> None:
    """Values a training cannot use (a zero interval, a negative rate, a probability over 1)."""
    limits: dict[str, tuple[float, float]] = {
        "lr": (1e-12, 10.0), "gamma": (1e-12, 10.0), "checkpoint_every": (1, math.inf), "log_every": (1, math.inf),
        "image_every": (1, math.inf), "max_frames": (2, math.inf), "frame_size": (16, 2048),
        "gan_weight": (0.0, math.inf), "equivariance_weight": (0.0, math.inf), "equivariance_strength": (0.0, 1.0),
        "landmark_weight": (0.0, math.inf), "region_weight": (0.0, math.inf), "region_sigma": (1e-3, 2.0),
        "open_mouth_pairs": (0.0, 1.0), "open_mouth_candidates": (2, 64),
        "brightness": (0.0, 1.0), "contrast": (0.0, 1.0),
        "saturation": (0.0, 1.0), "hue": (0.0, 0.5), "synthetic_pairs": (0.0, 1.0), "warp_strength": (0.0, 1.0),
    }
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if item.name in limits and value is not None:
            low, high = limits[item.name]
            if not low <= value <= high:
                shown = f"{low:g}..{high:g}" if high < math.inf else f">= {low:g}"
                raise ConfigError(f"{where}.{item.name} must be {shown}, got {value!r}")
    betas = getattr(config, "betas", None)
    if betas is not None and not all(0.0 <= beta < 1.0 for beta in betas):
        raise ConfigError(f"{where}.betas must be two numbers in [0, 1), got {list(betas)!r}")
    crop = getattr(config, "crop_scale", None)
    if crop is not None and not 0.0 < crop[0] <= crop[1] <= 1.0:
        raise ConfigError(f"{where}.crop_scale must be (min, max) with 0 < min <= max <= 1, got {list(crop)!r}")
    for name in ("milestones", "pyramid_weights", "feature_matching_weights"):
        values = getattr(config, name, None) or ()
        if any(value < 0 for value in values):
            raise ConfigError(f"{where}.{name} must not hold negative values, got {list(values)!r}")


def model_from_dict(data: dict[str, Any]) -> ModelConfig:
    """``{preset: NAME, overrides: {...}}`` or ``{config: {...full ModelConfig...}}``."""
    if not isinstance(data, dict):
        raise ConfigError(f"model: expected a mapping (preset/overrides or config), got {data!r}")
    unknown = sorted(set(data) - {"preset", "overrides", "config"})
    if unknown:
        raise ConfigError(f"model: unknown key(s) {', '.join(unknown)}")
    if "config" in data:
        _check_model_values(data["config"])
        return ModelConfig.from_dict(data["config"])
    if "preset" not in data:
        raise ConfigError("model: give either 'preset' (with optional 'overrides') or a full 'config'")
    base = preset(data["preset"]).to_dict()
    for key, value in (data.get("overrides") or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    _check_model_values(base)
    return ModelConfig.from_dict(base)


def _check_model_values(raw: Any) -> None:
    """The checkpoint's bounds (sizes are integers in range, floats finite) on a YAML model."""
    from monkeycam.checkpoint import check_config_bounds

    try:
        check_config_bounds(raw, "model.")
    except (TypeError, ValueError) as error:
        raise ConfigError(str(error)) from None


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
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping with model, train and data sections, not {type(data).__name__}")
    if not isinstance(data.get("data"), (str, type(None))):
        raise ConfigError(f"{path}: data must be a folder path, got {data['data']!r}")
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
