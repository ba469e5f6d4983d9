"""``monkeycam info``: readable lines for people (nested metadata indented, long text wrapped,
no JSON blobs); ``--json`` the same facts as JSON."""

from __future__ import annotations

import json

import pytest

from tests.cli import run_monkeycam

METADATA = {
    "training": {
        "steps": 6052,
        "device": "cpu: a 2-core test machine",
        "chunks": [{"steps": 100, "lr": 0.0002}, {"steps": 200, "lr": "2e-4, x0.1 after 150"}],
        "config": {"train": {f"option_{index}": index for index in range(20)}},
        "data": "a long description of the data " * 8,
    },
    "licence": "research use",
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    from monkeycam.checkpoint import save_checkpoint
    from monkeycam.model import build_model
    from monkeycam.model.config import preset

    path = tmp_path_factory.mktemp("info") / "model.safetensors"
    save_checkpoint(path, build_model(preset("face64")), metadata=METADATA, include_discriminator=False)
    return str(path)


def test_info_prints_for_people(checkpoint):
    result = run_monkeycam("info", checkpoint, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(checkpoint) and "MB)" in lines[0]
    text = " ".join(result.stdout.split())
    assert "model face64, 64x64 frames, 10 keypoints (the face64 preset)" in text
    assert "networks keypoint detector, generator" in text
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert not any(mark in result.stdout for mark in ('{"', "[{", "': ")), "no JSON or dict dumps"
    steps = next(line for line in lines if line.strip().startswith("steps") and "6052" in line)
    assert steps.startswith("    ")  # nested under "training"
    assert any(line.strip() == "chunks 2 of 2" for line in lines)
    assert any("2e-4, x0.1 after 150" in line for line in lines)
    assert any(line.split()[:3] == ["config", "20", "settings"] for line in lines)  # summarised
    assert text.count("a long description") == 8  # wrapped over lines, none lost
    unwrapped = run_monkeycam("info", checkpoint, env={"COLUMNS": ""})  # into a pipe: one line per value
    assert any(line.count("a long description") == 8 for line in unwrapped.stdout.splitlines())
    assert any(line.split() == ["licence", "research", "use"] for line in lines)


def test_info_json_is_the_whole_metadata(checkpoint):
    result = run_monkeycam("info", checkpoint, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["metadata"] == METADATA
    assert document["config"]["name"] == "face64" and document["networks"] == ["kp_detector", "generator"]
