"""Pair sampling and augmentation on the training device.

All decoded frames live in one uint8 tensor (a :class:`FrameBank`); a batch of pairs is
gathered by index and augmented with batched tensor ops, so the data side never limits a
GPU. Random choices come from one ``torch.Generator`` whose state is saved in checkpoints,
which makes ``--resume`` continue exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from monkeycam.model.keypoints import identity_grid

from .config import AugmentConfig


class FrameBank:
    """Every frame of every training clip, (N, 3, H, W) uint8, with clip boundaries.

    Args:
        clips: videos as (T, H, W, 3) uint8 RGB arrays, T >= 2, all of the same H and W.
        device: where frames are kept and batches are built.
        points: optional landmark points per clip, (T, L, 2) float32 in [-1, 1] (NaN: unknown).
    """

    def __init__(
        self, clips: Sequence[np.ndarray], device: torch.device | str = "cpu",
        points: Sequence[np.ndarray] | None = None,
    ) -> None:
        if not clips:
            raise ValueError("no training clips")
        shapes = {clip.shape[1:] for clip in clips}
        if len(shapes) != 1:
            raise ValueError(f"all clips must have the same frame size, got {sorted(shapes)}")
        lengths = [len(clip) for clip in clips]
        if min(lengths) < 2:
            raise ValueError("every clip needs at least 2 frames")
        frames = torch.from_numpy(np.concatenate(clips)).permute(0, 3, 1, 2).contiguous()
        self.frames = frames.to(device)
        self.starts = torch.tensor(np.cumsum([0] + lengths[:-1]), device=device)
        self.lengths = torch.tensor(lengths, device=device)
        self.device = torch.device(device)
        self.points = None
        if points is not None:
            if [len(p) for p in points] != lengths:
                raise ValueError("landmark points must have one row per frame of every clip")
            self.points = torch.from_numpy(np.concatenate(points)).float().to(device)

    @property
    def num_clips(self) -> int:
        return len(self.lengths)

    def sample_pairs(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One random pair of distinct frames from each of ``batch_size`` random clips.

        Returns source, driving: (B, 3, H, W) float in [0, 1]; the source index is the
        earlier frame (time flip is an augmentation).
        """
        source, driving = self.sample_indices(batch_size, generator)
        return self.frames_at(source), self.frames_at(driving)

    def sample_indices(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Bank indices (B,) of one random pair of distinct frames from each of ``batch_size``
        random clips, the earlier frame first."""
        clip = torch.randint(self.num_clips, (batch_size,), generator=generator, device="cpu").to(self.device)
        length = self.lengths[clip]
        u = torch.rand(batch_size, 2, generator=generator, device="cpu").to(self.device)
        first = (u[:, 0] * length).long().clamp(max=length - 1)
        # the second index is drawn among the other length - 1 frames
        second = (u[:, 1] * (length - 1)).long().clamp(max=length - 2)
        second = second + (second >= first).long()
        lo, hi = torch.minimum(first, second), torch.maximum(first, second)
        start = self.starts[clip]
        return start + lo, start + hi

    def sample_contrast_indices(
        self, score: torch.Tensor, batch_size: int, generator: torch.Generator, candidates: int = 8
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Bank indices (B,) of pairs from random clips: among ``candidates`` random frames of
        the clip, the one with the lowest ``score`` (source) and the one with the highest
        (driving). score: (N,) per bank frame, NaN where unknown (never chosen while a known
        one is among the candidates)."""
        clip = torch.randint(self.num_clips, (batch_size,), generator=generator, device="cpu").to(self.device)
        length = self.lengths[clip][:, None]
        u = torch.rand(batch_size, candidates, generator=generator, device="cpu").to(self.device)
        indices = self.starts[clip][:, None] + (u * length).long().clamp(max=length - 1)  # (B, C)
        values = score[indices]
        unknown = torch.isnan(values)
        lowest = torch.where(unknown, math.inf, values).argmin(dim=1, keepdim=True)
        highest = torch.where(unknown, -math.inf, values).argmax(dim=1, keepdim=True)
        return indices.gather(1, lowest)[:, 0], indices.gather(1, highest)[:, 0]

    def frames_at(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float frames in [0, 1] at bank indices."""
        return self._to_float(self.frames[indices])

    def points_at(self, source: torch.Tensor, driving: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Landmark points (B, L, 2) of the frames at these bank indices, or None without points."""
        if self.points is None:
            return None
        return self.points[source], self.points[driving]

    @staticmethod
    def _to_float(frames: torch.Tensor) -> torch.Tensor:
        return frames.float().div_(255.0)


def _uniform(generator: torch.Generator, shape: tuple[int, ...], low: float, high: float, device) -> torch.Tensor:
    return (torch.rand(shape, generator=generator, device="cpu") * (high - low) + low).to(device)


def augment_pairs(
    source: torch.Tensor, driving: torch.Tensor, config: AugmentConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch of pairs (both (B, 3, H, W) in [0, 1]) the same way within each pair."""
    batch = augment_pairs_with_points(source, driving, None, None, config, generator)
    return batch.source, batch.driving


class AugmentedPairs(NamedTuple):
    """A batch of augmented pairs: frames (B, 3, H, W) in [0, 1]; points (B, L, 2) in [-1, 1]
    where they are known (NaN elsewhere), or None when no points were given."""

    source: torch.Tensor
    driving: torch.Tensor
    source_points: torch.Tensor | None
    driving_points: torch.Tensor | None


def augment_pairs_with_points(
    source: torch.Tensor,
    driving: torch.Tensor,
    points: tuple[torch.Tensor, torch.Tensor] | None,
    mirror: Sequence[int] | None,
    config: AugmentConfig,
    generator: torch.Generator,
    keep_order: torch.Tensor | None = None,
) -> AugmentedPairs:
    """Augment pairs and move their landmark points with them.

    Args:
        points: (source points, driving points), each (B, L, 2) in [-1, 1], NaN where unknown.
        mirror: for each point, the index of its mirror partner (used when a pair is flipped);
            needed with points and horizontal flips.
        keep_order: (B,) bool, pairs the time flip must leave as they are (e.g. closed-to-open
            mouth pairs); None: every pair may be flipped.
    """
    batch, device = source.shape[0], source.device
    source_points, driving_points = points if points is not None else (None, None)
    if config.time_flip:
        swap = _uniform(generator, (batch,), 0, 1, device) < 0.5
        if keep_order is not None:
            swap = swap & ~keep_order.to(device)
        source, driving = _swap(swap[:, None, None, None], source, driving)
        if points is not None:
            source_points, driving_points = _swap(swap[:, None, None], source_points, driving_points)
    if config.synthetic_pairs > 0:
        use = _uniform(generator, (batch,), 0, 1, device) < config.synthetic_pairs
        warped = random_smooth_warp(source, config.warp_strength, generator)
        driving = torch.where(use[:, None, None, None], warped, driving)
        if points is not None:  # where the warped points lie is not tracked: unknown
            driving_points = torch.where(use[:, None, None], torch.nan, driving_points)
    geometry = _geometric_params(batch, config, generator, device)
    if geometry is not None:
        grid = _geometric_grid(geometry, source.shape[-2:], device)
        source = F.grid_sample(source, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
        driving = F.grid_sample(driving, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
        if points is not None:
            source_points = _move_points(source_points, geometry, mirror)
            driving_points = _move_points(driving_points, geometry, mirror)
    if config.brightness or config.contrast or config.saturation or config.hue:
        params = _jitter_params(batch, config, generator, device)
        source, driving = _colour_jitter(source, params), _colour_jitter(driving, params)
    return AugmentedPairs(source.contiguous(), driving.contiguous(), source_points, driving_points)


def _swap(where: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.where(where, b, a), torch.where(where, a, b)


class _Geometry(NamedTuple):
    """A random square crop and flip per pair: input x = output x * scale * flip + cx, etc."""

    scale: torch.Tensor  # (B,)
    cx: torch.Tensor
    cy: torch.Tensor
    flip: torch.Tensor  # (B,) +1 or -1


def _geometric_params(batch: int, config: AugmentConfig, generator: torch.Generator, device) -> _Geometry | None:
    """Random square crops (scale) and horizontal flips, or None if neither is configured."""
    low, high = config.crop_scale
    if not config.horizontal_flip and low == high == 1.0:
        return None
    scale = _uniform(generator, (batch,), low, high, device)
    cx = (_uniform(generator, (batch,), -1, 1, device)) * (1 - scale)
    cy = (_uniform(generator, (batch,), -1, 1, device)) * (1 - scale)
    flip = torch.ones(batch, device=device)
    if config.horizontal_flip:
        flip = torch.where(_uniform(generator, (batch,), 0, 1, device) < 0.5, -flip, flip)
    return _Geometry(scale, cx, cy, flip)


def _move_points(points: torch.Tensor, geometry: _Geometry, mirror: Sequence[int] | None) -> torch.Tensor:
    """Where (B, L, 2) points of the input frame land in the cropped (and flipped) frame.

    Points that leave the frame become NaN; a flipped pair's points trade places with their
    mirror partners, so each index keeps naming the same part of the face.
    """
    scale, cx, cy, flip = (value[:, None] for value in geometry)
    x = (points[..., 0] - cx) / (scale * flip)
    y = (points[..., 1] - cy) / scale
    moved = torch.stack([x, y], dim=-1)
    moved = torch.where((moved.abs() > 1).any(dim=-1, keepdim=True), torch.nan, moved)
    if bool((geometry.flip < 0).any()):
        if mirror is None:
            raise ValueError("points and horizontal flips need the points' mirror partners")
        flipped = moved[:, list(mirror)]
        moved = torch.where((geometry.flip < 0)[:, None, None], flipped, moved)
    return moved


def _geometric_grid(geometry: _Geometry, size, device) -> torch.Tensor:
    """Sampling grid of a random square crop (scale) and horizontal flip."""
    scale, cx, cy, flip = geometry
    grid = identity_grid(len(scale), size[0], size[1], device)
    x = grid[..., 0] * (scale * flip)[:, None, None] + cx[:, None, None]
    y = grid[..., 1] * scale[:, None, None] + cy[:, None, None]
    return torch.stack([x, y], dim=-1)


def random_smooth_warp(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Warp (B, 3, H, W) images by a random affine map plus a smooth random flow field.

    Used to make pseudo-videos from still frames: the result looks like the same object
    moved and deformed a little. ``strength`` is the displacement amplitude in [-1, 1] units.
    """
    batch, _, height, width = images.shape
    device = images.device
    angle = _uniform(generator, (batch,), -1, 1, device) * strength * math.pi
    zoom = 1 + _uniform(generator, (batch,), -1, 1, device) * strength
    shift = _uniform(generator, (batch, 2), -1, 1, device) * strength
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    grid = identity_grid(batch, height, width, device)
    x = cos[:, None, None] * grid[..., 0] - sin[:, None, None] * grid[..., 1] + shift[:, 0, None, None]
    y = sin[:, None, None] * grid[..., 0] + cos[:, None, None] * grid[..., 1] + shift[:, 1, None, None]
    coarse = _uniform(generator, (batch, 2, 4, 4), -1, 1, device) * strength
    flow = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    warped_grid = torch.stack([x, y], dim=-1) + flow
    return F.grid_sample(images, warped_grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def _jitter_params(batch: int, config: AugmentConfig, generator: torch.Generator, device) -> torch.Tensor:
    """(B, 4) brightness, contrast, saturation factors and hue shift (turns)."""
    return torch.stack(
        [
            1 + _uniform(generator, (batch,), -1, 1, device) * config.brightness,
            1 + _uniform(generator, (batch,), -1, 1, device) * config.contrast,
            1 + _uniform(generator, (batch,), -1, 1, device) * config.saturation,
            _uniform(generator, (batch,), -1, 1, device) * config.hue,
        ],
        dim=1,
    )


def _colour_jitter(images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    brightness, contrast, saturation, hue = (params[:, i, None, None, None] for i in range(4))
    images = images * brightness
    grey = images.mean(dim=1, keepdim=True)
    images = (images - grey.mean(dim=(2, 3), keepdim=True)) * contrast + grey.mean(dim=(2, 3), keepdim=True)
    grey = images.mean(dim=1, keepdim=True)
    images = (images - grey) * saturation + grey
    images = _rotate_hue(images, hue)
    return images.clamp(0, 1)


def _rotate_hue(images: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate colours around the grey axis by ``turns`` (B, 1, 1, 1) of a full turn."""
    angle = turns[:, 0, 0, 0] * 2 * math.pi
    cos, sin = torch.cos(angle), torch.sin(angle)
    k = 1 / 3
    root = math.sqrt(k)
    # Rodrigues rotation about the unit vector (1, 1, 1) / sqrt(3)
    rows = [
        [cos + k * (1 - cos), k * (1 - cos) - root * sin, k * (1 - cos) + root * sin],
        [k * (1 - cos) + root * sin, cos + k * (1 - cos), k * (1 - cos) - root * sin],
        [k * (1 - cos) - root * sin, k * (1 - cos) + root * sin, cos + k * (1 - cos)],
    ]
    matrix = torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)  # (B, 3, 3)
    return torch.einsum("bij,bjhw->bihw", matrix, images)
