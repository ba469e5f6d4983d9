"""The outputs panel: the virtual camera switch with its state, and recording to a file.

Both act through the :class:`Session` (on its worker thread); the panel only shows and asks.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from ..live.api import VirtualCameraStatus
from .session import Session

RECORD_FILTER = "Video (*.mp4 *.avi *.webm)"


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

    def __init__(self, session: Session, virtual_camera: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.vcam_box = QCheckBox("Virtual camera", self)
        self.vcam_box.setChecked(virtual_camera)
        self.vcam_label = QLabel("on when the animation starts" if virtual_camera else "off", self)
        self.vcam_label.setObjectName("vcam_status")
        self.vcam_label.setWordWrap(True)
        self.vcam_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.record_button = QPushButton("Record...", self)
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the animated output to a video file (while running)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.vcam_box)
        row.addWidget(self.vcam_label, 1)
        row.addWidget(self.record_button)
        self.vcam_box.toggled.connect(self.set_virtual_camera)
        self.record_button.toggled.connect(self._on_record_toggled)
        session.virtual_camera_status.connect(self._on_virtual_camera_status)
        session.recording_finished.connect(self._on_recording_finished)

    @property
    def virtual_camera(self) -> bool:
        """Whether the animation goes to a virtual camera."""
        return self.vcam_box.isChecked()

    def set_running(self, running: bool) -> None:
        """Follow the animation: recording is possible only while it runs."""
        self.record_button.setEnabled(running)
        if not running and self.record_button.isChecked():
            self._set_record_checked(False)

    # ------------------------------------------------------------------ virtual camera

    def set_virtual_camera(self, enabled: bool) -> None:
        """Turn the virtual camera output on or off (now, or when the animation starts)."""
        if self.vcam_box.isChecked() != enabled:
            self.vcam_box.setChecked(enabled)  # toggled calls back here
            return
        if self._session.running:
            self.vcam_label.setText("starting..." if enabled else "off")
            self._session.set_virtual_camera(enabled)
        else:
            self.vcam_label.setText("on when the animation starts" if enabled else "off")

    def _on_virtual_camera_status(self, status: VirtualCameraStatus) -> None:
        self.vcam_label.setText(status.describe() if self.vcam_box.isChecked() else "off")

    # ------------------------------------------------------------------ recording

    def start_recording(self, path: str) -> None:
        """Record the animated output to ``path`` while the animation runs."""
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
