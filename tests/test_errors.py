"""The error model: one root, one line per error, and the CLI's two ways of failing."""

from __future__ import annotations

import pytest

from monkeycam.cli import BUG_REPORT, main
from monkeycam.commands import presets as presets_command
from monkeycam.errors import MonkeycamError, UserError, one_line, user_errors
from tests.cli import one_line_error, run_monkeycam


def test_one_line_is_the_first_non_empty_line_or_the_type_name():
    assert one_line(ValueError("\n  first  \nsecond")) == "first"
    assert one_line(ValueError("")) == "ValueError"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError("x" * 500)) == "x" * 500 and one_line(RuntimeError("x" * 500), limit=10) == "x" * 10


def test_every_project_error_derives_from_the_root():
    from monkeycam.checkpoint import CheckpointError
    from monkeycam.face.detector import FaceUnavailable
    from monkeycam.io import CameraError, MediaError, VirtualCameraUnavailable
    from monkeycam.live.api import EngineError
    from training.config import ConfigError
    from training.data import ClipError, DatasetError
    from training.prepare import PrepareError
    from training.trainer import TrainingError

    for error in (CheckpointError, EngineError, FaceUnavailable, CameraError, MediaError, VirtualCameraUnavailable,
                  ConfigError, ClipError, DatasetError, PrepareError, TrainingError):
        assert issubclass(error, UserError) and issubclass(error, MonkeycamError), error


def test_user_errors_converts_only_the_named_types_at_a_boundary():
    with pytest.raises(UserError, match="^out: disk full$") as caught, user_errors(OSError, prefix="out: "):
        raise OSError("disk full\nmore detail")
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(KeyError), user_errors(OSError):
        raise KeyError("a bug stays a bug")


def test_a_project_error_is_one_line_with_exit_status_1(tmp_path, capsys):
    status = main(["info", str(tmp_path / "missing.safetensors")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.strip().splitlines() == [f"monkeycam info: error: checkpoint not found: {tmp_path / 'missing.safetensors'}"]


def test_an_os_error_in_a_command_is_the_users_one_line(tmp_path, capsys, monkeypatch):
    def unwritable(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "out"))

    monkeypatch.setattr(presets_command, "run_presets", unwritable)
    assert main(["presets"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"monkeycam presets: error: [Errno 13] Permission denied: '{tmp_path / 'out'}'"]


def test_an_unexpected_exception_in_a_command_shows_its_traceback_and_exit_status_2(capsys, monkeypatch):
    def buggy(args):
        return {}["no such key"]

    monkeypatch.setattr(presets_command, "run_presets", buggy)
    assert main(["presets"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "KeyError: 'no such key'" in err
    assert err.strip().splitlines()[-1] == f"monkeycam presets: {BUG_REPORT}"


def test_the_installed_command_fails_the_same_way(tmp_path):
    one_line_error(run_monkeycam("info", str(tmp_path / "missing.safetensors")), "checkpoint not found")
