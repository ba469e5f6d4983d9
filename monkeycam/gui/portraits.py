"""Source portraits: the gallery widget and the face-crop preview computed off the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QDragEnterEvent, QDropEvent, QIcon, QImageReader, QKeyEvent, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QMenu, QWidget

from ..face import FaceUnavailable, PortraitDetector, crop_square, portrait_crop_box
from ..io.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_image
from ..paths import assets_dir

PREVIEW_CROP_SIZE = 256
THUMBNAIL_SIZE = 96
PATH_ROLE = Qt.ItemDataRole.UserRole
REMOVE_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)


@dataclass(frozen=True)
class PortraitPreview:
    """A portrait as the window shows it.

    image: the full (H, W, 3) uint8 RGB portrait; crop: the face crop the model animates;
    box: the crop as (x, y, size) in portrait pixels, or None when no face was found (the
    whole image is used); warning: a sentence for the user, or None.
    """

    path: str
    image: np.ndarray
    crop: np.ndarray
    box: tuple[float, float, float] | None
    warning: str | None


def shipped_portraits() -> list[str]:
    """The portraits shipped in ``assets/`` (image files), sorted by name."""
    folder = assets_dir()
    if not folder.is_dir():
        return []
    return sorted(str(p.resolve()) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def is_image_file(path: str) -> bool:
    """Whether ``path`` has an image suffix monkeycam reads."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_video_file(path: str) -> bool:
    """Whether ``path`` has a video suffix monkeycam reads."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class FaceCropper:
    """Reads a portrait and finds its face crop (mediapipe), like the engine does.

    Not thread-safe: create and use it on one worker thread. mediapipe is loaded on first use.
    """

    def __init__(self) -> None:
        self._detector: PortraitDetector | None = None
        self._unavailable: str | None = None

    def preview(self, path: str, crop_scale: float, faces: bool = True) -> PortraitPreview:
        """Read ``path`` (MediaError when it is not a readable image) and crop its face; with
        ``faces`` False (a model that is not of faces) the whole image, as the engine then does."""
        image = read_image(path)
        detector = self._face_detector() if faces else None
        if not faces:
            box, _ = portrait_crop_box(image, None, crop_scale)
            return PortraitPreview(path, image, crop_square(image, box, PREVIEW_CROP_SIZE), None, None)
        box, face_found = portrait_crop_box(image, detector, crop_scale)
        crop = crop_square(image, box, PREVIEW_CROP_SIZE)
        if face_found:
            return PortraitPreview(path, image, crop, (box.x, box.y, box.size), None)
        if detector is None:
            reason = f"face detection is unavailable ({self._unavailable}); the whole image is animated."
        else:
            reason = "no face found; the whole image is animated (choose a portrait with a clear, frontal face)."
        return PortraitPreview(path, image, crop, None, f"{Path(path).name}: {reason}")

    def _face_detector(self) -> PortraitDetector | None:
        """mediapipe's detector, loaded on first use; None when it cannot be loaded."""
        if self._unavailable is None and self._detector is None:
            try:
                self._detector = PortraitDetector()
            except FaceUnavailable as error:
                self._unavailable = str(error)
        return self._detector

    def close(self) -> None:
        """Release mediapipe."""
        if self._detector is not None:
            self._detector.close()
            self._detector = None


def is_readable_image(path: str) -> bool:
    """Whether Qt can decode the image file at ``path`` (checked from its header, not decoded)."""
    return Path(path).is_file() and QImageReader(path).canRead()


def thumbnail(path: str, size: int = THUMBNAIL_SIZE) -> QIcon:
    """A small icon of the image at ``path`` (an empty icon when it cannot be read)."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid():
        reader.setScaledSize(original.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return QIcon(QPixmap.fromImage(image)) if not image.isNull() else QIcon()


class PortraitGallery(QListWidget):
    """The portraits to choose from; accepts image files dropped onto it. The Delete key (or
    Backspace) and the context menu ask to remove a portrait from the list.

    Signals:
        portrait_chosen(path): the user selected a portrait.
        files_dropped(paths): image or video files were dropped here.
        remove_requested(path): the user wants ``path`` off the list (the file is kept).
        add_requested(): the context menu's "Add portrait...".
        unhide_requested(): the context menu's "Show the removed shipped portraits" (offered
            while :attr:`hidden_shipped` is not 0).
    """

    portrait_chosen = Signal(str)
    files_dropped = Signal(list)
    remove_requested = Signal(str)
    add_requested = Signal()
    unhide_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("portrait_gallery")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setWordWrap(True)
        self.currentItemChanged.connect(self._on_current_changed)
        self.hidden_shipped = 0  # how many shipped portraits the user removed (set by the window)

    def paths(self) -> list[str]:
        """Every portrait listed, in order."""
        return [self.item(row).data(PATH_ROLE) for row in range(self.count())]

    def add_portrait(self, path: str) -> None:
        """List ``path`` (once)."""
        if path in self.paths():
            return
        item = QListWidgetItem(thumbnail(path), Path(path).stem)
        item.setData(PATH_ROLE, path)
        item.setToolTip(path)
        self.addItem(item)

    def remove_portrait(self, path: str) -> None:
        """Take ``path`` off the list (nothing happens when it is not listed)."""
        self.blockSignals(True)  # removing the highlighted item moves the highlight: not a choice
        for row in range(self.count()):
            if self.item(row).data(PATH_ROLE) == path:
                self.takeItem(row)
                break
        self.blockSignals(False)

    def select(self, path: str) -> None:
        """Highlight ``path`` without emitting :attr:`portrait_chosen`."""
        self.blockSignals(True)
        for row in range(self.count()):
            if self.item(row).data(PATH_ROLE) == path:
                self.setCurrentRow(row)
                break
        self.blockSignals(False)

    def current_path(self) -> str | None:
        """The highlighted portrait, or None."""
        item = self.currentItem()
        return item.data(PATH_ROLE) if item is not None else None

    def keyPressEvent(self, event: QKeyEvent) -> None:
        path = self.current_path()
        if event.key() in REMOVE_KEYS and path is not None:
            self.remove_requested.emit(path)
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.context_menu(self.itemAt(event.pos())).popup(event.globalPos())

    def context_menu(self, item: QListWidgetItem | None) -> QMenu:
        """The menu for ``item`` (None: the empty space): remove it, or add portraits."""
        menu = QMenu(self)
        if item is not None:
            path = item.data(PATH_ROLE)
            remove = menu.addAction(f"Remove {Path(path).name} from the list")
            remove.setToolTip("The file itself is not deleted")
            remove.triggered.connect(lambda: self.remove_requested.emit(path))
        menu.addAction("Add portrait...").triggered.connect(self.add_requested)
        if self.hidden_shipped:
            menu.addAction(f"Show the removed shipped portraits ({self.hidden_shipped})").triggered.connect(
                self.unhide_requested)
        return menu

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.portrait_chosen.emit(current.data(PATH_ROLE))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            super().dropEvent(event)
