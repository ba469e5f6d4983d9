"""The torch animation engine: :class:`Engine` and :func:`create_engine`, its backends and the
benchmark. Importing this package imports torch; the torch-free types it implements, and the
live pipeline that drives it, are in :mod:`monkeycam.live`.
"""

from __future__ import annotations

from .engine import Engine, create_engine, load_engine_model
from .planning import available_backends

__all__ = ["Engine", "available_backends", "create_engine", "load_engine_model"]
