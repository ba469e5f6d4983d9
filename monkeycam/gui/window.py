"""The monkeycam main window: composes the portraits column, the previews, the driving panel
(:mod:`.driving`), the outputs panel (:mod:`.outputs`) and the settings panel (:mod:`.controls`),
and runs the animation through a :class:`Session`."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..io.media import IMAGE_SUFFIXES
from ..live.api import EngineSettings, LiveFrame
from ..paths import default_checkpoint, weights_dir
from .compat import protect_singletons
from .controls import ControlsPanel
from .driving import DrivingPanel
from .images import qimage_from_rgb
from .outputs import OutputsPanel
from .portraits import (
    FaceCropper,
    PortraitGallery,
    PortraitPreview,
    is_image_file,
    is_readable_image,
    is_video_file,
    shipped_portraits,
)
from .session import EngineFactories, EngineInfo, Session, real_engine_factories
from .settings import AppState, SettingsStore
from .views import FrameView, MessageBanner, pose_drawing
from .worker import SerialWorker

STATUS_INTERVAL_MS = 500
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ")"
CHECKPOINT_FILTER = "monkeycam checkpoints (*.safetensors)"
RESET_KEYS = ("R", "Space")
FREEZE_KEY = "F"
PORTRAIT_KEYS = 9  # keys 1..9 pick the first nine portraits
START_STOP_KEYS = ("Ctrl+Return", "Ctrl+Enter")  # window shortcuts: a button's setText would clear its own
REALTIME_FPS = 12.0  # below this many output frames/s a video call stutters visibly
REALTIME_CHECK_FRAMES = 20  # judge the speed only once this many frames were animated


def model_problem(settings: EngineSettings) -> str | None:
    """Why the model in ``settings`` cannot be loaded before even trying, or None.

    The default model is chosen by :func:`monkeycam.paths.default_checkpoint` from the device,
    which the GUI cannot know without importing torch: it checks the model a CUDA machine would
    load for this backend (that is the CPU model whenever the GPU one is not installed). In the
    one case this misses (no CUDA, only the GPU model installed) the engine's error says so.
    """
    if settings.checkpoint:
        if not Path(settings.checkpoint).is_file():
            return f"The checkpoint {settings.checkpoint} does not exist. Choose another checkpoint file."
        return None
    default = default_checkpoint(cuda=True, backend=settings.backend)
    if not default.is_file():
        return (f"No model is installed: the default model {default} is missing. "
                "Choose a checkpoint file (.safetensors) to animate portraits.")
    return None


class MainWindow(QMainWindow):
    """The app window. All engine work happens in :class:`Session`; this class only shows and asks.

    Signals:
        portrait_ready(path): a portrait was read and its face crop is shown.
        frame_shown(): an animated frame reached the preview.
    """

    portrait_ready = Signal(str)
    frame_shown = Signal()

    def __init__(self, store: SettingsStore | None = None, factories: EngineFactories | None = None,
                 parent: QWidget | None = None) -> None:
        protect_singletons()
        super().__init__(parent)
        self.setWindowTitle("monkeycam")
        self.setAcceptDrops(True)
        self._store = store or SettingsStore()
        self._state = self._store.load()
        self._previews: dict[str, PortraitPreview] = {}
        self._category = "face"  # what the loaded model animates (EngineInfo.category)
        self._current: PortraitPreview | None = None
        self._wanted: str | None = None  # the portrait asked for last (its preview may be on its way)
        self._removed: set[str] = set()  # taken off the list: a preview still on its way is dropped
        self._show_keypoints = self._state.show_keypoints
        self._closed = False
        self._speed_checked = False
        self._recording_since: float | None = None  # when the first recorded frame was shown
        self._cropper = FaceCropper()
        self._portrait_worker = SerialWorker("portraits", self)
        self.session = Session(factories or real_engine_factories(), self)
        self._build_ui()
        self._connect()
        self._restore_state()
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self._poll_session)
        self._status_timer.start()
        self.session.find_cameras()
        self._check_model(load=True)
        if self._store.warnings:  # an unusable stored value or an unwritable settings folder
            self.show_message(" ".join(self._store.warnings), "warning")

    # ------------------------------------------------------------------ building

    def _build_ui(self) -> None:
        self.banner = MessageBanner(self)
        self.controls = ControlsPanel(self)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self._build_portrait_column())
        splitter.addWidget(self._build_preview_column())
        splitter.addWidget(self.controls)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 1)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.stats_label = QLabel("stopped", self)
        self.stats_label.setObjectName("stats")
        self.stats_label.setToolTip(
            "Output frames per second; delay from camera capture to the animated frame; camera frames "
            "skipped because a newer one arrived while the model was busy (normal: it keeps the delay low)")
        self.recording_label = QLabel(self)
        self.recording_label.setObjectName("recording")
        self.recording_label.setStyleSheet("QLabel#recording { color: #d01010; font-weight: bold; }")
        self.recording_label.setToolTip("Recording the animated output to a file (press Stop recording to finish)")
        self.recording_label.hide()
        self.statusBar().addPermanentWidget(self.recording_label)
        self.statusBar().addPermanentWidget(self.stats_label)
        self.resize(1280, 760)

    def _build_portrait_column(self) -> QWidget:
        column = QGroupBox("Portrait", self)
        self.gallery = PortraitGallery(column)
        self.add_portrait_button = QPushButton("Add portrait...", column)
        self.add_portrait_button.setToolTip("Open one or more image files, or drop them onto the window. "
                                            "Delete (or right-click) removes the selected portrait from the list")
        self.crop_view = FrameView("Face crop", "Choose a portrait", column)
        self.crop_view.setMinimumSize(140, 140)
        layout = QVBoxLayout(column)
        layout.addWidget(self.gallery, 2)
        layout.addWidget(self.add_portrait_button)
        layout.addWidget(self.crop_view, 1)
        return column

    def _build_preview_column(self) -> QWidget:
        column = QWidget(self)
        self.driving_view = FrameView("Driving", "The driving frame appears here when the animation runs", column)
        self.output_view = FrameView("Animated", "Press Start to animate the portrait", column)
        views = QHBoxLayout()
        views.addWidget(self.driving_view)
        views.addWidget(self.output_view)
        layout = QVBoxLayout(column)
        layout.addLayout(views, 1)
        self.driving = DrivingPanel(self._state.driving_kind, self._state.camera_index, self._state.video_path, column)
        self.outputs = OutputsPanel(self.session, self._state.virtual_camera, column,
                                    inputs=lambda: [self._state.portrait, self.driving.video_path])
        layout.addWidget(self.driving)
        layout.addLayout(self._build_action_row())
        layout.addWidget(self.outputs)
        return column

    def _build_action_row(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start", self)
        self.start_button.setObjectName("start_stop")
        self.start_button.setToolTip("Start or stop the animation (Ctrl+Return)")
        self.reset_button = QPushButton("Reset reference (R)", self)
        self.reset_button.setToolTip("Re-anchor the motion on your current pose (keys R or Space)")
        self.freeze_button = QPushButton(f"Freeze ({FREEZE_KEY})", self)
        self.freeze_button.setCheckable(True)
        self.freeze_button.setToolTip("Hold the current animated frame in the call (and the preview and recording) "
                                      "until you press it again")
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.reset_button)
        row.addWidget(self.freeze_button)
        row.addStretch(1)
        return row

    def _connect(self) -> None:
        self.gallery.portrait_chosen.connect(self.choose_portrait)
        self.gallery.files_dropped.connect(self.open_files)
        self.gallery.remove_requested.connect(self.remove_portrait)
        self.gallery.add_requested.connect(self._ask_for_portrait)
        self.gallery.unhide_requested.connect(self.show_hidden_portraits)
        self.add_portrait_button.clicked.connect(self._ask_for_portrait)
        self.driving.notice.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.outputs.notice.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.start_button.clicked.connect(self.toggle_running)
        self.reset_button.clicked.connect(self.reset_reference)
        for key in RESET_KEYS:
            QShortcut(QKeySequence(key), self, activated=self.reset_reference)
        for key in START_STOP_KEYS:
            QShortcut(QKeySequence(key), self, activated=self.toggle_running)
        self.freeze_button.toggled.connect(self.set_frozen)
        QShortcut(QKeySequence(FREEZE_KEY), self, activated=self.freeze_button.click)
        for number in range(1, PORTRAIT_KEYS + 1):
            QShortcut(QKeySequence(str(number)), self, activated=lambda index=number - 1: self.choose_portrait_number(index))
        self.controls.settings_changed.connect(self._on_settings_changed)
        self.controls.show_keypoints_changed.connect(self._on_show_keypoints_changed)
        self.controls.choose_checkpoint_requested.connect(self._ask_for_checkpoint)
        self.banner.action_clicked.connect(self._ask_for_checkpoint)
        session = self.session
        session.frame_ready.connect(self._show_latest_frame)
        session.engine_ready.connect(self._on_engine_ready)
        session.engine_failed.connect(self._on_engine_failed)
        session.running_changed.connect(self._on_running_changed)
        session.error.connect(self.show_error)
        session.status.connect(lambda text: self.statusBar().showMessage(text, 8000))
        session.cameras_found.connect(self._on_cameras_found)
        session.recording_finished.connect(lambda _message: self._show_recording())

    def _restore_state(self) -> None:
        state = self._state
        if state.geometry:
            self.restoreGeometry(QByteArray(state.geometry))
        self.controls.set_settings(state.engine)
        self.controls.set_show_keypoints(state.show_keypoints)
        still_there = tuple(path for path in state.user_portraits if Path(path).is_file())
        self._state = state = state.updated(user_portraits=still_there)
        for path in [p for p in shipped_portraits() if p not in state.hidden_portraits] + list(still_there):
            self.gallery.add_portrait(path)
        self.gallery.hidden_shipped = len(set(state.hidden_portraits) & set(shipped_portraits()))
        self._update_buttons()
        remembered = state.portrait if state.portrait and Path(state.portrait).is_file() else None
        initial = remembered or (self.gallery.paths() or [None])[0]
        if initial:
            self.choose_portrait(initial)

    # ------------------------------------------------------------------ state access (tests, settings)

    def state(self) -> AppState:
        """The window's settings as they would be saved now (the panels hold the engine settings,
        the driving choice and the virtual camera switch while the window is open)."""
        return self._state.updated(
            engine=self.controls.settings(), show_keypoints=self._show_keypoints,
            virtual_camera=self.outputs.virtual_camera, geometry=bytes(self.saveGeometry().data()),
            **self.driving.saved(),
        )

    def save_settings(self) -> None:
        """Write the settings to the user's config file."""
        self._state = self.state()
        self._store.save(self._state)

    def current_portrait(self) -> PortraitPreview | None:
        """The portrait being animated, or None."""
        return self._current

    # ------------------------------------------------------------------ portraits

    def choose_portrait(self, path: str) -> None:
        """Make ``path`` the source portrait (instant for a portrait seen before)."""
        path = str(Path(path).resolve())  # one gallery entry per file, however it was named
        self._wanted = path
        self._removed.discard(path)
        cached = self._previews.get(path)
        if cached is not None:
            self._apply_portrait(cached)
            return
        crop_scale, faces = self.controls.settings().crop_scale, self._category == "face"
        self._portrait_worker.submit("preview", lambda: self._cropper.preview(path, crop_scale, faces),
                                     self._on_preview_ready, lambda message: self._on_preview_failed(path, message),
                                     supersede=True)

    def choose_portrait_number(self, index: int) -> None:
        """Keys 1..9: switch to the gallery's portrait number ``index`` (from 0), if there is one."""
        paths = self.gallery.paths()
        if 0 <= index < len(paths):
            self.choose_portrait(paths[index])

    def open_files(self, paths: list[str]) -> None:
        """Files opened or dropped: images become portraits, a video becomes the driving input."""
        images = []
        for path in paths:
            if is_video_file(path):
                self.driving.set_video(path)
            elif is_image_file(path):
                images.append(path)
            else:
                self.show_error(f"{Path(path).name} is neither an image nor a video monkeycam can open.")
        if images:
            self.add_portraits(images)

    def add_portraits(self, paths: list[str]) -> None:
        """List every readable image of ``paths`` and animate the first one; unreadable files
        are named in one message."""
        listed, unreadable = [], []
        for path in (str(Path(p).resolve()) for p in paths):
            if is_readable_image(path):
                self._list_portrait(path)
                listed.append(path)
            else:
                unreadable.append(Path(path).name)
        if unreadable:
            self.show_error(f"Could not add {', '.join(unreadable)}: not a readable image.")
        if listed:
            self.choose_portrait(listed[0])

    def remove_portrait(self, path: str) -> None:
        """Take ``path`` off the portrait list (the file stays on disk; a shipped portrait is
        hidden until added again). The portrait in use gives way to its neighbour in the list."""
        paths = self.gallery.paths()
        if path not in paths:
            return
        self.gallery.remove_portrait(path)
        self._previews.pop(path, None)
        state = self._state
        if path in shipped_portraits():
            state = state.updated(hidden_portraits=state.hidden_portraits + (path,))
            self.gallery.hidden_shipped += 1
        self._state = state.updated(user_portraits=tuple(p for p in state.user_portraits if p != path))
        self._removed.add(path)
        self.statusBar().showMessage(f"{Path(path).name} removed from the list (the file is kept).", 6000)
        if path != self._wanted and (self._current is None or self._current.path != path):
            return
        remaining = self.gallery.paths()
        if remaining:
            self.choose_portrait(remaining[min(paths.index(path), len(remaining) - 1)])
        else:
            self._clear_portrait()

    def show_hidden_portraits(self) -> None:
        """List the shipped portraits the user removed again."""
        for path in shipped_portraits():
            if path in self._state.hidden_portraits:
                self._list_portrait(path)
        if self._current is None and self.gallery.paths():
            self.choose_portrait(self.gallery.paths()[0])

    def _clear_portrait(self) -> None:
        """No portrait left: stop, and say how to get one."""
        if self.session.running:
            self.session.stop()
        self._current = self._wanted = None
        self._state = self._state.updated(portrait=None)
        self.crop_view.show_image(None)
        self._update_buttons()

    def _list_portrait(self, path: str) -> None:
        """Show ``path`` in the gallery and remember it (a hidden shipped portrait comes back)."""
        self._removed.discard(path)
        if path in self.gallery.paths():
            return
        self.gallery.add_portrait(path)
        state = self._state
        if path in state.hidden_portraits:
            self._state = state.updated(hidden_portraits=tuple(p for p in state.hidden_portraits if p != path))
            self.gallery.hidden_shipped = max(0, self.gallery.hidden_shipped - 1)
        elif path not in state.user_portraits:
            self._state = state.updated(user_portraits=state.user_portraits + (path,))

    def _ask_for_portrait(self) -> None:
        folder = self._state.portrait_folder
        start = folder if folder and Path(folder).is_dir() else str(Path.home())
        paths, _ = QFileDialog.getOpenFileNames(self, "Add portraits", start, IMAGE_FILTER)
        if paths:
            self._state = self._state.updated(portrait_folder=str(Path(paths[0]).parent))
            self.add_portraits(paths)

    def _on_preview_ready(self, preview: PortraitPreview) -> None:
        if preview.path in self._removed:
            return
        self._previews[preview.path] = preview
        self._apply_portrait(preview)

    def _on_preview_failed(self, path: str, message: str) -> None:
        self.show_error(f"Could not use {Path(path).name} as a portrait: {message}")
        if self._current is not None:
            self.gallery.select(self._current.path)

    def _apply_portrait(self, preview: PortraitPreview) -> None:
        self._current = preview
        self._list_portrait(preview.path)
        self.gallery.select(preview.path)
        self._state = self._state.updated(portrait=preview.path)
        self.crop_view.show_image(qimage_from_rgb(preview.crop))
        if preview.warning:
            self.show_message(preview.warning, "warning")
        elif self.banner.level == "warning":
            self.banner.clear()
        if self.session.running:
            self.session.set_source(preview.image)
        self._update_buttons()
        self.portrait_ready.emit(preview.path)

    # ------------------------------------------------------------------ driving input

    def _on_cameras_found(self, cameras: list) -> None:
        self.driving.set_cameras(cameras, running=self.session.running)

    # ------------------------------------------------------------------ running

    def toggle_running(self) -> None:
        """Start or stop the animation."""
        if self.session.running:
            self.session.stop()
        else:
            self.start()

    def start(self) -> None:
        """Start animating the current portrait (problems are shown in the window)."""
        problem = self._start_problem()
        if problem is not None:
            self.show_message(*problem)
            return
        self.banner.clear()
        self._speed_checked = False
        assert self._current is not None
        self.session.start(self.driving.spec(), self._current.image, self.controls.settings(),
                           self.outputs.virtual_camera)

    def _start_problem(self) -> tuple[str, str, str | None] | None:
        problem = model_problem(self.controls.settings())
        if problem is not None:
            return problem, "error", "Choose checkpoint..."
        if self._current is None:
            return "Choose a portrait first (click one on the left, or add your own).", "info", None
        spec = self.driving.spec()
        if spec.kind == "video" and not (spec.path and Path(spec.path).is_file()):
            return "Choose a driving video file first (or pick scripted motion).", "info", None
        return None

    def reset_reference(self) -> None:
        """Re-anchor relative motion on the next driving frame."""
        if self.session.running:
            self.session.reset_reference()
            self.statusBar().showMessage("Reference reset: your current pose is the new neutral pose.", 4000)

    def set_frozen(self, frozen: bool) -> None:
        """Hold the animated frame the call sees (while running), or follow the motion again."""
        if self.freeze_button.isChecked() != frozen:
            self.freeze_button.setChecked(frozen)  # toggled calls back here
            return
        if self.session.running:
            self.session.set_frozen(frozen)
            self.statusBar().showMessage("Frozen: the call sees this frame." if frozen else "Unfrozen.", 4000)

    def _on_running_changed(self, running: bool) -> None:
        if not running:
            self.stats_label.setText("stopped")
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.session.running
        self.start_button.setText("Stop" if running else "Start")
        self.reset_button.setEnabled(running)
        self.freeze_button.setEnabled(running)
        if not running and self.freeze_button.isChecked():
            self.freeze_button.blockSignals(True)  # a new start is never frozen
            self.freeze_button.setChecked(False)
            self.freeze_button.blockSignals(False)
        self.outputs.set_running(running)
        for widget in (self.controls.choose_checkpoint_button, self.controls.default_checkpoint_button,
                       self.controls.backend_combo, self.driving):
            widget.setEnabled(not running)

    def _poll_session(self) -> None:
        self.session.poll()
        self._show_recording()

    def _show_recording(self) -> None:
        """The red dot with the time recorded so far (from the first frame written), while a
        recording is on or armed."""
        if not self.session.recording:
            self._recording_since = None
            self.recording_label.hide()
            return
        if self._recording_since is None:
            text = "\u25cf REC: starts with the animation" if not self.session.running else "\u25cf REC 0:00"
        else:
            seconds = int(time.monotonic() - self._recording_since)
            text = f"\u25cf REC {seconds // 60}:{seconds % 60:02d}"
        self.recording_label.setText(text)
        self.recording_label.show()

    # ------------------------------------------------------------------ frames

    def _show_latest_frame(self) -> None:
        frame = self.session.take_frame()
        if frame is None or not self.session.running:
            return
        self._show_driving(frame)
        animated = frame.animated
        keypoints = animated.keypoints if self._show_keypoints else None
        self.output_view.show_image(qimage_from_rgb(animated.image), keypoints=keypoints)
        self._show_stats(frame)
        self._check_speed(frame)
        if self.session.recording and self._recording_since is None:
            self._recording_since = time.monotonic()
            self._show_recording()
        self.frame_shown.emit()

    def _show_driving(self, frame: LiveFrame) -> None:
        if frame.driving is None:  # scripted motion: draw the head pose being copied
            self.driving_view.show_image(pose_drawing(frame.pose) if frame.pose is not None else None)
            self.driving_view.set_placeholder("Scripted motion: the head movement is generated, no camera frame.")
            return
        # the engine tracks the face in the frame it animates (flipped with mirror on), and its
        # box is in that frame's pixels: show that same frame, as a mirror (selfie) view does
        driving = frame.driving[:, ::-1] if self.controls.settings().mirror else frame.driving
        self.driving_view.show_image(qimage_from_rgb(driving), box=frame.animated.driving_box)
        if not frame.animated.face_found and self._category == "face":
            self.statusBar().showMessage("No face in the driving frame: look at the camera.", 2000)

    def _show_stats(self, frame: LiveFrame) -> None:
        stats = frame.stats
        self.stats_label.setText(f"{stats.fps:.1f} frames/s | latency {stats.latency_ms:.0f} ms | "
                                 f"skipped {stats.dropped} | {stats.backend or 'backend ?'}")

    def _check_speed(self, frame: LiveFrame) -> None:
        """Once per start: say so when the model cannot keep up with a call on this machine."""
        stats = frame.stats
        if self._speed_checked or stats.processed < REALTIME_CHECK_FRAMES or stats.fps <= 0:
            return
        self._speed_checked = True
        if stats.fps < REALTIME_FPS:
            self.show_message(
                f"This model is too slow for a call here: {stats.fps:.1f} frames/s, "
                f"{stats.latency_ms:.0f} ms delay. Use \"Use default\" (backend auto picks the model "
                "that runs in real time on this machine) or a smaller checkpoint.", "warning")

    # ------------------------------------------------------------------ model

    def _check_model(self, load: bool) -> bool:
        problem = model_problem(self.controls.settings())
        if problem is not None:
            self.show_message(problem, "error", "Choose checkpoint...")
            self.controls.show_backend_in_use("in use: no model loaded")
            return False
        if self.banner.action_button.text() == "Choose checkpoint...":
            self.banner.clear()
        if load:
            self.controls.show_backend_in_use("in use: loading the model...")
            self.session.load_engine(self.controls.settings())
        return True

    def _ask_for_checkpoint(self) -> None:
        start = self.controls.settings().checkpoint or str(weights_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a monkeycam checkpoint", start, CHECKPOINT_FILTER)
        if path:
            self.controls.set_checkpoint(path)

    def _on_settings_changed(self, settings: EngineSettings, previous: EngineSettings) -> None:
        if settings.needs_reload(previous):
            self._check_model(load=True)
        else:
            self.session.update_settings(settings)

    def _on_show_keypoints_changed(self, enabled: bool) -> None:
        self._show_keypoints = enabled

    def _on_engine_ready(self, info: EngineInfo) -> None:
        self.controls.show_backend_in_use(f"in use: {info.backend}", info.reason)
        changed, self._category = info.category != self._category, info.category
        self.crop_view.set_title("Face crop" if info.category == "face" else f"Source ({info.category}, whole image)")
        wanted = self._wanted or (self._current.path if self._current is not None else None)
        if changed and wanted is not None:  # its preview was (being) cropped for the other kind of model
            self._previews.clear()
            self.choose_portrait(wanted)

    def _on_engine_failed(self, message: str) -> None:
        self.controls.show_backend_in_use("in use: no model loaded")
        self.show_message(f"The model could not be loaded or run: {message}", "error", "Choose checkpoint...")

    # ------------------------------------------------------------------ messages

    def show_error(self, message: str) -> None:
        """Say what went wrong, in the window; the app keeps running."""
        self.show_message(message, "error")

    def show_message(self, message: str, level: str = "info", action: str | None = None) -> None:
        """Show ``message`` in the banner at the top of the window."""
        self.banner.show_message(message, level, action)

    # ------------------------------------------------------------------ drag and drop, closing

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_files(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            super().closeEvent(event)
            return
        self._closed = True
        self._status_timer.stop()
        self.save_settings()
        self.session.shutdown()
        self._portrait_worker.shutdown(final=self._cropper.close)
        super().closeEvent(event)
