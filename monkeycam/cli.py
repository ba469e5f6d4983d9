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
import os
import pkgutil
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence

from . import __version__
from .errors import MonkeycamError, UserError, one_line, user_errors

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
    _terminate_like_ctrl_c()
    try:
        with user_errors(OSError):  # a path, a device or the disk: the user's environment
            status = int(handler(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not in an "Exception ignored" at exit
            return status
    except KeyboardInterrupt:
        print("monkeycam: interrupted", file=sys.stderr)
        return 130
    except UserError as error:
        if isinstance(error.__cause__, BrokenPipeError) or isinstance(error, BrokenPipeError):
            return _reader_went_away()
        if args.verbose:
            raise
        print(f"monkeycam {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1
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


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (kill, a service manager, a closed terminal session) stops a command the way
    Ctrl-C does: outputs are finished or removed, training saves a checkpoint."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _reader_went_away() -> int:
    """stdout was closed by its reader (``monkeycam presets | head``): stop quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the final flush at exit must not fail again
    return 141  # 128 + SIGPIPE, as a shell reports it
