"""Issue 11's rough edges in the real window: removing portraits, adding several at once,
recording armed before Start, the scripted pose drawn, the driving box under mirroring.
Fixtures come from tests/test_gui_window.py (offscreen, isolated settings)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from monkeycam.gui.portraits import shipped_portraits
from monkeycam.paths import assets_dir
from tests import test_gui_window as window_tests
from tests.test_gui_window import FRAME_TIMEOUT_MS

checkpoint = window_tests.checkpoint  # the fixtures the window tests use
make_window = window_tests.make_window


def copies(folder: Path, count: int) -> list[str]:
    """``count`` copies of a shipped portrait in ``folder`` (user files the test may lose)."""
    folder.mkdir(exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"mine{index}.png"
        shutil.copy(assets_dir() / "portrait_ada.png", path)
        paths.append(str(path.resolve()))
    return paths


def test_portraits_are_removed_with_delete_and_the_context_menu_and_stay_removed(qtbot, make_window, tmp_path):
    window = make_window(fake_engine=True)
    first, second = copies(tmp_path / "pictures", 2)
    junk = tmp_path / "pictures" / "notes.png"
    junk.write_text("not an image")
    with qtbot.waitSignal(window.portrait_ready, timeout=FRAME_TIMEOUT_MS):
        window.add_portraits([first, str(junk), second])  # several files at once
    assert window.current_portrait().path == first
    assert first in window.gallery.paths() and second in window.gallery.paths()
    assert str(junk) not in window.gallery.paths() and "notes.png" in window.banner.text()

    # Delete on the selected portrait (the one in use): gone from the list, file kept, neighbour used
    window.gallery.setFocus()
    with qtbot.waitSignal(window.portrait_ready, timeout=FRAME_TIMEOUT_MS):
        qtbot.keyClick(window.gallery, Qt.Key.Key_Delete)
    assert first not in window.gallery.paths() and Path(first).is_file()
    assert window.current_portrait().path == second

    # the context menu of a shipped portrait: off the list, not off the disk
    shipped = shipped_portraits()[0]
    item = window.gallery.item(window.gallery.paths().index(shipped))
    menu = window.gallery.context_menu(item)
    remove = next(action for action in menu.actions() if action.text().startswith("Remove"))
    remove.trigger()
    assert shipped not in window.gallery.paths() and Path(shipped).is_file()
    assert window.current_portrait().path == second  # removing another portrait does not switch

    window.close()  # saves the settings
    again = make_window(stored=True)
    assert first not in again.gallery.paths() and shipped not in again.gallery.paths()
    assert second in again.gallery.paths()
    assert again.current_portrait().path == second
    # the shipped one can come back from the menu
    menu = again.gallery.context_menu(None)
    unhide = next(action for action in menu.actions() if action.text().startswith("Show the removed shipped"))
    unhide.trigger()
    assert shipped in again.gallery.paths()
    assert not any(a.text().startswith("Show the removed") for a in again.gallery.context_menu(None).actions())


def test_removing_the_last_portrait_stops_and_asks_for_one(qtbot, make_window):
    window = make_window(fake_engine=True)
    window.driving.set_scripted()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output_view.frames_shown >= 1, timeout=FRAME_TIMEOUT_MS)
    for path in window.gallery.paths():
        window.remove_portrait(path)
    assert window.gallery.paths() == [] and window.current_portrait() is None
    qtbot.waitUntil(lambda: not window.session.running and not window.session.busy, timeout=FRAME_TIMEOUT_MS)
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    assert not window.session.running and "Choose a portrait first" in window.banner.text()


def test_add_portrait_takes_several_files_and_remembers_the_folder(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window(fake_engine=True)
    pictures = copies(tmp_path / "pictures", 3)
    opened_in: list[str] = []

    def dialog(parent, caption, folder, filters):  # the user picks three files in the dialog
        opened_in.append(folder)
        return pictures, filters

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(dialog))
    with qtbot.waitSignal(window.portrait_ready, timeout=FRAME_TIMEOUT_MS):
        qtbot.mouseClick(window.add_portrait_button, Qt.MouseButton.LeftButton)
    assert all(path in window.gallery.paths() for path in pictures)
    assert window.current_portrait().path == pictures[0]
    assert opened_in == [str(Path.home())]
    window.close()
    again = make_window(stored=True)
    qtbot.mouseClick(again.add_portrait_button, Qt.MouseButton.LeftButton)
    assert opened_in[-1] == str(tmp_path / "pictures")  # the last folder, after a restart
    assert all(path in again.gallery.paths() for path in pictures)


@pytest.fixture(scope="module")
def face_on_the_left(tmp_path_factory) -> str:
    """A 320x160 video: the portrait's face in the left half, plain grey on the right (1.2 s)."""
    import cv2
    import numpy as np

    from monkeycam.io import VideoWriter, read_image

    face = cv2.resize(read_image(assets_dir() / "portrait_bram.png"), (160, 160), interpolation=cv2.INTER_AREA)
    frame = np.full((160, 320, 3), 128, np.uint8)
    frame[:, :160] = face
    path = tmp_path_factory.mktemp("video") / "left.mp4"
    with VideoWriter(path, fps=25) as writer:
        for _ in range(30):
            writer.write(frame)
    return str(path)


