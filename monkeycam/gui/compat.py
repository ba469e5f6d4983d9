"""A guard against a reference-counting bug of PySide6 6.12 on CPython 3.11 and older.

Measured with PySide6-Essentials 6.12.0 on CPython 3.11.7: every call of a Qt method that
returns ``void`` (``QLabel.setText``, ``QWidget.update``, ``QPainter.drawImage``...) releases one
reference to ``None`` it never took, and ``Signal.emit`` does the same to ``True``. 6.11.3 does not.
A live preview makes hundreds of such calls per second, so after a few minutes the count of
``None`` reaches zero and the interpreter aborts ("Fatal Python error: none_dealloc").

CPython 3.12 made ``None``, ``True`` and ``False`` immortal (their count is never used), which
makes the bug harmless there. :func:`protect_singletons` does the same by hand on older
interpreters: it adds 2**40 references to each of them. They are never freed in any case, so the
extra references cost nothing, and nothing else changes.
"""

from __future__ import annotations

import ctypes
import platform
import sys

import PySide6

EXTRA_REFERENCES = 1 << 40
SINGLETONS = (None, True, False)


def binding_has_refcount_bug(pyside_version: tuple[int, ...] | None = None,
                             python_version: tuple[int, ...] | None = None) -> bool:
    """Whether this PySide6 (6.12 or newer, measured on 6.12.0) runs on a CPython without
    immortal singletons (before 3.12), where its missing references crash the app."""
    pyside_version = pyside_version or tuple(PySide6.__version_info__[:2])
    python_version = python_version or tuple(sys.version_info[:2])
    return (platform.python_implementation() == "CPython" and tuple(pyside_version[:2]) >= (6, 12)
            and tuple(python_version[:2]) < (3, 12))


def protect_singletons() -> bool:
    """Make ``None``, ``True`` and ``False`` effectively immortal when the bug applies.

    Idempotent. Returns True when the protection is (already) in place, False when not needed.
    """
    if not binding_has_refcount_bug():
        return False
    for singleton in SINGLETONS:
        count = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt, the first field
        if count.value < EXTRA_REFERENCES // 2:
            count.value += EXTRA_REFERENCES
    return True
