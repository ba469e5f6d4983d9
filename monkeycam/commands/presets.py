"""``monkeycam presets``: the model presets with their parameter counts and cost per frame."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("presets", help="list the model presets with sizes and cost")
    parser.set_defaults(handler=run_presets)


def run_presets(args: argparse.Namespace) -> int:
    from ..model import PRESETS, build_model, count_parameters
    from ..model.cost import animation_gflops

    print(f"{'preset':8s} {'size':>5s} {'kp_detector':>12s} {'generator':>12s} {'discriminator':>14s} {'GFLOP/frame':>12s}")
    for name, config in PRESETS.items():
        model = build_model(config)
        print(
            f"{name:8s} {config.image_size:5d} {count_parameters(model.kp_detector):12,d} "
            f"{count_parameters(model.generator):12,d} {count_parameters(model.discriminator):14,d} "
            f"{animation_gflops(config):12.2f}"
        )
    return 0