@pytest.mark.parametrize("mirror", [False, True])
def test_the_driving_face_box_lands_on_the_face_in_the_preview(qtbot, make_window, face_on_the_left, mirror):
    import numpy as np

    from monkeycam.gui.images import rgb_from_qimage

    window = make_window()
    window.controls.mirror_box.setChecked(mirror)
    window.driving.set_video(face_on_the_left)
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.driving_view.frames_shown >= 3 and window.driving_view.box() is not None,
                    timeout=FRAME_TIMEOUT_MS)
    shown = rgb_from_qimage(window.driving_view.image()).astype(int)
    x, _, size = window.driving_view.box()
    centre = x + size / 2
    # where the face is in the picture shown: the half that is not flat grey
    face_columns = np.flatnonzero(np.abs(shown - 128).max(axis=(0, 2)) > 40)
    face_centre = (face_columns.min() + face_columns.max()) / 2
    assert (face_centre > 160) == mirror  # the preview is a mirror view with mirror on
    assert abs(centre - face_centre) < 40, f"box centre {centre:.0f}, face centre {face_centre:.0f}"
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.session.busy, timeout=FRAME_TIMEOUT_MS)


PAPER_TERMS = ("Eq.", "Sec.", "covariance", "ellipse", "heatmap", "Jacobian", "keypoint")


def test_labels_and_tooltips_say_what_the_user_sees(qtbot, make_window):
    from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QWidget

    window = make_window(fake_engine=True)
    texts = []
    for widget in window.findChildren(QWidget):
        texts.append(widget.toolTip())
        if isinstance(widget, (QAbstractButton, QLabel)):
            texts.append(widget.text())
        if isinstance(widget, QGroupBox):
            texts.append(widget.title())
    offending = [text for text in texts if any(term.lower() in text.lower() for term in PAPER_TERMS)]
    assert not offending, offending
    # next to the transfer switch: what absolute transfer does to the portrait
    hint = window.controls.mode_hint
    assert "keeps the portrait's own face" in hint.text().lower()
    window.controls.absolute_button.setChecked(True)
    assert "reshapes the portrait into the driving face" in hint.text().lower() and hint.isVisible()
    window.controls.relative_button.setChecked(True)
    assert "keeps the portrait's own face" in hint.text().lower()


def test_record_armed_before_start_records_from_the_first_frame_with_a_red_dot(qtbot, make_window, tmp_path):
    import re

    from monkeycam.io import probe_video

    window = make_window(fake_engine=True)
    window.driving.set_scripted()
    assert window.outputs.record_button.isEnabled() and not window.session.running
    target = tmp_path / "take.mp4"
    window.outputs.start_recording(str(target))
    assert window.outputs.record_button.isChecked()
    qtbot.waitUntil(lambda: window.recording_label.isVisible(), timeout=FRAME_TIMEOUT_MS)
    assert "starts with the animation" in window.recording_label.text()
    window.choose_portrait(window.gallery.paths()[1])  # other clicks do not disarm it
    qtbot.wait(50)
    assert window.outputs.record_button.isChecked()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: re.fullmatch(r"\u25cf REC 0:0[1-9]", window.recording_label.text()) is not None,
                    timeout=FRAME_TIMEOUT_MS)  # the elapsed time counts up
    with qtbot.waitSignal(window.session.recording_finished, timeout=FRAME_TIMEOUT_MS) as finished:
        qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)  # Stop ends the recording
    assert finished.args == [f"Recording saved to {target}"]
    assert not window.recording_label.isVisible() and not window.outputs.record_button.isChecked()
    info = probe_video(target)
    assert info.frame_count >= 25  # at least a second of animation, from the first frame on


