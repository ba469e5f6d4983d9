"""`monkeycam train` end to end on a generated dataset folder, alone and under torchrun
(2 CPU processes, gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from monkeycam.checkpoint import load_checkpoint
from tests.cli import run_monkeycam


def train(*args: str, launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    return run_monkeycam("train", *args, env={"OMP_NUM_THREADS": "1"}, timeout=600, launcher=launcher)


def test_train_resume_and_export(dataset, tmp_path):
    root, config = dataset
    out = tmp_path / "run"
    first = train("--config", str(config), "--data", str(root), "--out", str(out), "--device", "cpu", "--no-progress",
                  "--cache-dir", str(tmp_path / "cache"))
    assert first.returncode == 0, first.stderr
    assert "done at step 4" in first.stdout
    again = train("--config", str(config), "--data", str(root), "--out", str(out), "--device", "cpu", "--no-progress",
                  "--cache-dir", str(tmp_path / "cache"), "--resume", "--steps", "6")
    assert again.returncode == 0, again.stderr
    model, info = load_checkpoint(out / "model.safetensors")
    assert info.metadata["training"]["steps"] == 6
    assert "4 clips" in info.metadata["training"]["data"]


def test_bad_inputs_fail_with_one_line(dataset, tmp_path):
    root, config = dataset
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ("--config", str(config), "--data", str(empty), "--out", str(tmp_path / "a")),
        ("--config", "no_such_config", "--data", str(root), "--out", str(tmp_path / "b")),
        ("--config", str(config), "--data", str(root), "--out", str(tmp_path / "c"), "--resume"),
    ]
    for args in cases:
        result = train(*args, "--device", "cpu", "--no-progress", "--cache-dir", str(tmp_path / "cache"))
        assert result.returncode == 1, result.stderr
        errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith("monkeycam train: error:"), result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_torchrun_with_two_cpu_processes(dataset, tmp_path):
    root, config = dataset
    out = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m"]
    result = train("--config", str(config), "--data", str(root), "--out", str(out), "--device", "cpu",
                   "--no-progress", "--cache-dir", str(tmp_path / "cache"), launcher=launcher)
    assert result.returncode == 0, result.stderr[-3000:]
    _, info = load_checkpoint(out / "model.safetensors")
    assert info.metadata["training"]["processes"] == 2 and info.metadata["training"]["steps"] == 4
    rows = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # written once, by the main process


def test_ctrl_c_saves_a_checkpoint_that_resumes(dataset, tmp_path):
    import signal
    import time

    import torch

    root, config = dataset
    out = tmp_path / "run"
    args = ["--config", str(config), "--data", str(root), "--out", str(out), "--device", "cpu", "--no-progress",
            "--cache-dir", str(tmp_path / "cache"), "--steps", "100000"]
    process = subprocess.Popen([sys.executable, "-m", "monkeycam", "train", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    history = out / "history.jsonl"
    deadline = time.monotonic() + 300
    while not (history.exists() and len(history.read_text().splitlines()) >= 3):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted at step" in stdout
    step = torch.load(out / "state.pt", weights_only=True)["step"]
    assert step >= 3
    _, info = load_checkpoint(out / "model.safetensors")
    assert info.metadata["training"]["steps"] == step
    resumed = train(*args[:-2], "--steps", str(step + 2), "--resume")
    assert resumed.returncode == 0 and f"done at step {step + 2}" in resumed.stdout, resumed.stderr
