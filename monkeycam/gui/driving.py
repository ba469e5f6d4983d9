"""The driving panel: where the motion comes from (a camera found, scripted motion or a video file).

It holds the driving choice while the window is open (the saved :class:`AppState` takes it
from :meth:`DrivingPanel.saved`) and knows nothing of the engine.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from ..io.media import VIDEO_SUFFIXES
from ..live.api import DrivingSpec
from .session import CameraChoice

VIDEO_FILTER = "Videos (" + " ".join(f"*{s}" for s in VIDEO_SUFFIXES) + ")"


def driving_key(kind: str, camera_index: int = 0) -> str:
    """The driving picker's item data: "camera:N", "scripted" or "video"."""
    return f"camera:{camera_index}" if kind == "camera" else kind


def parse_driving_key(key: str) -> tuple[str, int]:
    """(kind, camera index) from :func:`driving_key`'s text."""
    kind, _, index = key.partition(":")
    return kind, int(index) if index else 0


class DrivingPanel(QWidget):
    """The driving-input row: a picker (cameras, scripted motion, video file) and the video chosen.

    Args:
        kind, camera_index, video_path: the remembered choice.

    Signals:
        notice(message): something to tell the user (e.g. the remembered camera is gone).
    """

    notice = Signal(str)

    def __init__(self, kind: str, camera_index: int, video_path: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind, self.camera_index, self.video_path = kind, camera_index, video_path
        self.cameras: list[CameraChoice] | None = None  # None until the cameras have been listed
        self.combo = QComboBox(self)
        self.combo.setObjectName("driving_input")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(18)
        self.video_label = QLabel(self)
        self.choose_video_button = QPushButton("Choose video...", self)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Driving input:", self))
        row.addWidget(self.combo, 1)
        row.addWidget(self.video_label, 1)
        row.addWidget(self.choose_video_button)
        self.combo.currentIndexChanged.connect(self._on_changed)
        self.choose_video_button.clicked.connect(self._ask_for_video)
        self._fill()

    # ------------------------------------------------------------------ the choice

    def spec(self) -> DrivingSpec:
        """The driving input chosen now."""
        return DrivingSpec(kind=self.kind, camera_index=self.camera_index, path=self.video_path)  # type: ignore[arg-type]

    def saved(self) -> dict[str, object]:
        """The choice as :class:`AppState` fields (driving_kind, camera_index, video_path)."""
        return {"driving_kind": self.kind, "camera_index": self.camera_index, "video_path": self.video_path}

    def set_video(self, path: str) -> None:
        """Drive the animation with the video file ``path`` (looped)."""
        self.kind, self.video_path = "video", path
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(driving_key("video")))
        self.combo.blockSignals(False)
        self._show_video_choice()

    def set_scripted(self) -> None:
        """Drive the animation with the built-in scripted head motion."""
        self.kind = "scripted"
        self.combo.setCurrentIndex(self.combo.findData(driving_key("scripted")))

    def set_cameras(self, cameras: list[CameraChoice], running: bool) -> None:
        """The cameras found; a remembered camera that is gone gives way to scripted motion
        (said through :attr:`notice` unless the animation is ``running``)."""
        self.cameras = list(cameras)
        if self.kind == "camera" and all(camera.index != self.camera_index for camera in self.cameras):
            self.kind = "scripted"
            if not running:
                self.notice.emit(f"Camera {self.camera_index} is not connected: scripted motion is selected instead.")
        self._fill()

    # ------------------------------------------------------------------ the picker

    def _fill(self) -> None:
        combo = self.combo
        combo.blockSignals(True)
        combo.clear()
        if self.cameras is None:
            combo.addItem("Looking for cameras...", "")
            if self.kind == "camera":  # the remembered one, until the list is known
                combo.addItem(f"Camera {self.camera_index}", driving_key("camera", self.camera_index))
        elif not self.cameras:
            combo.addItem("No camera found: use scripted motion or a video", "")
        for camera in self.cameras or []:
            combo.addItem(camera.name, driving_key("camera", camera.index))
        combo.addItem("Scripted motion (no camera needed)", driving_key("scripted"))
        combo.addItem("Video file", driving_key("video"))
        self._disable_placeholder_items()
        combo.setCurrentIndex(self._chosen_index())
        combo.blockSignals(False)
        self._show_video_choice()

    def _disable_placeholder_items(self) -> None:
        model = self.combo.model()
        for row in range(self.combo.count()):
            if not self.combo.itemData(row):
                model.item(row).setEnabled(False)

    def _chosen_index(self) -> int:
        index = self.combo.findData(driving_key(self.kind, self.camera_index))
        if index < 0:  # the remembered camera is gone (or not listed yet): scripted motion
            index = self.combo.findData(driving_key("scripted"))
        return index

    def _on_changed(self, _index: int) -> None:
        data = self.combo.currentData()
        if not data:
            return
        self.kind, camera = parse_driving_key(data)
        if self.kind == "camera":
            self.camera_index = camera
        self._show_video_choice()
        if self.kind == "video" and not self.video_path:
            self._ask_for_video()

    def _show_video_choice(self) -> None:
        is_video = self.kind == "video"
        self.video_label.setVisible(is_video)
        self.choose_video_button.setVisible(is_video)
        self.video_label.setText(Path(self.video_path).name if self.video_path else "no video chosen")
        self.video_label.setToolTip(self.video_path or "")

    def _ask_for_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a driving video", str(Path.home()), VIDEO_FILTER)
        if path:
            self.set_video(path)
