"""Architecture rules (see pyproject [tool.importlinter]): the model is plain PyTorch, only the
GUI imports Qt, and the GUI never imports torch. Also: one OpenCV wheel, consistent installs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_installed_packages_are_consistent():
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    import cv2  # noqa: F401  (two OpenCV wheels sharing cv2/ break this import)


def test_model_package_has_no_io_or_gui_imports_in_source():
    """A textual check that also covers lazy imports inside functions."""
    for path in (ROOT / "monkeycam" / "model").glob("*.py"):
        text = path.read_text()
        for forbidden in ("import cv2", "PySide6", "mediapipe", "open(", "torch.load", "torch.save"):
            assert forbidden not in text, f"{path.name} uses {forbidden}"
