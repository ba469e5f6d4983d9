"""The outputs panel: the virtual camera switch with its state, and recording to a file.

Both act through the :class:`Session` (on its worker thread); the panel only shows and asks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ..errors import UserError, one_line
from ..io.atomic import check_output
from ..io.virtual_camera import LINUX_COMMAND, setup_help
from ..live.api import VirtualCameraStatus
from .session import Session

RECORD_FILTER = "Video (*.mp4 *.avi *.webm)"


def no_device_line(platform: str | None = None) -> str:
    """The one line shown when no virtual camera could be opened: what to run (Linux) or start
    (Windows, macOS); **How to set up** has the rest."""
    if (platform or sys.platform).startswith("linux"):
        return f"No virtual camera device. Run: {LINUX_COMMAND}"
    return "No virtual camera. Install OBS Studio and start its virtual camera once."


class OutputsPanel(QWidget):
    """The outputs row: **Virtual camera** (with its state: device, or why none and how to get
    one) and **Record...** (while the animation runs).

    Args:
        session: the engine side, which opens the virtual camera and writes recordings.
        virtual_camera: the remembered switch (the camera opens when the animation starts).

    Signals:
        notice(message): something to tell the user (where a recording was saved, or why not).
    """

    notice = Signal(str)

    def __init__(self, session: Session, virtual_camera: bool, parent: QWidget | None = None,
                 inputs: Callable[[], list[str | None]] | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._inputs = inputs or list  # the files being read now: a recording may not replace them
        self.vcam_box = QCheckBox("Virtual camera", self)
        self.vcam_box.setChecked(virtual_camera)
        self.vcam_label = QLabel("on when the animation starts" if virtual_camera else "off", self)
        self.vcam_label.setObjectName("vcam_status")
        # one line that never resizes the window or pushes the previews (the tooltip has it whole)
        self.vcam_label.setWordWrap(False)
        self.vcam_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.vcam_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setup_button = QPushButton("How to set up...", self)
        self.setup_button.setToolTip("How to get a virtual camera device that video-call apps can select")
        self._last_problem = ""
        self.record_button = QPushButton("Record...", self)
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the animated output to a video file; pressed before Start, "
                                      "the recording begins with the first animated frame")
        self._running = False
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.vcam_box)
        row.addWidget(self.vcam_label, 1)
        row.addWidget(self.setup_button)
        row.addWidget(self.record_button)
        self.vcam_box.toggled.connect(self.set_virtual_camera)
        self.setup_button.clicked.connect(self.show_setup_help)
        self.record_button.toggled.connect(self._on_record_toggled)
        session.virtual_camera_status.connect(self._on_virtual_camera_status)
        session.recording_finished.connect(self._on_recording_finished)

    @property
    def virtual_camera(self) -> bool:
        """Whether the animation goes to a virtual camera."""
        return self.vcam_box.isChecked()

    def set_running(self, running: bool) -> None:
        """Follow the animation: a stop ends the recording (one armed before Start waits)."""
        was_running, self._running = self._running, running
        if was_running and not running and self.record_button.isChecked():
            self._set_record_checked(False)

    # ------------------------------------------------------------------ virtual camera

    def set_virtual_camera(self, enabled: bool) -> None:
        """Turn the virtual camera output on or off (now, or when the animation starts)."""
        if self.vcam_box.isChecked() != enabled:
            self.vcam_box.setChecked(enabled)  # toggled calls back here
            return
        if self._session.running:
            if enabled or self.vcam_label.text() != no_device_line():
                self._set_label("starting..." if enabled else "off")
            self._session.set_virtual_camera(enabled)
        elif enabled or self.vcam_label.text() != no_device_line():
            self._set_label("on when the animation starts" if enabled else "off")

    def _on_virtual_camera_status(self, status: VirtualCameraStatus) -> None:
        if status.state == "unavailable":
            # untick first (so the next start does not fail again), then say it in one line
            self._last_problem = status.reason
            self.vcam_box.setChecked(False)
            self._set_label(no_device_line(), status.reason)
            return
        if self.vcam_box.isChecked():
            self._set_label(status.describe())
        elif self.vcam_label.text() != no_device_line():  # keep saying why it was unticked
            self._set_label("off")

    def _set_label(self, text: str, tooltip: str = "") -> None:
        self.vcam_label.setText(text)
        self.vcam_label.setToolTip(tooltip or text)

    def setup_text(self) -> str:
        """What **How to set up** shows: the last problem, if any, and the setup steps."""
        problem = f"The virtual camera could not be opened: {self._last_problem}\n\n" if self._last_problem else ""
        return (f"{problem}Video-call apps (Zoom, Teams, Meet in a browser, OBS) select monkeycam as a camera "
                f"through a virtual camera device.\n\n{setup_help().replace('; ', chr(10) + chr(10))}\n\n"
                "Then tick Virtual camera again.")

    def show_setup_help(self) -> None:
        """Open the setup instructions (text selectable, so the command can be copied)."""
        box = QMessageBox(QMessageBox.Icon.Information, "Set up a virtual camera", self.setup_text(),
                          QMessageBox.StandardButton.Ok, self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()

    # ------------------------------------------------------------------ recording

    def start_recording(self, path: str) -> None:
        """Record the animated output to ``path`` (from the next frames; before Start, from the
        first one) (refused, with a
        notice, when ``path`` is the portrait or the driving video being used)."""
        try:
            check_output(path, inputs=self._inputs(), what="the recording")
        except UserError as error:
            self._set_record_checked(False)
            self.notice.emit(one_line(error))
            return
        self._set_record_checked(True)
        self.record_button.setText("Stop recording")
        self._session.start_recording(path)

    def _on_record_toggled(self, checked: bool) -> None:
        if not checked:
            self._session.stop_recording()
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record the animation to", str(Path.home() / "monkeycam.mp4"),
                                              RECORD_FILTER)
        if path:
            self.start_recording(path)
        else:
            self.record_button.setChecked(False)

    def _on_recording_finished(self, message: str) -> None:
        self.record_button.setText("Record...")
        self._set_record_checked(False)
        self.notice.emit(message)

    def _set_record_checked(self, checked: bool) -> None:
        self.record_button.blockSignals(True)
        self.record_button.setChecked(checked)
        self.record_button.blockSignals(False)
