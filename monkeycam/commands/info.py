"""``monkeycam info CHECKPOINT``: what a model is (its config and metadata)."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("info", help="show the config and metadata of a checkpoint")
    parser.add_argument("checkpoint", help="monkeycam .safetensors checkpoint")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_info)


def run_info(args: argparse.Namespace) -> int:
    from ..checkpoint import read_info

    info = read_info(args.checkpoint)
    if args.json:
        print(json.dumps({"config": info.config.to_dict(), "metadata": info.metadata,
                          "networks": list(info.networks)}, indent=2))
        return 0
    config = info.config
    print(f"{args.checkpoint}: '{config.name}' {config.image_size}x{config.image_size}, {config.num_kp} keypoints"
          f"{_preset_note(config)}")
    print(f"  networks: {', '.join(info.networks)}")
    for key, value in sorted(info.metadata.items()):
        print(f"  {key}: {value if not isinstance(value, (dict, list)) else json.dumps(value)}")
    return 0


def _preset_note(config) -> str:
    """", not the NAME preset (FIELDS differ)" when the config carries a preset's name but is not it."""
    from ..model import PRESETS

    if config.name not in PRESETS or PRESETS[config.name] == config:
        return ""
    theirs, ours = PRESETS[config.name].to_dict(), config.to_dict()
    differ = [key for key in ours if ours[key] != theirs[key]]
    return f"; not the {config.name} preset ({', '.join(differ)} differ{'s' if len(differ) == 1 else ''})"
