"""Start the monkeycam desktop app."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from .. import __version__
from ..errors import UserError
from .qt_platform import check_qt_platform
from .window import MainWindow


def run_app(
    argv: Sequence[str] | None = None, portrait: str | None = None, checkpoint: str | None = None, start: bool = False
) -> int:
    """Open the main window and run the Qt event loop until it closes; returns the exit code.

    ``portrait`` and ``checkpoint`` override the remembered choices for this run; ``start``
    presses Start once the window has been shown and the portrait is ready.
    """
    from .compat import protect_singletons

    protect_singletons()
    app = QApplication.instance()
    if app is None:
        problem = check_qt_platform()
        if problem is not None:  # Qt would print several lines and abort the process
            raise UserError(problem)
        app = QApplication(list(argv if argv is not None else sys.argv[:1]))
    app.setApplicationName("monkeycam")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    if checkpoint:
        window.controls.set_checkpoint(checkpoint)
    if portrait:
        window.choose_portrait(portrait)
    window.show()
    close_on_signals(window)
    if start:
        start_when_ready(window)
    return int(app.exec())


def close_on_signals(window: MainWindow) -> None:
    """Ctrl-C in the terminal and SIGTERM close the window as its close button does (settings
    saved, the animation and any recording finished). Raised inside a Qt slot, the command's
    usual KeyboardInterrupt would only print a traceback and leave the app running. Python runs
    the handler when it next gets control: the window's status timer gives it that."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda _number, _frame: QTimer.singleShot(0, window.close))


def start_when_ready(window: MainWindow) -> None:
    """Press Start once, as soon as a portrait is ready (at once if one already is)."""
    if window.current_portrait() is not None:
        QTimer.singleShot(0, window.start)
        return

    def start_once(_path: str) -> None:
        window.portrait_ready.disconnect(start_once)
        window.start()

    window.portrait_ready.connect(start_once)
