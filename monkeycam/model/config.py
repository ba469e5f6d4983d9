"""The one configuration object that fully describes a Monkey-Net model.

A :class:`ModelConfig` is stored inside every checkpoint and flows file -> model -> engine.
The published presets (``nemo``, ``taichi``, ``bair``, ``mgif``, ``vox``) carry the widths
of the reference code (Siarohin et al., "Animating Arbitrary Objects via Deep Motion
Transfer", CVPR 2019); the ``face*`` presets are monkeycam's compact designs for real time.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Union

HeatmapNorm = Union[float, Literal["sum"]]
Interpolation = Literal["nearest", "bilinear"]
Downsample = Literal["nearest", "area"]

FACE_CATEGORY = "face"
_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class KeypointDetectorConfig:
    """Hourglass keypoint detector (paper Sec. 3.2).

    Attributes:
        block_expansion: width of the first encoder level; level i has
            ``min(max_features, block_expansion * 2 ** (i + 1))`` channels.
        max_features: channel cap of the hourglass.
        num_blocks: number of down (and up) blocks.
        temperature: softmax temperature of the heatmaps.
        scale_factor: the frame is resized by this factor (nearest) before detection.
        clip_variance: smallest singular value allowed for a covariance (None: no clip).
    """

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    temperature: float = 0.1
    scale_factor: float = 1.0
    clip_variance: float | None = 0.001


@dataclass(frozen=True)
class DenseMotionConfig:
    """Dense motion network M (paper Sec. 3.3): part masks plus a residual flow.

    Attributes:
        block_expansion, max_features, num_blocks: hourglass widths.
        num_group_blocks: grouped 1x1 conv blocks (one group per keypoint slot) before it.
        scale_factor: the source is resized by this factor; the flow lives at that size.
        bg_init: initial logit of the background mask (the last conv starts at zero).
        use_keypoint_difference: also feed (mean_source - mean_driving) per slot (mgif).
        local_flow_keypoints: beyond the paper: the first N keypoints' own motion is
            enforced near them. The flow's remaining error at those keypoints is spread by
            Gaussian radial basis functions (width ``local_flow_sigma`` in [-1, 1] units), so
            small motions the masks blur away at the flow's low resolution (eyelids, lips)
            reach the output. 0 (the paper): off.
        local_flow_sigma: width of those Gaussians in [-1, 1] frame units.
    """

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    num_group_blocks: int = 2
    scale_factor: float = 1.0
    bg_init: float = 2.0
    use_keypoint_difference: bool = False
    local_flow_keypoints: int = 0
    local_flow_sigma: float = 0.05


@dataclass(frozen=True)
class GeneratorConfig:
    """Generator G with the deformation module (paper Sec. 3.4).

    Attributes:
        block_expansion, max_features, num_blocks: appearance encoder / video decoder widths.
        num_refinement_blocks: pre-activation residual blocks after the decoder.
        interpolation: how the flow and heatmaps are resized to each encoder level
            ("nearest" in most published configs, "bilinear" in vox).
        scale_factor: the encoder and decoder work at ``image_size * scale_factor``
            (beyond the paper, which uses 1.0).
        blend_source: beyond the paper: the decoder also predicts a blend mask, and the
            output is ``mask * (full-resolution source warped by the upsampled flow) +
            (1 - mask) * (decoded frame, upsampled)``. The warped portrait's own pixels keep
            the output sharp; the decoder fills what the warp cannot show (inside of the
            mouth, eyelids). Needs the deformation.
    """

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    num_refinement_blocks: int = 4
    interpolation: Interpolation = "nearest"
    scale_factor: float = 1.0
    blend_source: bool = False


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Patch discriminator D; keypoint heatmaps are concatenated to its input image."""

    block_expansion: int = 32
    max_features: int = 256
    num_blocks: int = 4


