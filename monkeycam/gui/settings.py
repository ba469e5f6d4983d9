"""The app's one settings model, kept between runs in an INI file under the user config folder.

:class:`AppState` holds everything the window remembers: the :class:`EngineSettings` the CLI
uses too, plus the GUI's own choices (portraits, driving input, toggles, window geometry).
:class:`SettingsStore` reads and writes it with QSettings in IniFormat at
``monkeycam.paths.config_dir() / "monkeycam.ini"``, so ``$MONKEYCAM_CONFIG_DIR`` isolates tests.
Values that cannot be parsed fall back to their defaults (a hand-edited file never stops the app).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from ..live.api import (
    BACKEND_NAMES,
    DEFAULT_FPS_CAP,
    DEFAULT_FRAME_SIZE,
    FPS_CAPS,
    FRAME_SIZES,
    EngineSettings,
    SettingsError,
    check_frame_size,
    format_frame_size,
)
from ..paths import config_dir

log = logging.getLogger("monkeycam.gui")

SCHEMA_VERSION = 1
SETTINGS_FILE = "monkeycam.ini"
OUTPUT_SIZES: tuple[int, ...] = (64, 128, 256, 512)
DRIVING_KINDS: tuple[str, ...] = ("camera", "video", "scripted")


def default_engine_settings() -> EngineSettings:
    """The window's engine settings before anything is stored: what a call expects (the whole
    portrait in a 1280x720 frame at up to 30 frames/s)."""
    return EngineSettings(paste_back=True, frame_size=DEFAULT_FRAME_SIZE, fps_cap=DEFAULT_FPS_CAP)


@dataclass(frozen=True)
class AppState:
    """Everything the window keeps between runs.

    Attributes:
        engine: the engine options (shared with the ``monkeycam`` commands), including what the
            call receives (frame size, frame-rate cap); an empty stored frame size or cap means
            none (the engine's own frame size, no cap), as saved for ``None``.
        portrait: the last chosen portrait file, or None.
        user_portraits: portraits the user added.
        hidden_portraits: shipped portraits the user removed from the list (the files stay).
        portrait_folder: the folder "Add portrait..." opened last, or None.
        driving_kind: "camera", "video" or "scripted".
        camera_index: the chosen camera.
        video_path: the chosen driving video, or None.
        show_keypoints: draw the learned keypoints and their covariance ellipses.
        virtual_camera: send the animation to a virtual camera.
        geometry: the window geometry as saved by ``QWidget.saveGeometry``.
    """

    engine: EngineSettings = field(default_factory=default_engine_settings)
    portrait: str | None = None
    user_portraits: tuple[str, ...] = ()
    hidden_portraits: tuple[str, ...] = ()
    portrait_folder: str | None = None
    driving_kind: str = "scripted"
    camera_index: int = 0
    video_path: str | None = None
    show_keypoints: bool = False
    virtual_camera: bool = False
    geometry: bytes = b""

    def updated(self, **changes: Any) -> AppState:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


def settings_path() -> Path:
    """The INI file the settings live in."""
    return config_dir() / SETTINGS_FILE


class SettingsStore:
    """Loads and saves :class:`AppState` with QSettings (IniFormat)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings_path()
        self.warnings: list[str] = []  # what the window should say about the settings
        self.read_only = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(self.path.parent, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
                raise PermissionError("not writable")
        except OSError as error:
            self._cannot_save(getattr(error, "strerror", None) or str(error))
        self._qsettings = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _cannot_save(self, reason: str) -> None:
        if not self.read_only:
            self.read_only = True
            self.warnings.append(f"Settings cannot be saved in {self.path.parent} ({reason}): "
                                 "they are kept for this session only.")

    def load(self) -> AppState:
        """The stored state; defaults for anything missing or unreadable."""
        q = self._qsettings
        default = AppState()
        camera_index = _as_int(q.value("app/camera_index"), default.camera_index)
        state = AppState(
            engine=self._load_engine(),
            portrait=_as_optional_str(q.value("app/portrait")),
            user_portraits=tuple(_as_str_list(q.value("app/user_portraits"))),
            hidden_portraits=tuple(_as_str_list(q.value("app/hidden_portraits"))),
            portrait_folder=_as_optional_str(q.value("app/portrait_folder")),
            driving_kind=_as_choice(q.value("app/driving_kind"), DRIVING_KINDS, default.driving_kind),
            camera_index=camera_index if 0 <= camera_index < 64 else default.camera_index,
            video_path=_as_optional_str(q.value("app/video_path")),
            show_keypoints=_as_bool(q.value("app/show_keypoints"), default.show_keypoints),
            virtual_camera=_as_bool(q.value("app/virtual_camera"), default.virtual_camera),
            geometry=_as_bytes(q.value("window/geometry")),
        )
        for key, value in (("app/driving_kind", state.driving_kind), ("app/camera_index", state.camera_index)):
            self._warn_if_replaced(key, value)
        return state

    def _warn_if_replaced(self, key: str, value: object) -> None:
        """Note a stored value that could not be used as it is (the default or a clamp was used)."""
        stored = self._qsettings.value(key)
        if stored is None or stored == "" or _same(stored, value):
            return
        shown = "none" if value is None else value
        self.warnings.append(f"The stored setting {key} = {str(stored)[:40]!r} is not usable; using {shown}.")
        log.warning("settings file %s: %s = %r is not usable; using %r", self.path, key, stored, value)

    def save(self, state: AppState) -> None:
        """Write ``state`` to the INI file now."""
        q = self._qsettings
        q.setValue("schema", SCHEMA_VERSION)
        for item in fields(EngineSettings):
            value = getattr(state.engine, item.name)
            if item.name == "frame_size" and value is not None:
                value = format_frame_size(value)
            q.setValue(f"engine/{item.name}", "" if value is None else value)
        q.setValue("app/portrait", state.portrait or "")
        q.setValue("app/user_portraits", json.dumps(list(state.user_portraits)))
        q.setValue("app/hidden_portraits", json.dumps(list(state.hidden_portraits)))
        q.setValue("app/portrait_folder", state.portrait_folder or "")
        q.setValue("app/driving_kind", state.driving_kind)
        q.setValue("app/camera_index", state.camera_index)
        q.setValue("app/video_path", state.video_path or "")
        q.setValue("app/show_keypoints", state.show_keypoints)
        q.setValue("app/virtual_camera", state.virtual_camera)
        q.setValue("window/geometry", QByteArray(state.geometry))
        if self.read_only:
            return  # kept in memory by QSettings for this session
        q.sync()
        if q.status() != QSettings.Status.NoError:
            self._cannot_save("writing failed")

    def _load_engine(self) -> EngineSettings:
        """Every EngineSettings field that was saved; a value the settings reject (or the GUI
        cannot show) keeps its default."""
        settings = default_engine_settings()
        for item in fields(EngineSettings):
            value = _parse_engine_value(item.name, self._qsettings.value(f"engine/{item.name}"), settings)
            if not _offered(item.name, value):
                continue
            try:
                settings = settings.updated(**{item.name: value})
            except SettingsError:
                continue
        for item in fields(EngineSettings):
            self._warn_if_replaced(f"engine/{item.name}", getattr(settings, item.name))
        return settings


def _offered(name: str, value: object) -> bool:
    """Whether the window's controls can show ``value`` for the EngineSettings field ``name``."""
    if name == "output_size":
        return value in OUTPUT_SIZES
    if name == "frame_size":
        return value is None or value in FRAME_SIZES
    if name == "fps_cap":
        return value is None or value in FPS_CAPS
    return True


# --------------------------------------------------------------------------- value parsing
# QSettings' INI backend returns strings (or lists) for most stored values; these helpers
# turn them back into typed values and fall back to the default when a value is unusable.


def _parse_engine_value(name: str, stored: object, default: EngineSettings) -> object:
    """The stored text of EngineSettings field ``name`` as a value of its type (its value in
    ``default`` when the text is unusable)."""
    current = getattr(default, name)
    if stored is None:  # not stored (an older file): the default
        return current
    if name == "checkpoint":
        return _as_optional_str(stored)
    if name == "frame_size":
        return _as_frame_size(stored, current)
    if name == "fps_cap":
        return None if stored == "" else _as_float(stored, current)
    if name == "backend":
        return _as_choice(stored, BACKEND_NAMES, current)
    if isinstance(current, str):
        return stored if isinstance(stored, str) else current
    if isinstance(current, bool):
        return _as_bool(stored, current)
    if isinstance(current, int):
        return _as_int(stored, current)
    if name == "smoothing":
        return min(1.0, max(0.0, _as_float(stored, current)))
    if isinstance(current, float):
        return _as_float(stored, current)
    return current


def _as_frame_size(value: object, default: tuple[int, int] | None) -> tuple[int, int] | None:
    """Stored "WxH" text as (width, height); "" as None (saved for no frame size)."""
    if value == "":
        return None
    try:
        return check_frame_size(value) if isinstance(value, str) else default
    except SettingsError:
        return default


def _same(stored: object, value: object) -> bool:
    """Whether the stored text means ``value`` (as saved by :meth:`SettingsStore.save`)."""
    if value is None:
        return stored in (None, "")
    if isinstance(value, tuple):
        return stored == format_frame_size(value)
    if isinstance(value, bool):
        return _as_bool(stored, not value) == value
    if isinstance(value, (int, float)):
        try:
            return float(stored) == float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
    return stored == value


def _as_bool(value: object, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return default


def _as_int(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _as_float(value: object, default: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _as_optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_choice(value: object, choices: tuple[str, ...], default: str) -> str:
    return value if isinstance(value, str) and value in choices else default


def _as_str_list(value: object) -> list[str]:
    if not isinstance(value, str) or not value:
        return []
    try:
        items = json.loads(value)
    except json.JSONDecodeError:
        return []
    return [item for item in items if isinstance(item, str)] if isinstance(items, list) else []


def _as_bytes(value: object) -> bytes:
    if isinstance(value, QByteArray):
        return bytes(value.data())
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return b""