def test_a_recording_armed_and_cancelled_before_start_writes_nothing(qtbot, make_window, tmp_path):
    window = make_window(fake_engine=True)
    window.driving.set_scripted()
    target = tmp_path / "never.mp4"
    window.outputs.start_recording(str(target))
    with qtbot.waitSignal(window.session.recording_finished, timeout=FRAME_TIMEOUT_MS) as finished:
        window.outputs.record_button.setChecked(False)
    assert finished.args == ["Nothing was recorded."]
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output_view.frames_shown >= 3, timeout=FRAME_TIMEOUT_MS)
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.session.busy, timeout=FRAME_TIMEOUT_MS)
    assert not target.exists() and not list(tmp_path.glob(".never*"))
    assert not window.recording_label.isVisible()


def test_the_scripted_pose_is_drawn_as_a_face_that_moves_with_it(qtbot):
    import numpy as np

    from monkeycam.gui.images import rgb_from_qimage
    from monkeycam.gui.views import pose_drawing
    from monkeycam.live.api import HeadPose

    def parts(pose: HeadPose) -> tuple[float, float, int]:
        """(face centre x, y, open-mouth pixels) of the drawing."""
        pixels = rgb_from_qimage(pose_drawing(pose, 256)).astype(int)
        skin = np.argwhere((pixels[..., 0] > 180) & (pixels[..., 1] > 150))
        mouth = int(((pixels[..., 0] > 90) & (pixels[..., 1] < 60) & (pixels[..., 2] < 70)).sum())
        return float(skin[:, 1].mean()), float(skin[:, 0].mean()), mouth

    x0, y0, closed = parts(HeadPose())
    assert abs(x0 - 128) < 3 and abs(y0 - 128) < 6
    x, y, _ = parts(HeadPose(yaw=0.1, pitch=-0.05))
    assert x - x0 == pytest.approx(25.6, abs=4) and y - y0 == pytest.approx(-12.8, abs=4)
    assert parts(HeadPose(mouth=1.0))[2] > 4 * closed  # the mouth opens
    tilted = rgb_from_qimage(pose_drawing(HeadPose(roll=0.3))).astype(int)
    straight = rgb_from_qimage(pose_drawing(HeadPose())).astype(int)
    assert np.abs(tilted - straight).max() > 100


def test_scripted_motion_shows_the_drawn_pose_in_the_driving_pane(qtbot, make_window):
    import numpy as np

    from monkeycam.gui.images import rgb_from_qimage

    window = make_window(fake_engine=True)
    window.driving.set_scripted()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.driving_view.image() is not None, timeout=FRAME_TIMEOUT_MS)
    first = rgb_from_qimage(window.driving_view.image())
    qtbot.waitUntil(lambda: not np.array_equal(rgb_from_qimage(window.driving_view.image()), first),
                    timeout=FRAME_TIMEOUT_MS)  # the drawn head moves with the scripted motion
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.session.busy, timeout=FRAME_TIMEOUT_MS)


def test_an_armed_recording_that_cannot_start_is_said_and_the_red_dot_goes(qtbot, make_window, tmp_path):
    window = make_window(fake_engine=True)
    window.driving.set_scripted()
    folder = tmp_path / "later"
    folder.mkdir()
    window.outputs.start_recording(str(folder / "take.mp4"))
    qtbot.waitUntil(lambda: not window.session.busy, timeout=FRAME_TIMEOUT_MS)
    folder.rmdir()  # the folder is gone by the time the animation starts
    with qtbot.waitSignal(window.session.recording_finished, timeout=FRAME_TIMEOUT_MS) as finished:
        qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].startswith("Recording failed: ") and "later" in finished.args[0]
    assert window.session.running and not window.outputs.record_button.isChecked()
    qtbot.waitUntil(lambda: not window.recording_label.isVisible(), timeout=FRAME_TIMEOUT_MS)
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.session.busy, timeout=FRAME_TIMEOUT_MS)