@dataclass(frozen=True)
class AblationConfig:
    """The paper's ablations (Table 2). All True is the full model.

    Attributes:
        deformation: False is "No F": encoder features are not warped (no dense motion net).
        coarse_flow: False is "No F_coarse": no part masks, only the residual flow.
        residual_flow: False is "No F_residual": only the part-based coarse flow.
        learned_covariance: False is "No Sigma_k": every keypoint has the fixed
            covariance ``fixed_variance * I``.
        source_in_dense_motion: False is "No x": M does not see the (shifted) source.
    """

    deformation: bool = True
    coarse_flow: bool = True
    residual_flow: bool = True
    learned_covariance: bool = True
    source_in_dense_motion: bool = True
    fixed_variance: float = 0.01


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build a Monkey-Net model.

    Attributes:
        name: preset or user-chosen name.
        image_size: side of the square frames the model works on (pixels).
        num_channels: image channels (3 = RGB).
        num_kp: number of keypoints K.
        heatmap_norm: the Gaussian keypoint encoding is divided by this constant, or by its
            spatial sum when "sum" (bair).
        downsample: how frames are shrunk to the working sizes of the networks: "nearest"
            (the reference) or "area" (pixel averages, beyond the paper: small details such
            as eyelids survive the shrinking instead of aliasing).
        category: what the model animates: "face" (the engine finds and crops a face first;
            the default, also for checkpoints saved before this field existed), or another
            name ("object", "body", ...): the engine animates the whole frame.
    """

    name: str = "custom"
    image_size: int = 64
    num_channels: int = 3
    num_kp: int = 10
    heatmap_norm: HeatmapNorm = 100.0
    downsample: Downsample = "nearest"
    kp_detector: KeypointDetectorConfig = field(default_factory=KeypointDetectorConfig)
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)
    category: str = FACE_CATEGORY

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict (nested sections as dicts)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build a config from :meth:`to_dict` output; unknown keys raise ValueError."""
        return _from_dict(cls, data, "config")

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))

    @property
    def is_face(self) -> bool:
        """True for face models: the engine then detects and crops a face before animating."""
        return self.category == FACE_CATEGORY

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with top-level fields replaced (sections are replaced whole)."""
        return dataclasses.replace(self, **changes)

    @property
    def dense_motion_size(self) -> int:
        """Side of the flow field (pixels): image_size * dense_motion.scale_factor."""
        return round(self.image_size * self.dense_motion.scale_factor)

    @property
    def kp_detector_size(self) -> int:
        return round(self.image_size * self.kp_detector.scale_factor)

    @property
    def generator_size(self) -> int:
        """Side of the generator's encoder/decoder working size (pixels)."""
        return round(self.image_size * self.generator.scale_factor)


_SECTIONS: dict[str, type] = {
    "kp_detector": KeypointDetectorConfig,
    "dense_motion": DenseMotionConfig,
    "generator": GeneratorConfig,
    "discriminator": DiscriminatorConfig,
    "ablation": AblationConfig,
}


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    kwargs = {}
    for key, value in data.items():
        section = _SECTIONS.get(key) if cls is ModelConfig else None
        kwargs[key] = _from_dict(section, value, f"{where}.{key}") if section else value
    return cls(**kwargs)


def _validate(config: ModelConfig) -> None:
    """Reject configs that cannot build a working model, with a one-line reason."""
    if config.num_kp < 1:
        raise ValueError(f"num_kp must be >= 1, got {config.num_kp}")
    if not (isinstance(config.heatmap_norm, (int, float)) or config.heatmap_norm == "sum"):
        raise ValueError(f"heatmap_norm must be a number or 'sum', got {config.heatmap_norm!r}")
    for section_name in ("kp_detector", "dense_motion", "generator"):
        section = getattr(config, section_name)
        scale = getattr(section, "scale_factor", 1.0)
        size = round(config.image_size * scale)
        if size % (2 ** section.num_blocks) != 0:
            raise ValueError(
                f"{section_name}: working size {size}px is not divisible by 2**num_blocks "
                f"({2 ** section.num_blocks}); change image_size, scale_factor or num_blocks"
            )
    if config.generator.interpolation not in ("nearest", "bilinear"):
        raise ValueError("generator.interpolation must be nearest or bilinear")
    if config.downsample not in ("nearest", "area"):
        raise ValueError(f"downsample must be nearest or area, got {config.downsample!r}")
    if not isinstance(config.category, str) or not _CATEGORY.match(config.category):
        raise ValueError(
            f"category must be a lower-case name of 1-32 letters, digits, - or _ (e.g. face, body, object), "
            f"got {config.category!r}"
        )
    ablation = config.ablation
    if ablation.deformation and not (ablation.coarse_flow or ablation.residual_flow):
        raise ValueError("ablation: a deformation needs the coarse flow, the residual flow or both")
    local = config.dense_motion
    if not 0 <= local.local_flow_keypoints <= config.num_kp:
        raise ValueError(f"dense_motion.local_flow_keypoints must be 0 .. num_kp ({config.num_kp}), "
                         f"got {local.local_flow_keypoints}")
    if not 0.0 < local.local_flow_sigma <= 1.0:
        raise ValueError(f"dense_motion.local_flow_sigma must be in (0, 1], got {local.local_flow_sigma}")
    if config.generator.blend_source and not ablation.deformation:
        raise ValueError("generator.blend_source needs the deformation (ablation.deformation: true)")


