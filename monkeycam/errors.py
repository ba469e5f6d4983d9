"""The project's error model: one root, one user-facing subclass, one way to say it in a line.

- :class:`MonkeycamError` is the root of every exception monkeycam raises on purpose.
- :class:`UserError` is a MonkeycamError caused by the user's input or machine (a bad path, a
  broken file, a missing device, a wrong option): the CLI prints it as one line and exits 1;
  the GUI shows it in the window.
- Anything else reaching a boundary is a bug: the CLI prints its traceback and exits 2.

Most project errors also derive from the builtin they replaced (``class MediaError(UserError,
ValueError)``), so code that catches ``ValueError`` or ``RuntimeError`` keeps working.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class MonkeycamError(Exception):
    """The root of every error monkeycam raises on purpose; its message is for people."""


class UserError(MonkeycamError):
    """An error the user can fix (input, files, devices, options); shown as one line, no traceback."""


def one_line(error: BaseException, limit: int | None = None) -> str:
    """The first non-empty line of ``error``'s message (its type name when it has none),
    cut to ``limit`` characters when given (for a detail inside another message)."""
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return type(error).__name__


@contextmanager
def user_errors(*types: type[BaseException], prefix: str = "") -> Iterator[None]:
    """Inside the block, an exception of one of ``types`` becomes a :class:`UserError`
    (``prefix`` + its first line). Use at a boundary where such errors are the user's, e.g.
    ``OSError`` while writing to a path the user named."""
    try:
        yield
    except UserError:
        raise
    except types as error:
        raise UserError(f"{prefix}{one_line(error)}") from error
