"""``monkeycam info CHECKPOINT``: what a model is (its config and metadata), for people; ``--json``
prints the same as JSON for programs."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

NETWORK_NAMES = {"kp_detector": "keypoint detector", "generator": "generator", "discriminator": "discriminator"}
KEY_WIDTH = 24  # the values start in this column (deeper levels indent further)
NO_WRAP = 100_000
SUMMARY_LEAVES = 12  # a nested block with more values than this, below the top level, is summarised


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("info", help="show what a checkpoint is: model, networks, how it was trained")
    parser.add_argument("checkpoint", help="monkeycam .safetensors checkpoint")
    parser.add_argument("--json", action="store_true", help="print everything as JSON (config, metadata, networks)")
    parser.set_defaults(handler=run_info)


def run_info(args: argparse.Namespace) -> int:
    from ..checkpoint import read_info

    info = read_info(args.checkpoint)
    if args.json:
        print(json.dumps({"config": info.config.to_dict(), "metadata": info.metadata,
                          "networks": list(info.networks)}, indent=2))
        return 0
    width = _line_width()
    config = info.config
    size = Path(args.checkpoint).stat().st_size / 1e6
    lines = [f"{args.checkpoint} ({size:.1f} MB)"]
    lines += _field("model", f"{config.name}, {config.image_size}x{config.image_size} frames, {config.num_kp} "
                    f"keypoints{_preset_note(config)}", 1, width)
    what = "faces: found and cropped first" if config.is_face else "whole frames, no face detection"
    lines += _field("category", f"{config.category} ({what})", 1, width)
    lines += _field("networks", ", ".join(NETWORK_NAMES.get(name, name) for name in info.networks), 1, width)
    lines += _mapping_lines(info.metadata, 1, width)
    lines.append("(all of it as JSON: monkeycam info FILE --json)")
    print("\n".join(lines))
    return 0


def _line_width() -> int:
    """The terminal's width (or $COLUMNS) to wrap at; no wrapping into a pipe or a file."""
    if not sys.stdout.isatty() and not os.environ.get("COLUMNS"):
        return NO_WRAP
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def _mapping_lines(mapping: Mapping[str, Any], depth: int, width: int) -> list[str]:
    """``key  value`` lines, nested blocks indented under their key; long text wrapped."""
    lines: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            if depth > 1 and _leaf_count(value) > SUMMARY_LEAVES:
                lines += _field(key, f"{_leaf_count(value)} settings (see --json)", depth, width)
            else:
                lines.append("  " * depth + str(key))
                lines += _mapping_lines(value, depth + 1, width)
        elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            for number, item in enumerate(value, 1):
                lines.append("  " * depth + f"{key} {number} of {len(value)}")
                lines += _mapping_lines(item, depth + 1, width)
        else:
            lines += _field(key, _scalar_text(value), depth, width)
    return lines


def _field(key: str, text: str, depth: int, width: int) -> list[str]:
    """One ``key  text`` entry, the text wrapped in its column."""
    indent = "  " * depth
    label = f"{indent}{key}".ljust(max(KEY_WIDTH, len(indent) + len(key) + 1) + 1)
    wrapped = textwrap.wrap(text, width=width, initial_indent=label, subsequent_indent=" " * len(label),
                            break_on_hyphens=False) or [label.rstrip()]
    return wrapped


def _scalar_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_scalar_text(item) for item in value) if value else "none"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _leaf_count(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_leaf_count(item) for item in value.values())
    if isinstance(value, list):
        return sum(_leaf_count(item) for item in value) or 1
    return 1


def _preset_note(config) -> str:
    """"; the NAME preset" or "; not the NAME preset (FIELDS differ)" when the config carries a
    preset's name."""
    from ..model import PRESETS

    if config.name not in PRESETS:
        return ""
    if PRESETS[config.name] == config:
        return f" (the {config.name} preset)"
    theirs, ours = PRESETS[config.name].to_dict(), config.to_dict()
    differ = [key for key in ours if ours[key] != theirs[key]]
    return f"; not the {config.name} preset ({', '.join(differ)} differ{'s' if len(differ) == 1 else ''})"
