"""Compute cost of a model: floating-point operations per animated frame."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import ModelConfig
from .monkeynet import build_model


def animation_gflops(config: ModelConfig) -> float:
    """GFLOP (multiply and add counted separately) to animate one frame with a cached source.

    Counts the keypoint detector on the driving frame plus the generator's per-frame work
    (dense motion, warping, decoder, refinement), batch 1; convolutions and matrix products
    only, as counted by ``torch.utils.flop_counter``.
    """
    model = build_model(config, with_discriminator=False).eval()
    size = config.image_size
    with torch.no_grad():
        source = torch.rand(1, config.num_channels, size, size)
        features = model.prepare_source(source)
        with FlopCounterMode(display=False) as counter:
            model.animate(features, model.kp_detector(torch.rand_like(source)))
    return counter.get_total_flops() / 1e9
