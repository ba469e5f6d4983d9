"""Writing files so that they appear whole or not at all.

Every output monkeycam writes (checkpoints, videos, images, JSON, caches) goes to a
temporary file next to its destination and is renamed into place only when complete, so
an error or Ctrl-C never leaves a half-written file under the real name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_sibling(path: Path, suffix: str = ".part") -> Path:
    """Create an empty hidden temporary file in ``path``'s folder (normal file permissions)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; finished files should look like any other
    return Path(tmp)


def commit(tmp: Path, path: Path) -> Path:
    """Move a finished temporary file onto its destination (atomic on one file system)."""
    os.replace(tmp, path)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is deleted.

    The destination folder is created if needed. ``suffix`` matters to writers that pick a
    format from the file name (e.g. ``.mp4``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path, suffix)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
