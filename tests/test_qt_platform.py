"""The app's one line when Qt cannot open a window (gui/qt_platform.py): no display, missing X11
libraries with the packages to install, and OpenCV's Qt 5 plugin folder kept away from PySide6."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from monkeycam.gui.qt_platform import APT_LINE, check_qt_platform, install_command, missing_libraries

ROOT = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's X11 plugin is Linux's")


@linux_only
def test_no_display_is_one_line_naming_xvfb_run_and_exit_1(tmp_path):
    environ = {key: value for key, value in os.environ.items()
               if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    environ.update(PYTHONPATH=str(ROOT), MONKEYCAM_CONFIG_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("monkeycam app: error: no display") and "xvfb-run" in lines[0]


@linux_only
def test_a_display_with_no_x_server_is_said_in_one_line(tmp_path):
    message = check_qt_platform({"DISPLAY": ":987"}, tmp_path)
    assert message is not None and "no X server answers on the display :987" in message and "xvfb-run" in message
    assert check_qt_platform({"DISPLAY": "somehost:0"}, tmp_path) is None  # remote: Qt judges


@pytest.fixture
def plugin_missing_a_library(tmp_path) -> Path:
    """A real shared library linked against one that is then deleted, standing in for libqxcb.so."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the test library")
    (tmp_path / "gone.c").write_text("int gone(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int gone(void);\nint plugin(void) { return gone(); }\n")
    gone = tmp_path / "libmonkeycam-gone.so.1"
    platforms = tmp_path / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libmonkeycam-gone.so.1", "-o", str(gone),
                    str(tmp_path / "gone.c")], check=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(platforms / "libqxcb.so"), str(tmp_path / "plugin.c"),
                    str(gone)], check=True)
    gone.unlink()
    return tmp_path / "plugins"


@linux_only
def test_a_missing_library_of_the_x11_plugin_is_named_with_what_to_install(plugin_missing_a_library):
    plugin = plugin_missing_a_library / "platforms" / "libqxcb.so"
    assert missing_libraries(plugin) == ["libmonkeycam-gone.so.1"]
    message = check_qt_platform({"DISPLAY": "remote:0"}, plugin_missing_a_library)
    assert message is not None and "\n" not in message
    assert "libmonkeycam-gone.so.1" in message and APT_LINE in message  # unknown to us: the whole line
    assert check_qt_platform({"DISPLAY": "remote:0", "QT_QPA_PLATFORM": "offscreen"}, plugin_missing_a_library) is None
    assert check_qt_platform({"DISPLAY": "remote:0", "WAYLAND_DISPLAY": "wayland-0"}, plugin_missing_a_library) is None


def test_known_libraries_map_to_their_packages():
    assert install_command(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"]) == (
        "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0")
    assert install_command(["libsomething-else.so.2"]) == APT_LINE


def test_opencvs_plugin_folder_is_dropped_and_others_are_kept(tmp_path):
    opencv = {"QT_QPA_PLATFORM_PLUGIN_PATH": "/venv/site-packages/cv2/qt/plugins",
              "QT_QPA_FONTDIR": "/venv/site-packages/cv2/qt/fonts", "QT_QPA_PLATFORM": "offscreen"}
    check_qt_platform(opencv, tmp_path)
    assert "QT_QPA_PLATFORM_PLUGIN_PATH" not in opencv and "QT_QPA_FONTDIR" not in opencv
    mine = {"QT_QPA_PLATFORM_PLUGIN_PATH": "/opt/qt/plugins", "QT_QPA_PLATFORM": "offscreen"}
    check_qt_platform(mine, tmp_path)
    assert mine["QT_QPA_PLATFORM_PLUGIN_PATH"] == "/opt/qt/plugins"


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX signals")
def test_sigterm_closes_the_running_app_and_saves_its_settings(tmp_path):
    import signal
    import time

    environ = dict(os.environ, PYTHONPATH=str(ROOT), MONKEYCAM_CONFIG_DIR=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    process = subprocess.Popen([sys.executable, "main.py", "--start"], cwd=ROOT, env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(10)  # the window is up and animating (the model loads meanwhile)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert (tmp_path / "monkeycam.ini").is_file()  # closed like the close button: settings saved
