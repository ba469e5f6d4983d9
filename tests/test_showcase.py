"""`monkeycam showcase`: the model-card grid (driving crops on top, one row per portrait)."""

from __future__ import annotations

import numpy as np
import torch

from monkeycam.checkpoint import save_checkpoint
from monkeycam.io import VideoWriter, read_image
from monkeycam.model import build_model, preset
from monkeycam.paths import assets_dir
from tests.cli import one_line_error, run_monkeycam


def test_grid_has_a_row_per_portrait_and_a_column_per_frame(tmp_path):
    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "m.safetensors", build_model(preset("face64")), include_discriminator=False)
    portrait = read_image(assets_dir() / "portrait_ada.png")
    with VideoWriter(tmp_path / "driving.avi", fps=25) as writer:
        for shift in range(0, 24, 2):  # the painted face sliding sideways
            writer.write(np.roll(portrait, shift, axis=1)[::2, ::2].copy())
    out = tmp_path / "grid.png"
    result = run_monkeycam("showcase", "--checkpoint", str(checkpoint), "--portraits", str(assets_dir() / "portrait_ada.png"),
                 str(assets_dir() / "portrait_bram.png"), "--driving", str(tmp_path / "driving.avi"),
                 "--frames", "0,5,11", "--cell", "64", "--out", str(out))
    assert result.returncode == 0, result.stderr
    grid = read_image(out)
    assert grid.shape == (3 * 64, 4 * 64, 3)  # driving row + 2 portraits; crop column + 3 frames
    top_left = grid[:64, :64]
    assert (top_left == 255).all()  # the empty corner
    assert grid[64:, 64:].std() > 5  # animated frames are pictures, not blank cells


def test_frames_beyond_the_video_are_refused(tmp_path):
    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "m.safetensors", build_model(preset("face64")), include_discriminator=False)
    with VideoWriter(tmp_path / "short.avi", fps=25) as writer:
        for _ in range(3):
            writer.write(np.full((64, 64, 3), 128, np.uint8))
    result = run_monkeycam("showcase", "--checkpoint", str(checkpoint), "--portraits", str(assets_dir() / "portrait_ada.png"),
                 "--driving", str(tmp_path / "short.avi"), "--frames", "0,10", "--out", str(tmp_path / "g.png"))
    one_line_error(result, "only 3 frames")
    assert not (tmp_path / "g.png").exists()
