"""Where monkeycam finds its shipped weights and assets, and keeps user settings and caches.

Never relative to the working directory. Shipped files are looked up, in order, in
``$MONKEYCAM_WEIGHTS_DIR`` / ``$MONKEYCAM_ASSETS_DIR``, in the source checkout next to the
package (an editable install), and in ``<prefix>/share/monkeycam/`` (a wheel install, see
``[tool.setuptools.data-files]`` in pyproject.toml).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]

# Shipped default models, by where they run best (the model team may switch them: here only).
DEFAULT_CPU_MODEL = "live256.safetensors"
DEFAULT_GPU_MODEL = "face256.safetensors"


def _shipped_dir(kind: str) -> Path:
    override = os.environ.get(f"MONKEYCAM_{kind.upper()}_DIR")
    if override:
        return Path(override)
    for candidate in (_CHECKOUT / kind, Path(sys.prefix) / "share" / "monkeycam" / kind):
        if candidate.is_dir():
            return candidate
    return _CHECKOUT / kind


def weights_dir() -> Path:
    """Folder of the shipped checkpoints and their model cards."""
    return _shipped_dir("weights")


def assets_dir() -> Path:
    """Folder of the shipped media (portraits, demo driving video)."""
    return _shipped_dir("assets")


def default_checkpoint(cuda: bool, backend: str = "auto") -> Path:
    """The shipped checkpoint used when the user names none, the one place this is chosen:
    the GPU model when it will run on a CUDA GPU (``cuda`` available and ``backend`` not
    "cpu") and is installed, the real-time CPU model otherwise (which may be missing: callers
    check)."""
    folder = weights_dir()
    if cuda and backend != "cpu" and (folder / DEFAULT_GPU_MODEL).exists():
        return folder / DEFAULT_GPU_MODEL
    return folder / DEFAULT_CPU_MODEL


def config_dir() -> Path:
    """User settings folder ($MONKEYCAM_CONFIG_DIR, else the platform's config location)."""
    override = os.environ.get("MONKEYCAM_CONFIG_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "monkeycam"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "monkeycam"
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "monkeycam"


def cache_dir() -> Path:
    """User cache folder ($MONKEYCAM_CACHE_DIR, else the platform's cache location)."""
    override = os.environ.get("MONKEYCAM_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "monkeycam" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "monkeycam"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "monkeycam"
