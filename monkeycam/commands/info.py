"""``monkeycam info CHECKPOINT`` and ``monkeycam presets``: what a model is."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("info", help="show the config and metadata of a checkpoint")
    parser.add_argument("checkpoint", help="monkeycam .safetensors checkpoint")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_info)

    presets = subparsers.add_parser("presets", help="list the model presets with sizes and cost")
    presets.set_defaults(handler=run_presets)


def run_info(args: argparse.Namespace) -> int:
    from ..checkpoint import read_info

    info = read_info(args.checkpoint)
    if args.json:
        print(json.dumps({"config": info.config.to_dict(), "metadata": info.metadata,
                          "networks": list(info.networks)}, indent=2))
        return 0
    config = info.config
    print(f"{args.checkpoint}: '{config.name}' {config.image_size}x{config.image_size}, {config.num_kp} keypoints")
    print(f"  networks: {', '.join(info.networks)}")
    for key, value in sorted(info.metadata.items()):
        print(f"  {key}: {value if not isinstance(value, (dict, list)) else json.dumps(value)}")
    return 0


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
