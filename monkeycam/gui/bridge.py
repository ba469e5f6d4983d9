"""Pipeline callbacks (called on pipeline threads) -> Qt signals (handled in the GUI thread).

Frames are coalesced: the bridge keeps only the newest :class:`LiveFrame` and posts one
notification at a time, so a busy GUI shows the latest frame instead of a backlog.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from ..live.api import LiveFrame


class PipelineBridge(QObject):
    """Thread-safe callbacks for a live pipeline, re-emitted as Qt signals.

    Signals:
        frame_ready(): a new frame is waiting; take it with :meth:`take_frame`.
        error(message), status(message): from the pipeline, in words.
    """

    frame_ready = Signal()
    error = Signal(str)
    status = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest: LiveFrame | None = None
        self._notified = False
        self._received = 0

    @property
    def frames_received(self) -> int:
        """Frames handed over by the pipeline so far (shown or superseded)."""
        with self._lock:
            return self._received

    def on_frame(self, frame: LiveFrame) -> None:
        """Pipeline callback: keep ``frame`` as the newest, notify the GUI if it is not already."""
        with self._lock:
            self._latest = frame
            self._received += 1
            notify = not self._notified
            self._notified = True
        if notify:
            self.frame_ready.emit()

    def on_error(self, message: str) -> None:
        """Pipeline callback for errors."""
        self.error.emit(str(message))

    def on_status(self, message: str) -> None:
        """Pipeline callback for status lines."""
        self.status.emit(str(message))

    def take_frame(self) -> LiveFrame | None:
        """The newest frame not yet taken (GUI thread), or None."""
        with self._lock:
            frame, self._latest = self._latest, None
            self._notified = False
            return frame
