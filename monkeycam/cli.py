"""The ``monkeycam`` command.

Each subcommand is a module of :mod:`monkeycam.commands` that registers itself through an
``add_parser(subparsers)`` function; heavy modules are imported only when a subcommand runs.
Every failure the user can cause (a :class:`~monkeycam.errors.MonkeycamError`, or an OSError from
a file or device) ends in one clear line on stderr and exit status 1; anything else is a bug and
shows its traceback, with a line asking for a report, and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import traceback
from collections.abc import Callable, Sequence

from . import __version__
from .errors import MonkeycamError, one_line, user_errors

# Subcommands are the modules of monkeycam/commands/ that define add_parser(subparsers),
# listed in this order first, then any other in alphabetical order.
ORDER = ("animate", "stream", "bench", "convert", "prepare", "train", "evaluate", "info", "presets")
BUG_REPORT = "this is a bug in monkeycam; please report it with the traceback above"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monkeycam",
        description="Animate a still portrait with the motion of a face (Monkey-Net, CVPR 2019).",
    )
    parser.add_argument("--version", action="version", version=f"monkeycam {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        module = importlib.import_module(f"monkeycam.commands.{name}")
        if hasattr(module, "add_parser"):
            module.add_parser(subparsers)
    return parser


def _command_modules() -> list[str]:
    from . import commands

    found = sorted(info.name for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_"))
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s"
    )
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        with user_errors(OSError):  # a path, a device or the disk: the user's environment
            return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("monkeycam: interrupted", file=sys.stderr)
        return 130
    except MonkeycamError as error:
        if args.verbose:
            raise
        print(f"monkeycam {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001  (a bug: shown with its traceback, never as a one-liner)
        traceback.print_exc()
        print(f"monkeycam {args.command}: {BUG_REPORT}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
