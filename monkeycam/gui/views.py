"""Small display widgets: a frame view with overlays, and the message banner."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from ..live.api import HeadPose, KeypointOverlay
from .images import keypoint_colour

Box = tuple[float, float, float]  # x, y, size in image pixels
ELLIPSE_ALPHA = 190  # covariance outlines are slightly see-through; the means are solid
POSE_DRAWING_SIZE = 256
BANNER_COLOURS: Mapping[str, str] = MappingProxyType({"error": "#f8d7da", "warning": "#fff3cd", "info": "#d1ecf1"})


class FrameView(QWidget):
    """Shows one image scaled to fit, with an optional square box and keypoint ellipses.

    Overlays are drawn at screen resolution on top of the scaled image, so they stay sharp
    even for a 64x64 model output. With no image, ``placeholder`` text is shown.
    """

    def __init__(self, title: str, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(title)
        self._title = title
        self._placeholder = placeholder
        self._image: QImage | None = None
        self._box: Box | None = None
        self._keypoints: KeypointOverlay | None = None
        self._frames_shown = 0
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def frames_shown(self) -> int:
        """How many images :meth:`show_image` has displayed."""
        return self._frames_shown

    def image(self) -> QImage | None:
        """The image shown now (without overlays), or None."""
        return self._image

    def box(self) -> Box | None:
        """The square box drawn now, as (x, y, size) in image pixels, or None."""
        return self._box

    def keypoints(self) -> KeypointOverlay | None:
        """The keypoints drawn now, or None."""
        return self._keypoints

    def show_image(self, image: QImage | None, box: Box | None = None, keypoints: KeypointOverlay | None = None) -> None:
        """Display ``image`` with an optional crop ``box`` and ``keypoints`` overlay."""
        self._image, self._box, self._keypoints = image, box, keypoints
        if image is not None:
            self._frames_shown += 1
        self.update()

    def title(self) -> str:
        return self._title

    def set_title(self, text: str) -> None:
        """The label drawn at the top left."""
        self._title = text
        self.update()

    def set_placeholder(self, text: str) -> None:
        """The text shown when there is no image."""
        self._placeholder = text
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor(28, 28, 32))
        if self._image is None or self._image.isNull():
            self._paint_placeholder(painter)
        else:
            target = self._target_rect()
            painter.drawImage(target, self._image)
            scale = target.width() / self._image.width()
            if self._box is not None:
                self._paint_box(painter, target, scale)
            if self._keypoints is not None:
                self._paint_keypoints(painter, target, scale)
        self._paint_title(painter)
        painter.end()

    def _target_rect(self) -> QRectF:
        assert self._image is not None
        scale = min(self.width() / self._image.width(), self.height() / self._image.height())
        width, height = self._image.width() * scale, self._image.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def _paint_placeholder(self, painter: QPainter) -> None:
        painter.setPen(QColor(170, 170, 180))
        painter.drawText(self.rect().adjusted(12, 12, -12, -12), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         self._placeholder)

    def _paint_title(self, painter: QPainter) -> None:
        painter.setPen(QColor(235, 235, 240))
        painter.drawText(QRectF(8, 4, self.width() - 16, 20), Qt.AlignmentFlag.AlignLeft, self._title)

    def _paint_box(self, painter: QPainter, target: QRectF, scale: float) -> None:
        x, y, size = self._box  # type: ignore[misc]
        painter.setPen(QPen(QColor(80, 220, 120), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(target.x() + x * scale, target.y() + y * scale, size * scale, size * scale))

    def _paint_keypoints(self, painter: QPainter, target: QRectF, scale: float) -> None:
        shapes = self._keypoints.ellipses()  # type: ignore[union-attr]
        for index, shape in enumerate(shapes):
            colour = keypoint_colour(index, len(shapes))
            outline = QColor(colour)
            outline.setAlpha(ELLIPSE_ALPHA)
            painter.save()
            painter.translate(target.x() + shape.x * scale, target.y() + shape.y * scale)
            painter.rotate(shape.angle_deg)
            painter.setPen(QPen(outline, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(0, 0), shape.radius_major * scale, shape.radius_minor * scale)
            painter.setPen(QPen(QColor(0, 0, 0), 1.0))
            painter.setBrush(colour)
            painter.drawEllipse(QPointF(0, 0), 3.0, 3.0)
            painter.restore()


def pose_drawing(pose: HeadPose, size: int = POSE_DRAWING_SIZE) -> QImage:
    """A simple face drawn in the pose scripted motion copies: shifted by yaw and pitch, turned
    by roll, scaled, its features moved towards the turn and its mouth opened. (size, size) RGB.

    The head moves as the portrait's keypoints do (:func:`monkeycam.engine.engine.posed_keypoints`:
    a yaw or pitch of 0.5 shifts by half the picture), so the drawing follows what is copied.
    """
    image = QImage(size, size, QImage.Format.Format_RGB888)
    image.fill(QColor(40, 44, 52))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.translate(size / 2 + pose.yaw * size, size / 2 + pose.pitch * size)
    painter.rotate(math.degrees(pose.roll))
    painter.scale(pose.scale * size / 256, pose.scale * size / 256)
    _paint_face(painter, turn=max(-1.0, min(1.0, 4.0 * pose.yaw)), nod=max(-1.0, min(1.0, 4.0 * pose.pitch)),
                mouth=max(0.0, min(1.0, pose.mouth)))
    painter.end()
    return image


def _paint_face(painter: QPainter, turn: float, nod: float, mouth: float) -> None:
    """A face about (0, 0) in a 256-unit picture; ``turn`` and ``nod`` (-1 .. 1) move the
    features towards the side the head turns to, ``mouth`` (0 .. 1) opens the mouth."""
    painter.setPen(QPen(QColor(60, 40, 30), 3))
    painter.setBrush(QColor(232, 190, 160))
    painter.drawEllipse(QPointF(0, 0), 70, 90)
    dx, dy = 22 * turn, 14 * nod  # the features slide towards the turn: a head seen turning
    painter.setBrush(QColor(40, 40, 48))
    for side in (-1, 1):
        painter.drawEllipse(QPointF(dx + side * 28, dy - 22), 9, 6)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawLine(QPointF(dx * 1.3, dy - 8), QPointF(dx * 1.3 + 6 * turn, dy + 14))
    painter.setBrush(QColor(120, 30, 40))
    painter.drawEllipse(QPointF(dx, dy + 44 + 6 * mouth), 20, 3 + 17 * mouth)


class MessageBanner(QFrame):
    """A strip at the top of the window that says what went wrong (or needs doing), in words.

    ``level`` is "error", "warning" or "info". An optional action button (e.g. "Choose
    checkpoint...") emits :attr:`action_clicked`.
    """

    action_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("message_banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._level = ""
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton(self)
        self.action_button.clicked.connect(self.action_clicked)
        self.close_button = QPushButton("Dismiss", self)
        self.close_button.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.hide()

    @property
    def level(self) -> str:
        """The level of the message shown, or "" when hidden."""
        return self._level if self.isVisibleTo(self.parentWidget()) else ""

    def text(self) -> str:
        """The message shown, or "" when hidden."""
        return self.label.text() if self.level else ""

    def show_message(self, text: str, level: str = "error", action: str | None = None) -> None:
        """Show ``text``; ``action`` labels the optional action button."""
        self._level = level
        self.label.setText(text)
        self.setStyleSheet(f"QFrame#message_banner {{ background: {BANNER_COLOURS.get(level, '#eeeeee')}; }}"
                           "QLabel { color: #202020; }")
        self.action_button.setVisible(action is not None)
        self.action_button.setText(action or "")
        self.show()

    def clear(self) -> None:
        """Hide the banner."""
        self._level = ""
        self.hide()
