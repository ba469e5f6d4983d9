"""Running the ``monkeycam`` command in a subprocess, and checking its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys


def run_monkeycam(
    *args: str, env: dict | None = None, timeout: float = 300, launcher: list[str] | None = None
) -> subprocess.CompletedProcess:
    """``python -m monkeycam ARGS`` (or ``LAUNCHER... monkeycam ARGS``, e.g. torchrun), output captured.

    ``env`` adds to (and overrides) the current environment.
    """
    command = (launcher or [sys.executable, "-m"]) + ["monkeycam", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Assert the command failed with exit status 1 and exactly one stderr line holding every
    fragment; returns that line."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
