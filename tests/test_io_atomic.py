"""Outputs appear whole or not at all, with ordinary file permissions."""

from __future__ import annotations

import os
import stat

import pytest

from monkeycam.io.atomic import atomic_path


def test_success_replaces_the_destination_with_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "out.json"
    old_mask = os.umask(0o022)
    try:
        with atomic_path(target) as tmp:
            assert tmp.parent == target.parent and tmp.name.startswith(".out.json.")
            tmp.write_text("{}")
            assert not target.exists()  # nothing under the real name while writing
    finally:
        os.umask(old_mask)
    assert target.read_text() == "{}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_failure_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_text("previous good version")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "previous good version"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
