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
from tests.test_gui_window import FRAME_TIMEOUT_MS, checkpoint, make_window  # noqa: F401  (fixtures)


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
