"""What the user can do when no virtual camera device is available, per platform."""

from __future__ import annotations

import sys

LINUX_COMMAND = 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="monkeycam"'


def virtual_camera_help(platform: str | None = None) -> str:
    """One or two sentences telling how to get a virtual camera device on ``platform``
    (``sys.platform`` by default)."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return (f"To get one on Linux, install v4l2loopback (e.g. apt install v4l2loopback-dkms) and run: "
                f"{LINUX_COMMAND}")
    if platform in ("win32", "darwin"):
        return ("To get one, install OBS Studio (obsproject.com) and start its Virtual Camera once, "
                "then turn the virtual camera on again here.")
    return "No virtual camera backend is known for this system; the preview keeps working."


def with_help(status: str, platform: str | None = None) -> str:
    """``status`` plus the platform's help, unless the status already explains what to do."""
    lowered = status.lower()
    if "modprobe" in lowered or "obs" in lowered:
        return status
    return f"{status} {virtual_camera_help(platform)}"
