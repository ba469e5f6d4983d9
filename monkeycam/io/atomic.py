"""Writing files so that they appear whole or not at all, and never over an input.

Every output monkeycam writes (checkpoints, videos, images, JSON, caches) goes to a
temporary file next to its destination and is renamed into place only when complete and
non-empty, so an error, a full disk or Ctrl-C never leaves a half-written file under the real
name and the previous file at that path stays as it was. :func:`check_output` refuses an
output that is one of the command's inputs (also through links) or lies inside an input
folder, before any work is done.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import UserError

# OS errors that mean "no room left for this file".
_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class OutputError(UserError, OSError):
    """An output cannot be written (disk full, unwritable) or would overwrite an input."""


def disk_full_message(path: Path, reason: str) -> str:
    """The one line for a failed write of ``path``; the previous file there is kept."""
    return f"disk full: could not write {path} ({reason}); any previous file there is unchanged"


def write_failed(path: Path, error: OSError) -> OutputError:
    """An OutputError for ``error`` raised while writing ``path`` ("disk full" when it is)."""
    reason = error.strerror or str(error)
    if error.errno in _FULL_ERRNOS:
        return OutputError(disk_full_message(path, reason))
    return OutputError(f"could not write {path} ({reason}); any previous file there is unchanged")


def os_error_in(error: BaseException) -> OSError | None:
    """The OSError behind ``error``: itself, one in its cause/context chain (torch wraps the
    file object's error), or an "os error N" in its message (safetensors' Rust writer)."""
    seen = error
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, OutputError):
            return seen
        seen = seen.__cause__ or seen.__context__
    match = re.search(r"os error (\d+)", str(error))
    if match:
        code = int(match.group(1))
        return OSError(code, os.strerror(code))
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(
    out: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None] = (),
    input_folders: Iterable[str | os.PathLike | None] = (),
    what: str = "output",
    out_is_folder: bool = False,
) -> Path:
    """Refuse an output that would overwrite something the command reads (UserError).

    ``out`` may not be, or resolve through links to, any of ``inputs`` (hard links included),
    nor lie inside (or be) any of ``input_folders``. With ``out_is_folder`` (a command that
    writes or replaces files in the folder ``out``), an input file inside ``out`` is refused too.
    None entries are skipped. Returns ``out`` as a Path.
    """
    out = Path(out)
    resolved = out.resolve()
    for source in inputs:
        if source is None:
            continue
        source = Path(source)
        if resolved == source.resolve() or _same_file(out, source):
            raise OutputError(f"{what} {out} is the input {source}: refusing to overwrite it (choose another name)")
        if out_is_folder and _inside(source.resolve(), resolved):
            raise OutputError(f"{what} {out} holds the input {source}: choose a folder apart from the inputs")
    for folder in input_folders:
        if folder is None:
            continue
        folder = Path(folder)
        inner = folder.resolve()
        if _inside(resolved, inner):
            raise OutputError(f"{what} {out} is inside the input folder {folder}: refusing to write inside it")
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# A leftover temporary file is only swept when its writer is gone and it is this old (seconds):
# a writer on another machine sharing the folder keeps touching its file.
STALE_SECONDS = 60.0


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


def sweep_leftovers(path: Path, suffix: str = ".part") -> list[Path]:
    """Delete temporary files of ``path`` left by writers that were killed (kill -9, power
    loss): hidden siblings named by :func:`temporary_sibling` whose process is gone and that
    have not changed for :data:`STALE_SECONDS`. Returns what was deleted."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.[^.]+{re.escape(suffix)}$")
    removed = []
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    now = time.time()
    for candidate in candidates:
        match = pattern.match(candidate.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        try:
            if now - candidate.stat().st_mtime >= STALE_SECONDS:
                candidate.unlink()
                removed.append(candidate)
        except OSError:
            continue
    return removed


def temporary_sibling(path: Path, suffix: str = ".part") -> Path:
    """Create an empty hidden temporary file ``.NAME.PID.RANDOM<suffix>`` in ``path``'s folder
    (normal file permissions), first sweeping leftovers of killed writers of the same path."""
    sweep_leftovers(path, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; finished files should look like any other
    return Path(tmp)


def commit(tmp: Path, path: Path, verify: Callable[[Path], None] | None = None) -> Path:
    """Move a finished temporary file onto its destination (atomic on one file system).

    The temporary file must exist and be non-empty, and pass ``verify`` (which raises to
    refuse it); otherwise it is deleted, ``path`` is left as it was and OutputError is raised.
    """
    try:
        size = tmp.stat().st_size
        if size == 0:
            raise OutputError(disk_full_message(path, "the written file is empty"))
        if verify is not None:
            verify(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # some writers (safetensors) recreate the file as 0600
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise error if isinstance(error, OutputError) else write_failed(path, error) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, suffix: str = ".part", verify: Callable[[Path], None] | None = None
) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is deleted.

    The destination folder is created if needed. ``suffix`` matters to writers that pick a
    format from the file name (e.g. ``.mp4``). An OSError while writing (disk full, file too
    large) becomes one OutputError line; an empty result or a failed ``verify(tmp)`` is refused.
    In every failure the previous file at ``path`` is kept byte for byte.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_sibling(path, suffix)
    except OSError as error:
        raise write_failed(path, error) from None
    try:
        yield tmp
    except UserError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as error:  # a writer's own exception may wrap the OSError (disk full)
        tmp.unlink(missing_ok=True)
        cause = os_error_in(error)
        if cause is None:
            raise
        raise write_failed(path, cause) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    commit(tmp, path, verify)
