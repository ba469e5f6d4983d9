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


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A tiny training setup: four shape videos (train/) and one (test/), and a YAML config for a
    4-step run of a tiny model. Returns (dataset folder, config file)."""
    import yaml

    from monkeycam.io import VideoWriter
    from tests.media_files import moving_shapes
    from tests.test_training import TINY

    root = tmp_path_factory.mktemp("shapes")
    for split, seeds in (("train", range(4)), ("test", range(4, 5))):
        (root / split).mkdir()
        for seed in seeds:
            with VideoWriter(root / split / f"shape{seed}.mp4", fps=10) as writer:
                for frame in moving_shapes(frames=8, height=32, seed=seed):
                    writer.write(frame)
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"config": TINY.to_dict()},
        "train": {"steps": 4, "batch_size": 2, "log_every": 1, "checkpoint_every": 2, "image_every": 2},
    }))
    return root, config