# --------------------------------------------------------------------------- presets


def _published(
    name: str,
    image_size: int,
    max_features: int,
    generator_blocks: int,
    motion_scale: float = 1.0,
    interpolation: Interpolation = "nearest",
    heatmap_norm: HeatmapNorm = 100.0,
    use_keypoint_difference: bool = False,
    category: str = FACE_CATEGORY,
) -> ModelConfig:
    return ModelConfig(
        name=name,
        category=category,
        image_size=image_size,
        heatmap_norm=heatmap_norm,
        kp_detector=KeypointDetectorConfig(32, max_features, 5, scale_factor=motion_scale),
        dense_motion=DenseMotionConfig(
            32, max_features, 5, scale_factor=motion_scale,
            use_keypoint_difference=use_keypoint_difference,
        ),
        generator=GeneratorConfig(32, max_features, generator_blocks, 4, interpolation),
        discriminator=DiscriminatorConfig(32, 256, 4),
    )


def _face(name: str, image_size: int, width: int, generator_blocks: int, motion_scale: float) -> ModelConfig:
    """monkeycam's compact face presets: narrow hourglasses, motion nets at 32-64 px."""
    return ModelConfig(
        name=name,
        image_size=image_size,
        kp_detector=KeypointDetectorConfig(width, width * 8, 4, scale_factor=motion_scale),
        dense_motion=DenseMotionConfig(width, width * 8, 4, scale_factor=motion_scale),
        generator=GeneratorConfig(width, width * 16, generator_blocks, 2, "bilinear"),
        discriminator=DiscriminatorConfig(32, 256, 4),
    )


def _live(name: str, num_kp: int, width: int) -> ModelConfig:
    """monkeycam's real-time 256-px design (beyond the paper): keypoints, dense motion and the
    generator's encoder/decoder all work at 64 px on area-shrunk frames, and the output is the
    full-resolution source warped by the upsampled flow, blended with the decoded frame.
    The first 10 keypoints (the ones training guides to eyelids, lips, nose tip and chin) get
    the local flow, so blinks and mouth opening are not blurred away by the 64-px flow."""
    return ModelConfig(
        name=name,
        image_size=256,
        num_kp=num_kp,
        downsample="area",
        kp_detector=KeypointDetectorConfig(width, width * 8, 4, scale_factor=0.25),
        dense_motion=DenseMotionConfig(width, width * 8, 4, scale_factor=0.25, local_flow_keypoints=10),
        generator=GeneratorConfig(width, width * 8, 4, 1, "bilinear", scale_factor=0.25, blend_source=True),
        discriminator=DiscriminatorConfig(32, 256, 4),
    )


PRESETS: dict[str, ModelConfig] = {
    "nemo": _published("nemo", 64, 512, 5),
    # the reference's actions config (Weizmann human actions, 64x64, 10 keypoints): nemo's widths
    "actions": _published("actions", 64, 512, 5, category="body"),
    "taichi": _published("taichi", 64, 1024, 5, category="body"),
    "bair": _published("bair", 64, 1024, 5, heatmap_norm="sum", category="object"),
    "mgif": _published("mgif", 128, 1024, 6, motion_scale=0.5, use_keypoint_difference=True, category="object"),
    "vox": _published("vox", 256, 1024, 7, motion_scale=0.25, interpolation="bilinear"),
    "face64": _face("face64", 64, 16, 4, 1.0),
    "face128": _face("face128", 128, 8, 5, 0.5),
    "face256": _face("face256", 256, 16, 6, 0.25),
    "live256": _live("live256", 12, 16),
}


def preset(name: str) -> ModelConfig:
    """The preset config called ``name``; KeyError lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
