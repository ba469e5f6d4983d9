"""Work off the GUI thread: a single background thread that runs jobs in order.

A job is a plain callable; its result (or its error, in words) comes back to the GUI thread
through a Qt signal, so the GUI never waits on the engine. Jobs submitted with
``supersede=True`` replace any queued job of the same name that has not started yet
(switching portraits quickly only processes the last one).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..errors import MonkeycamError, one_line

log = logging.getLogger(__name__)

ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[str], None]


@dataclass
class _Job:
    name: str
    run: Callable[[], Any]
    on_done: ResultCallback | None
    on_error: ErrorCallback | None


class SerialWorker(QObject):
    """Runs jobs one at a time, in submission order, on a named daemon thread.

    Signals:
        failed(name, message): a job raised; ``message`` is one line for the user.
        idle(): the queue became empty after a job.
    """

    failed = Signal(str, str)
    idle = Signal()
    _deliver = Signal(object, object)  # (callback, value), always handled in the GUI thread

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._jobs: deque[_Job] = deque()
        self._wake = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self._deliver.connect(self._call_in_gui_thread)

    @property
    def busy(self) -> bool:
        """A job is running or waiting."""
        with self._wake:
            return self._busy or bool(self._jobs)

    def submit(
        self,
        name: str,
        run: Callable[[], Any],
        on_done: ResultCallback | None = None,
        on_error: ErrorCallback | None = None,
        supersede: bool = False,
    ) -> None:
        """Queue ``run``; ``on_done(result)`` / ``on_error(message)`` are called in the GUI thread."""
        with self._wake:
            if self._closing:
                return
            if supersede:
                self._jobs = deque(job for job in self._jobs if job.name != name)
            self._jobs.append(_Job(name, run, on_done, on_error))
            self._ensure_thread()
            self._wake.notify()

    def shutdown(self, timeout: float = 10.0, final: Callable[[], Any] | None = None) -> bool:
        """Drop queued jobs, run ``final`` (e.g. stop the pipeline) after the current job, and
        join the thread. Returns False when the thread did not finish within ``timeout``."""
        with self._wake:
            self._jobs.clear()
            if final is not None:
                self._jobs.append(_Job("shutdown", final, None, None))
                self._ensure_thread()
            self._closing = True
            self._wake.notify()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=f"monkeycam-{self._name}", daemon=True)
            self._thread.start()

    def _next_job(self) -> _Job | None:
        with self._wake:
            while not self._jobs and not self._closing:
                self._wake.wait()
            if not self._jobs:
                return None
            self._busy = True
            return self._jobs.popleft()

    def _loop(self) -> None:
        while (job := self._next_job()) is not None:
            self._run(job)
            with self._wake:
                self._busy = False
                empty = not self._jobs
            if empty and not self._closing:
                self.idle.emit()

    def _run(self, job: _Job) -> None:
        try:
            result = job.run()
        except Exception as error:
            message = one_line(error)
            if isinstance(error, MonkeycamError):
                log.debug("job %s failed", job.name, exc_info=True)
            else:  # a bug: keep its traceback in the log; the window still says it in a line
                log.exception("job %s failed unexpectedly", job.name)
            if self._closing:
                return
            self.failed.emit(job.name, message)
            if job.on_error is not None:
                self._deliver.emit(job.on_error, message)
            return
        if job.on_done is not None and not self._closing:
            self._deliver.emit(job.on_done, result)

    def _call_in_gui_thread(self, callback: Callable[[Any], None], value: Any) -> None:
        callback(value)
