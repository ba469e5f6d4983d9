"""The monkeycam command: help, convert, info; bad input gives one line and exit 1."""

from __future__ import annotations

from tests.cli import run_monkeycam
from tests.conftest import REFERENCE, require_shared


def test_help_lists_the_subcommands():
    result = run_monkeycam("--help")
    assert result.returncode == 0
    for command in ("convert", "info", "presets"):
        assert command in result.stdout


def test_convert_then_info(tmp_path):
    fixture = require_shared(REFERENCE / "parity_small.pt")
    out = tmp_path / "small.safetensors"
    result = run_monkeycam("convert", str(fixture), str(out))
    assert result.returncode == 0, result.stderr
    assert out.exists() and "wrote" in result.stdout
    info = run_monkeycam("info", str(out))
    assert info.returncode == 0 and "64x64" in info.stdout and "converted_from" in info.stdout


def test_convert_of_a_bad_file_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint at all")
    out = tmp_path / "out.safetensors"
    result = run_monkeycam("convert", str(bad), str(out))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "bad.pth" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_presets_lists_counts_and_cost():
    result = run_monkeycam("presets")
    assert result.returncode == 0
    assert "19,088,315" in result.stdout and "face64" in result.stdout
