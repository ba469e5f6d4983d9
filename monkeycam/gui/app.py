"""Start the monkeycam desktop app."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication

from .. import __version__


def run_app(argv: Sequence[str] | None = None, portrait: str | None = None, checkpoint: str | None = None) -> int:
    """Open the main window and run the Qt event loop until it closes; returns the exit code.

    ``portrait`` and ``checkpoint`` override the remembered choices for this run.
    """
    from .compat import protect_singletons
    from .window import MainWindow

    protect_singletons()
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv[:1]))
    app.setApplicationName("monkeycam")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    if checkpoint:
        window.controls.set_checkpoint(checkpoint)
    if portrait:
        window.choose_portrait(portrait)
    window.show()
    return int(app.exec())
