"""``monkeycam app``: open the desktop app (the same as ``python main.py``)."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "app",
        help="open the desktop app: live puppeteering with preview and virtual camera",
        description="Open the monkeycam window: pick a portrait, drive it with your webcam, scripted "
        "motion or a video, and send the animation to a preview, a virtual camera or a video file.",
    )
    parser.add_argument("--portrait", default=None, help="portrait image to start with (default: the last one)")
    parser.add_argument("--checkpoint", default=None, help="model checkpoint (default: the remembered choice)")
    parser.add_argument("--start", action="store_true",
                        help="start animating at once with the remembered driving input (scripted motion on a first run)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..gui.app import run_app

    return run_app(portrait=args.portrait, checkpoint=args.checkpoint, start=args.start)
