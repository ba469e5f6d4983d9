"""A virtual camera (pyvirtualcam) that video-call apps can select, with clear setup help.

pyvirtualcam is imported only when a virtual camera is opened. A virtual camera keeps the size
it was opened with (apps do not expect it to change); frames of another size are fitted to
fill it (no black bars; the engine normally sends frames of the right size already).
"""

from __future__ import annotations

import sys

import numpy as np

from ..errors import UserError
from ..framing import fill_frame

LINUX_COMMAND = 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="monkeycam"'
LINUX_HELP = f"Linux: {LINUX_COMMAND} (package v4l2loopback-dkms)"
OBS_HELP = "Windows/macOS: install OBS Studio and start its virtual camera once"


class VirtualCameraUnavailable(UserError, RuntimeError):
    """No virtual camera can be opened; the message (one line) says how to get one."""


def setup_help(platform: str | None = None) -> str:
    """How to get a virtual camera device, ``platform``'s way first (``sys.platform`` by default).
    The one setup text: the CLI and the window both show it inside the unavailable message."""
    if (platform or sys.platform).startswith("linux"):
        return f"{LINUX_HELP}; {OBS_HELP}"
    return f"{OBS_HELP}; {LINUX_HELP}"


def _pyvirtualcam():
    try:
        import pyvirtualcam
    except ImportError as error:
        raise VirtualCameraUnavailable(f"pyvirtualcam is not installed ({error}); pip install pyvirtualcam") from None
    return pyvirtualcam


class VirtualCamera:
    """A virtual camera device receiving (H, W, 3) uint8 RGB frames.

    Args:
        width, height: the size apps will see (even numbers work everywhere).
        fps: the frame rate announced to apps.
        backend: a pyvirtualcam backend name (None: the platform's first that works).
        device: a specific device (e.g. ``/dev/video10``), None for any.

    Raises:
        VirtualCameraUnavailable: no device (the message explains how to get one).
    """

    def __init__(
        self, width: int, height: int, fps: float = 30.0, backend: str | None = None, device: str | None = None
    ) -> None:
        if width < 2 or height < 2:
            raise ValueError(f"a virtual camera needs a size of at least 2x2, got {width}x{height}")
        pyvirtualcam = _pyvirtualcam()
        known = getattr(getattr(pyvirtualcam, "camera", None), "BACKENDS", None)
        if backend is not None and known is not None and backend not in known:
            # checked here: pyvirtualcam's Camera half-initialises on an unknown name
            raise VirtualCameraUnavailable(f"unknown virtual camera backend {backend!r}")
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        try:
            self._camera = pyvirtualcam.Camera(
                self.width, self.height, float(fps), fmt=pyvirtualcam.PixelFormat.RGB,
                backend=backend, device=device, print_fps=False,
            )
        except KeyError:
            raise VirtualCameraUnavailable(f"unknown virtual camera backend {backend!r}") from None
        except RuntimeError as error:
            reason = " / ".join(line.strip() for line in str(error).splitlines() if line.strip())
            raise VirtualCameraUnavailable(f"no virtual camera device found ({reason}). {setup_help()}") from None
        self.frames_sent = 0

    @property
    def device(self) -> str:
        """The device apps see (e.g. /dev/video10, 'OBS Virtual Camera')."""
        return self._camera.device

    def send(self, frame: np.ndarray) -> None:
        """Show an (H, W, 3) uint8 RGB frame (fitted to the camera's size when it differs)."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.shape} {frame.dtype}")
        self._camera.send(np.ascontiguousarray(fit_frame(frame, self.width, self.height)))
        self.frames_sent += 1

    def close(self) -> None:
        """Release the device; safe to call twice."""
        camera, self._camera = getattr(self, "_camera", None), None
        if camera is not None:
            camera.close()

    def __enter__(self) -> VirtualCamera:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 at (width, height), filled like a webcam picture: scaled to
    cover, or with its surroundings blurred where covering would cut its centre; never black
    bars (see :func:`monkeycam.framing.fill_frame`). The same frame when the size matches."""
    return fill_frame(frame, width, height)
