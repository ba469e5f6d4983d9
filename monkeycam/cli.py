"""The ``monkeycam`` command.

Each subcommand lives next to the code it drives and registers itself through an
``add_parser(subparsers)`` function; heavy modules are imported only when a subcommand runs.
Every failure the user can cause ends in one clear line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence

from . import __version__

# Subcommands are the modules of monkeycam/commands/ that define add_parser(subparsers),
# listed in this order first, then any other in alphabetical order.
ORDER = ("animate", "stream", "bench", "convert", "prepare", "train", "evaluate", "info")


class UserError(Exception):
    """An error caused by the user's input; printed as one line without a traceback."""


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
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("monkeycam: interrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, OSError, RuntimeError) as error:
        if args.verbose:
            raise
        print(f"monkeycam {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


if __name__ == "__main__":
    raise SystemExit(main())
