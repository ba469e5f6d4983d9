"""Before Qt opens a window on Linux: say in one line what is missing, instead of Qt's abort.

Qt's X11 platform plugin (``libqxcb.so``) needs a dozen X11 client libraries that minimal
systems lack; without them Qt prints several lines (naming the wrong folder when OpenCV has
pointed ``QT_QPA_PLATFORM_PLUGIN_PATH`` at its own Qt 5 plugins) and aborts the process, which no
Python code can catch. :func:`check_qt_platform` runs first: it drops OpenCV's plugin path,
and when no window can be opened it returns the sentence to print (what to install, or that
there is no display).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path

# The Debian/Ubuntu packages of the libraries PySide6's libqxcb.so loads (Qt 6: the xcb-cursor,
# icccm, keysyms, image, render-util and xkb helpers, xkbcommon-x11, EGL/GL, fontconfig, D-Bus).
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
}
# Everything at once (the README's line): what a minimal Debian/Ubuntu needs for the window.
APT_LINE = ("sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 "
            "libxcb-render-util0 libxcb-xkb1 libxcb-randr0 libxcb-shape0 libxkbcommon-x11-0 libegl1 libgl1 "
            "libfontconfig1 libdbus-1-3")
DNF_LINE = ("sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-image xcb-util-renderutil "
            "libxkbcommon-x11 mesa-libEGL")
XVFB_HINT = "xvfb-run -s '-screen 0 1280x800x24' monkeycam app"
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
_CANNOT_OPEN = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")


def check_qt_platform(environ: MutableMapping[str, str] | None = None, plugins_dir: Path | None = None) -> str | None:
    """Make Qt find its own platform plugins and say why no window can open, or None.

    Removes a ``QT_QPA_PLATFORM_PLUGIN_PATH`` that points into OpenCV's package (Qt 5 plugins
    PySide6 cannot load). Then, on Linux with the X11 platform: no display, or the plugin's
    missing libraries with the packages to install, as one line.

    Args:
        environ: the environment to read and fix (default ``os.environ``).
        plugins_dir: Qt's plugin folder (default: PySide6's own).
    """
    environ = os.environ if environ is None else environ
    _drop_foreign_plugin_path(environ)
    if not sys.platform.startswith("linux") or not _uses_xcb(environ):
        return None
    display = environ.get("DISPLAY", "")
    if not display:
        return f"no display to open the window on (DISPLAY is not set): run it in a desktop session, or: {XVFB_HINT}"
    if not display_reachable(display):
        return f"no X server answers on the display {display}: start one there, or: {XVFB_HINT}"
    plugin = (plugins_dir or _pyside_plugins_dir()) / "platforms" / "libqxcb.so"
    missing = missing_libraries(plugin) if plugin.is_file() else []
    if not missing:
        return None
    return (f"the window cannot open: Qt's X11 plugin needs {', '.join(missing)}, not installed. "
            f"Install: {install_command(missing)} (Fedora: {DNF_LINE})")


def display_reachable(display: str) -> bool:
    """Whether an X server listens for the local ``display`` (":N" or ":N.S"); True for a remote
    or unusual one, which only Qt can judge. Connects to the server's socket and closes it."""
    local = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if local is None:
        return True
    path = f"/tmp/.X11-unix/X{local.group(1)}"
    for address in (path, "\0" + path):  # the socket file, then Linux's abstract socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2.0)
            try:
                client.connect(address)
                return True
            except OSError:
                continue
    return False


def install_command(missing: Sequence[str]) -> str:
    """The apt-get line for the libraries ``missing`` (the README's whole line when one is unknown)."""
    packages = [DEBIAN_PACKAGES.get(name) for name in missing]
    if None in packages:
        return APT_LINE
    return "sudo apt-get install " + " ".join(dict.fromkeys(p for p in packages if p))


def missing_libraries(library: Path) -> list[str]:
    """The shared libraries ``library`` needs that the dynamic loader cannot find (file names)."""
    if shutil.which("ldd"):
        try:
            done = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            done = None
        if done is not None and done.returncode == 0:
            return list(dict.fromkeys(_NOT_FOUND.findall(done.stdout)))
    try:  # no ldd: the loader names the first library it misses
        ctypes.CDLL(str(library), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as error:
        found = _CANNOT_OPEN.search(str(error))
        return [found.group(1)] if found else []
    return []


def _uses_xcb(environ: MutableMapping[str, str]) -> bool:
    platform = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0]
    if platform:
        return platform == "xcb"
    return not environ.get("WAYLAND_DISPLAY")  # a Wayland session: Qt may take its Wayland plugin


def _drop_foreign_plugin_path(environ: MutableMapping[str, str]) -> None:
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = environ.get(name)
        if value and "cv2" in Path(value).parts:
            del environ[name]


def _pyside_plugins_dir() -> Path:
    from PySide6.QtCore import QLibraryInfo

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
