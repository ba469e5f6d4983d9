"""A run folder belongs to one training at a time, and is never overwritten by accident.

:func:`claim_run_folder` is called by ``monkeycam train`` before any work: a folder that
already holds a run is refused unless the user asks to ``--resume`` it or to ``--overwrite``
it, and an exclusive lock (``fcntl.flock`` on ``RUN/.lock``, released by the OS when the
process ends, even on kill -9) keeps a second trainer out while the first one runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO

from monkeycam.errors import UserError

# What a training writes into its run folder (see training/trainer.py).
RUN_FILES = ("state.pt", "model.safetensors", "config.yaml", "history.jsonl", "events")
LOCK_NAME = ".lock"


class RunFolderError(UserError):
    """The run folder cannot be used for this training."""


def existing_run_files(out: Path) -> list[str]:
    """The names of RUN_FILES present in ``out`` (empty when it holds no run)."""
    return [name for name in RUN_FILES if (out / name).exists()]


def check_run_folder(out: str | os.PathLike, resume: bool, overwrite: bool) -> None:
    """RunFolderError when ``out`` cannot take this training: it is a file, or it holds an
    earlier run and neither ``resume`` nor ``overwrite`` was asked for. Changes nothing."""
    out = Path(out)
    if resume and overwrite:
        raise RunFolderError("--resume and --overwrite contradict each other: choose one")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a run folder")
    found = existing_run_files(out) if out.is_dir() else []
    if found and not resume and not overwrite:
        raise RunFolderError(
            f"--out {out} already holds a training run ({', '.join(found)}): continue it with --resume, "
            f"choose a new --out, or pass --overwrite to start over in it"
        )


def claim_run_folder(out: str | os.PathLike, resume: bool, overwrite: bool) -> IO[str] | None:
    """Check ``out`` again (:func:`check_run_folder`), create and lock it; returns the open lock
    file (keep it open while training; None on a platform without ``fcntl``). RunFolderError
    when another trainer holds it. With ``overwrite`` the earlier run's files are removed once
    the lock is taken."""
    out = Path(out)
    check_run_folder(out, resume, overwrite)
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = _lock(out)
    except OSError as error:
        raise RunFolderError(f"--out {out}: cannot use the folder ({error.strerror or error})") from None
    if overwrite:
        for name in existing_run_files(out):
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return lock


def _lock(out: Path) -> IO[str] | None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        return None
    handle = open(out / LOCK_NAME, "a+")  # noqa: SIM115  (held open for the whole training)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise RunFolderError(
            f"--out {out} is in use by another training ({owner}); wait for it to end or choose another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle
