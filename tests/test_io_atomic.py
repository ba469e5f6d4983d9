"""Outputs appear whole or not at all, with ordinary file permissions."""

from __future__ import annotations

import os
import stat

import pytest

from monkeycam.io.atomic import STALE_SECONDS, atomic_path


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


def test_a_writer_killed_with_sigkill_leaves_a_temporary_file_that_the_next_write_sweeps(tmp_path):
    """kill -9 cannot be caught: the hidden temporary file stays until the next write of that path."""
    import subprocess
    import sys
    import time as clock

    out = tmp_path / "result.bin"
    out.write_bytes(b"previous")
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from monkeycam.io.atomic import atomic_path\n"
        f"with atomic_path({str(out)!r}) as tmp:\n"
        "    tmp.write_bytes(b'half')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".result.bin.")]
        assert len(leftovers) == 1
        writer.kill()
        writer.wait(timeout=30)
    finally:
        writer.kill()
    assert leftovers[0].exists() and out.read_bytes() == b"previous"
    with atomic_path(out) as tmp:  # too fresh: a writer elsewhere might still own it
        tmp.write_bytes(b"new")
    assert leftovers[0].exists()
    old = clock.time() - 2 * STALE_SECONDS
    os.utime(leftovers[0], (old, old))
    live = tmp_path / f".result.bin.{os.getpid()}.alive.part"  # a live writer's file is never swept
    live.write_bytes(b"busy")
    os.utime(live, (old, old))
    with atomic_path(out) as tmp:
        tmp.write_bytes(b"newer")
    assert not leftovers[0].exists() and live.exists()
    assert out.read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["result.bin", live.name])
