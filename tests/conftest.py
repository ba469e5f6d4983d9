"""Shared fixtures: paths to ../shared (skipping cleanly when absent) and small models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MONKEYCAM_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
FACES = SHARED / "data" / "faces"


def require_shared(path: Path) -> Path:
    """Skip the test with a clear reason when a ../shared file is missing."""
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the shared reference data next to the repository")
    return path


@pytest.fixture
def reference_dir() -> Path:
    return require_shared(REFERENCE)


@pytest.fixture
def faces_dir() -> Path:
    return require_shared(FACES)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Keep tests away from the user's real settings and caches."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MONKEYCAM_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("MONKEYCAM_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
