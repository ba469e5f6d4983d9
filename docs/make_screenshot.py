"""Make docs/screenshot.png: the real app window on a real X server (Xvfb), grabbed from the screen.

    xvfb-run -s "-screen 0 1280x800x24" python docs/make_screenshot.py docs/screenshot.png

It opens the window as ``monkeycam app`` does (settings kept in a temporary folder), picks
``assets/portrait_ada.png`` and scripted motion, turns the tracked points on, presses Start,
records the last 6 seconds into the temporary folder (for the red dot), waits ``--seconds`` and grabs
the window's rectangle of the X screen (its root window, as ``import -window root`` would).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the animation runs before the grab")
    parser.add_argument("--size", default="1280x760", help="window size WxH")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print("make_screenshot: needs an X display; run it under xvfb-run", file=sys.stderr)
        return 1
    os.environ.setdefault("MONKEYCAM_CONFIG_DIR", tempfile.mkdtemp(prefix="monkeycam-shot-"))
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from monkeycam.gui.qt_platform import check_qt_platform
    from monkeycam.gui.window import MainWindow

    problem = check_qt_platform()
    if problem:
        print(f"make_screenshot: {problem}", file=sys.stderr)
        return 1
    app = QApplication(sys.argv[:1])
    app.setApplicationName("monkeycam")
    window = MainWindow()
    width, height = (int(part) for part in args.size.split("x"))
    window.resize(width, height)
    window.move(0, 0)
    window.show()
    window.controls.keypoints_box.setChecked(True)
    window.driving.set_scripted()
    recording = Path(os.environ["MONKEYCAM_CONFIG_DIR"]) / "take.mp4"

    def start(path: str) -> None:
        if Path(path).name != "portrait_ada.png" or window.session.running:
            return
        window.start()
        # record only the last seconds: the app's speed check, made on the first frames, measures
        # the animation alone (encoding a 1280x720 file costs this 2-core machine some speed)
        QTimer.singleShot(max(0, int((args.seconds - 6) * 1000)),
                          lambda: window.outputs.start_recording(str(recording)))

    window.portrait_ready.connect(start)
    window.choose_portrait(str(ROOT / "assets" / "portrait_ada.png"))

    def grab() -> None:
        frame = window.frameGeometry()  # the window's part of the X screen's root window
        shot = app.primaryScreen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
        shot.save(args.out)
        print(f"wrote {args.out}: {shot.width()}x{shot.height()}; status: {window.stats_label.text()}")
        window.close()

    QTimer.singleShot(int(args.seconds * 1000), grab)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
