"""Nothing the user owns is lost (issue 13): outputs never replace an input, a full disk never
commits a short file, a run folder belongs to one training, SIGTERM acts like Ctrl-C.

Every case runs the real command or the real writer; a full disk is made with RLIMIT_FSIZE
in a child process (writes past the limit fail with EFBIG, as they fail with ENOSPC on a full
disk), so no root and no tmpfs are needed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from monkeycam.checkpoint import save_checkpoint
from monkeycam.io import VideoWriter, probe_video, write_image
from monkeycam.model import build_model, preset
from tests.cli import one_line_error, run_monkeycam
from tests.media_files import moving_shapes

# Runs ``monkeycam ARGS`` with a file-size limit of LIMIT bytes (argv[1]), like a nearly full disk.
LIMITED = """
import resource, runpy, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then writes past the limit fail with EFBIG
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["monkeycam", *sys.argv[2:]]
runpy.run_module("monkeycam", run_name="__main__")
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_limited(limit: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LIMITED, str(limit), *args], capture_output=True, text=True,
                          timeout=600, check=False)


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.name != ".lock")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A checkpoint, a portrait, a short driving video and a dataset folder with a test clip."""
    folder = tmp_path_factory.mktemp("media")
    torch.manual_seed(0)
    save_checkpoint(folder / "face64.safetensors", build_model(preset("face64")), include_discriminator=False)
    write_image(folder / "portrait.png", np.random.default_rng(0).integers(0, 256, (90, 70, 3), dtype=np.uint8))
    for name in ("driving.mp4", "data/test/clip.mp4", "data/train/clip.mp4"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        with VideoWriter(folder / name, fps=25) as writer:
            for frame in moving_shapes(frames=8, height=72):
                writer.write(frame)
    return folder


def model_args(media: Path) -> list[str]:
    return ["--checkpoint", str(media / "face64.safetensors"), "--no-face"]


# --------------------------------------------------------------------------- outputs over inputs


def _link(media: Path, tmp_path: Path, target: str, how: str) -> Path:
    """A path in tmp_path naming ``media/target`` by a symbolic or hard link."""
    link = tmp_path / f"{how}{Path(target).suffix}"
    if how == "symlink":
        link.symlink_to(media / target)
    else:
        os.link(media / target, link)
    return link


@pytest.mark.parametrize(
    "case",
    ["animate same", "animate symlink", "animate hardlink", "stream same", "showcase portrait", "convert same",
     "evaluate save-video data", "evaluate save-video inside data", "evaluate json inside data", "bench json checkpoint",
     "train inside data"],
)
def test_an_output_that_is_an_input_is_refused_before_any_work(media, tmp_path, case):
    before = {p: digest(p) for p in media.rglob("*") if p.is_file()}
    source, driving, data = str(media / "portrait.png"), str(media / "driving.mp4"), str(media / "data")
    checkpoint = str(media / "face64.safetensors")
    if case.startswith("animate"):
        how = case.split()[1]
        out = driving if how == "same" else str(_link(media, tmp_path, "driving.mp4", how))
        args = ["animate", "--source", source, "--driving", driving, "--out", out, *model_args(media)]
    elif case == "stream same":
        args = ["stream", "--source", source, "--driving", driving, "--out", driving, "--frames", "3",
                *model_args(media)]
    elif case == "showcase portrait":
        args = ["showcase", "--portraits", source, "--driving", driving, "--frames", "0", "--out", source,
                "--checkpoint", checkpoint]
    elif case == "convert same":
        args = ["convert", checkpoint, checkpoint]
    elif case.startswith("evaluate save-video"):
        out = data if case.endswith(" data") else str(media / "data" / "test")
        args = ["evaluate", "--checkpoint", checkpoint, "--data", data, "--save-video", out, "--quiet"]
    elif case == "evaluate json inside data":
        args = ["evaluate", "--checkpoint", checkpoint, "--data", data, "--json", str(media / "data" / "r.json")]
    elif case == "bench json checkpoint":
        args = ["bench", "--checkpoint", checkpoint, "--json", checkpoint, "--frames", "1"]
    else:
        args = ["train", "--config", "face64", "--data", data, "--out", str(media / "data" / "run")]
    started = time.monotonic()
    result = run_monkeycam(*args, timeout=300)
    line = one_line_error(result)
    assert "refusing" in line or "inside the input folder" in line, line
    assert time.monotonic() - started < 60  # refused up front, not after the work
    assert {p: digest(p) for p in media.rglob("*") if p.is_file()} == before
    assert not (media / "data" / "run").exists() and hidden_files(media) == []


# --------------------------------------------------------------------------- full disk


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".webm"])
def test_a_full_disk_keeps_the_previous_video_and_says_so(media, tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    out.write_bytes(b"the previous recording")
    result = run_limited(1500, "animate", "--source", str(media / "portrait.png"), "--driving",
                         str(media / "driving.mp4"), "--out", str(out), *model_args(media))
    one_line_error(result, "monkeycam animate: error: disk full", str(out))
    assert out.read_bytes() == b"the previous recording"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_a_full_disk_loses_no_earlier_stream_recording(media, tmp_path):
    out = tmp_path / "live.webm"
    out.write_bytes(b"the previous recording")
    result = run_limited(1500, "stream", "--source", str(media / "portrait.png"), "--scripted", "--frames", "20",
                         "--unpaced", "--out", str(out), *model_args(media))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "disk full" in result.stderr and "Traceback" not in result.stderr
    assert out.read_bytes() == b"the previous recording"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


WRITERS = {
    "image": "from monkeycam.io import write_image; import numpy as np\n"
             "write_image(OUT, np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))",
    "checkpoint": "from monkeycam.checkpoint import save_checkpoint; from monkeycam.model import build_model, preset\n"
                  "save_checkpoint(OUT, build_model(preset('face64')))",
    "torch state": "import torch; from monkeycam.io.atomic import atomic_path\n"
                   "with atomic_path(OUT) as tmp, open(tmp, 'wb') as handle:\n"
                   "    torch.save({'w': torch.randn(20000)}, handle)",
    "json": "import json; from monkeycam.io.atomic import atomic_path\n"
            "with atomic_path(OUT) as tmp:\n    tmp.write_text(json.dumps(list(range(20000))))",
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_keeps_the_previous_file_on_a_full_disk(tmp_path, writer):
    out = tmp_path / ("out.png" if writer == "image" else "out.bin")
    out.write_bytes(b"previous version")
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))\n"
        f"OUT = {str(out)!r}\n"
        "from monkeycam.errors import UserError\n"
        "try:\n" + "".join(f"    {line}\n" for line in WRITERS[writer].splitlines()) +
        "except UserError as error:\n    print(error); sys.exit(1)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"disk full: could not write {out}"), result.stdout
    assert out.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


# --------------------------------------------------------------------------- run folders


def train(dataset, out: Path, *extra: str) -> subprocess.CompletedProcess:
    root, config = dataset
    return run_monkeycam("train", "--config", str(config), "--data", str(root), "--out", str(out), "--device", "cpu",
                         "--no-progress", "--cache-dir", str(out.parent / "cache"), *extra,
                         env={"OMP_NUM_THREADS": "1"}, timeout=600)


def test_a_run_folder_is_never_overwritten_by_accident_and_is_locked(dataset, tmp_path):
    out = tmp_path / "run"
    assert train(dataset, out).returncode == 0
    logged = len((out / "history.jsonl").read_text().splitlines())
    kept = {name: digest(out / name) for name in ("state.pt", "model.safetensors", "history.jsonl")}
    refused = train(dataset, out)
    one_line_error(refused, "already holds a training run", "--resume", "--overwrite")
    assert {name: digest(out / name) for name in kept} == kept

    with open(out / ".lock", "a+") as lock:  # another trainer holds the folder
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        one_line_error(train(dataset, out, "--resume", "--steps", "4"), "in use by another training")
        one_line_error(train(dataset, out, "--overwrite"), "in use by another training")
    assert {name: digest(out / name) for name in kept} == kept

    one_line_error(train(dataset, out, "--resume", "--overwrite"), "contradict")
    one_line_error(train(dataset, out, "--max-minutes", "0", "--resume"), "--max-minutes must be positive")
    again = train(dataset, out, "--overwrite")
    assert again.returncode == 0, again.stderr
    history = (out / "history.jsonl").read_text().splitlines()
    assert len(history) == logged  # the earlier run's lines are gone, not mixed with the new ones


# --------------------------------------------------------------------------- signals and pipes


def test_sigterm_finishes_a_stream_recording_like_ctrl_c(media, tmp_path):
    out = tmp_path / "live.avi"
    process = subprocess.Popen(
        [sys.executable, "-m", "monkeycam", "stream", "--source", str(media / "portrait.png"), "--scripted", "--out",
         str(out), "--size", "64", *model_args(media)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    for line in process.stdout:  # wait for the first figures: frames are being recorded
        if "fps | latency" in line:
            break
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert probe_video(out).frame_count >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.avi"]


def test_a_closed_pipe_ends_a_listing_quietly():
    process = subprocess.Popen([sys.executable, "-m", "monkeycam", "presets"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()  # like `monkeycam presets | head -0`: the reader is gone before the first line
    stderr = process.stderr.read().decode()
    process.wait(60)
    assert stderr == ""


def test_an_unknown_bench_backend_is_refused_before_measuring():
    started = time.monotonic()
    result = run_monkeycam("bench", "--preset", "face64", "--backend", "bogus", "--frames", "200", timeout=300)
    assert result.returncode == 2 and "invalid choice: 'bogus'" in result.stderr  # argparse's usage error
    assert time.monotonic() - started < 60


# --------------------------------------------------------------------------- hostile checkpoints


def rewrite_checkpoint(source: Path, out: Path, model_config: dict | None = None, **header: str) -> Path:
    """A copy of ``source`` with its stored model config and/or header fields replaced."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        metadata = dict(handle.metadata())
    if model_config is not None:
        metadata["config"] = json.dumps(model_config)
    save_file(tensors, str(out), metadata={**metadata, **header})
    return out


def _config_with(media: Path, path: str, value) -> dict:
    from monkeycam.checkpoint import read_info

    config = read_info(media / "face64.safetensors").config.to_dict()
    section = config
    *parents, leaf = path.split(".")
    for name in parents:
        section = section[name]
    section[leaf] = value
    return config


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("image_size", 10**9, "image_size must be an integer from 16 to 2048"),
        ("generator.block_expansion", 10**8, "generator.block_expansion must be an integer"),
        ("kp_detector.num_blocks", 10**6, "kp_detector.num_blocks must be an integer"),
        ("num_kp", -3, "num_kp must be an integer"),
        ("generator.max_features", 64, "its weights do not fit its model config ('face64')"),
        ("num_kp", 12, "its weights do not fit"),
        ("dense_motion.scale_factor", float("inf"), "must be a finite number"),
    ],
)
def test_a_checkpoint_whose_config_lies_is_refused_before_anything_is_built(media, tmp_path, field, value, expected):
    crafted = rewrite_checkpoint(media / "face64.safetensors", tmp_path / "crafted.safetensors",
                                 _config_with(media, field, value))
    for command in (["info", str(crafted)], ["bench", "--checkpoint", str(crafted), "--frames", "1"]):
        started = time.monotonic()
        result = run_monkeycam(*command, timeout=300)
        line = one_line_error(result, "crafted.safetensors")
        assert expected in line, line
        assert time.monotonic() - started < 60


def test_info_does_not_pass_a_modified_config_off_as_its_preset(media, tmp_path):
    """The frame size does not show in convolution shapes: such a file loads (within the size
    limits), but info says it is not the preset whose name it carries."""
    crafted = rewrite_checkpoint(media / "face64.safetensors", tmp_path / "crafted.safetensors",
                                 _config_with(media, "image_size", 128))
    result = run_monkeycam("info", str(crafted))
    assert result.returncode == 0, result.stderr
    assert "not the face64 preset (image_size differs)" in result.stdout
    plain = run_monkeycam("info", str(media / "face64.safetensors"))
    assert "not the face64 preset" not in plain.stdout


@pytest.mark.parametrize(
    "header, expected",
    [
        ({"format_version": "abc"}, "invalid format_version 'abc'"),
        ({"metadata": "[1, 2, 3]"}, "invalid metadata (a list"),
        ({"config": "[]"}, "invalid model config"),
        ({"config": "{\"name\": \"face64\", \"image_size\": \"64\"}"}, "image_size must be an integer"),
    ],
)
def test_a_malformed_checkpoint_header_is_one_line(media, tmp_path, header, expected):
    crafted = rewrite_checkpoint(media / "face64.safetensors", tmp_path / "crafted.safetensors", **header)
    one_line_error(run_monkeycam("info", str(crafted)), expected)


def test_a_huge_safetensors_header_is_not_called_a_pickle(tmp_path):
    crafted = tmp_path / "huge.safetensors"
    crafted.write_bytes((90_000_000).to_bytes(8, "little") + b'{"__metadata__": {' + b" " * 1000)
    line = one_line_error(run_monkeycam("info", str(crafted)), "huge.safetensors")
    assert "pickle" not in line and ("truncated or corrupt" in line or "header" in line), line
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    one_line_error(run_monkeycam("info", str(empty)), "empty")


def test_convert_refuses_sizes_and_contents_that_make_unusable_checkpoints(tmp_path):
    from monkeycam.model import build_model, preset

    model = build_model(preset("nemo"))
    original = tmp_path / "original.pth"
    torch.save({"kp_detector": model.kp_detector.state_dict(), "generator": model.generator.state_dict()}, original)
    broken = tmp_path / "broken.pth"
    torch.save({"kp_detector": {"weight": "text"}, "generator": model.generator.state_dict()}, broken)
    out = tmp_path / "out.safetensors"
    for extra, expected in [
        (["--image-size", "0"], "--image-size must be from 16 to 2048"),
        (["--image-size", "-64"], "--image-size must be from 16 to 2048"),
        (["--image-size", "100000"], "--image-size must be from 16 to 2048"),
        (["--motion-scale", "0"], "--motion-scale must be in (0, 1]"),
        (["--motion-scale", "-0.5"], "--motion-scale must be in (0, 1]"),
    ]:
        one_line_error(run_monkeycam("convert", str(original), str(out), *extra), expected)
    one_line_error(run_monkeycam("convert", str(broken), str(out)), "not a state dict of tensors")
    assert not out.exists() and hidden_files(tmp_path) == []
    good = run_monkeycam("convert", str(original), str(out))
    assert good.returncode == 0, good.stderr
    assert (out.stat().st_mode & 0o777) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- hostile images


def _huge_png(path: Path, side: int) -> Path:
    """A real, valid 1-bit grey PNG of side x side pixels (a few hundred KB on disk)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_a_huge_picture_in_a_small_file_is_refused_from_its_header(tmp_path):
    image = _huge_png(tmp_path / "bomb.png", 30000)
    assert image.stat().st_size < 2_000_000
    script = ("import sys\nfrom monkeycam.io import read_image\nfrom monkeycam.errors import UserError\n"
              f"try:\n    read_image({str(image)!r})\nexcept UserError as error:\n    print(error)\n"
              # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec (it would count pytest)
              "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    message, peak_mb = result.stdout.splitlines()
    assert "is 900 megapixels; images over 100 megapixels are refused" in message
    assert int(peak_mb) < 600, f"peak memory {peak_mb} MB"
    one_line_error(run_monkeycam("animate", "--source", str(image), "--driving", str(image),
                                 "--out", str(tmp_path / "o.mp4")), "megapixels")


def test_exif_orientation_is_applied_like_a_photo_viewer(tmp_path):
    from PIL import Image, ImageOps

    from monkeycam.io import read_image

    pixels = np.zeros((30, 50, 3), np.uint8)
    pixels[:10, :20] = (255, 0, 0)  # a red block in the stored top-left corner
    for orientation in range(1, 9):
        path = tmp_path / f"phone{orientation}.png"
        stored = Image.fromarray(pixels)
        exif = stored.getexif()
        exif[0x0112] = orientation
        stored.save(path, exif=exif.tobytes())
        expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        np.testing.assert_array_equal(read_image(path), expected, err_msg=f"orientation {orientation}")
    assert read_image(tmp_path / "phone6.png").shape == (50, 30, 3)  # a portrait shot stands upright


def test_deep_images_are_scaled_by_bit_depth_not_stretched(tmp_path):
    import cv2

    from monkeycam.io import read_image

    cv2.imwrite(str(tmp_path / "flat16.png"), np.full((8, 8), 32768, np.uint16))
    assert (read_image(tmp_path / "flat16.png") == 128).all()  # mid grey, not black
    ramp = np.array([[0, 257 * 100, 65535]], np.uint16).repeat(3, axis=0)
    cv2.imwrite(str(tmp_path / "ramp16.png"), np.dstack([ramp] * 3))
    assert read_image(tmp_path / "ramp16.png")[0, :, 0].tolist() == [0, 100, 255]
    cv2.imwrite(str(tmp_path / "float.tiff"), np.full((4, 4), 0.5, np.float32))
    assert (read_image(tmp_path / "float.tiff") == 128).all()


# --------------------------------------------------------------------------- training YAML


@pytest.mark.parametrize(
    "text, expected",
    [
        ("train: {lr: fast}", "train.lr must be a finite number, got 'fast'"),
        ("just a scalar", "must be a mapping"),
        ("42", "must be a mapping"),
        ("train: {checkpoint_every: 0}", "train.checkpoint_every must be >= 1"),
        ("train: {log_every: 0}", "train.log_every must be >= 1"),
        ("train: {steps: '100'}", "train.steps must be an integer"),
        ("train: {augment: {hue: 3}}", "train.augment.hue must be 0..0.5"),
        ("train: {augment: {crop_scale: [0.9, 0.5]}}", "train.augment.crop_scale must be (min, max)"),
        ("train: {augment: {synthetic_pairs: -1}}", "train.augment.synthetic_pairs must be 0..1"),
        ("train: {betas: [0.5]}", "train.betas must be a list of 2 values"),
        ("model: {preset: face64, overrides: {num_kp: abc}}", "model.num_kp must be an integer"),
        ("model: {preset: face64, overrides: {image_size: -64}}", "model.image_size must be an integer"),
        ("model: 7", "model: expected a mapping"),
    ],
)
def test_wrong_training_yaml_values_are_one_line(tmp_path, text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(("model: {preset: face64}\n" if text.startswith("train") else "") + text + "\n")
    result = run_monkeycam("train", "--config", str(config), "--data", str(tmp_path), "--out", str(tmp_path / "run"))
    line = one_line_error(result, "bad.yaml")
    assert expected in line, line
    assert not (tmp_path / "run").exists()


def test_yaml_numbers_without_a_dot_are_numbers():
    from training.config import TrainConfig, _build

    assert _build(TrainConfig, {"lr": "2e-4"}, "train").lr == 2e-4


# --------------------------------------------------------------------------- app settings


@pytest.mark.parametrize("stored, expected", [("nan", 2.0), ("1e308", 2.0), ("-5", 2.0), ("inf", 2.0), ("3", 3.0)])
def test_every_loaded_setting_is_checked_with_a_warning(tmp_path, stored, expected):
    pytest.importorskip("PySide6")
    from monkeycam.gui.settings import SettingsStore

    path = tmp_path / "monkeycam.ini"
    path.write_text(f"[engine]\ncrop_scale={stored}\nsmoothing=0.3\noutput_size=100000\n[app]\ncamera_index=-4\n")
    store = SettingsStore(path)
    state = store.load()
    assert state.engine.crop_scale == expected
    assert state.engine.smoothing == 0.3 and state.engine.output_size == 256 and state.camera_index == 0
    said = " ".join(store.warnings)
    assert ("engine/crop_scale" in said) == (expected != float(stored)), said
    assert "engine/output_size = '100000'" in said and "app/camera_index" in said
    assert "engine/smoothing" not in said


@pytest.mark.parametrize("problem", ["folder is a file", "folder is read-only"])
def test_settings_stay_in_memory_when_the_folder_cannot_be_written(tmp_path, problem):
    pytest.importorskip("PySide6")
    from monkeycam.gui.settings import AppState, SettingsStore
    from monkeycam.live.api import EngineSettings

    if problem == "folder is a file":
        folder = tmp_path / "config"
        folder.write_text("not a folder")
    else:
        if os.geteuid() == 0:
            pytest.skip("root can write into a read-only folder")
        folder = tmp_path / "config"
        folder.mkdir()
        folder.chmod(0o500)
    store = SettingsStore(folder / "monkeycam.ini")
    assert store.read_only and "kept for this session only" in store.warnings[0]
    store.save(AppState(engine=EngineSettings(smoothing=0.9)))
    assert store.load().engine.smoothing == 0.9  # kept in memory
    assert problem != "folder is a file" or folder.read_text() == "not a folder"


def test_the_app_opens_and_says_so_when_its_settings_folder_is_a_file(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from monkeycam.gui.window import MainWindow

    blocker = tmp_path / "config"
    blocker.write_text("a file where the settings folder should be")
    monkeypatch.setenv("MONKEYCAM_CONFIG_DIR", str(blocker))
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert "kept for this session only" in window.banner.text()
    window.close()
    assert blocker.read_text() == "a file where the settings folder should be"


def test_prepare_does_not_mix_clips_from_another_input_into_a_prepared_folder(tmp_path):
    from tests.media_files import write_video

    for name in ("a", "b"):
        write_video(tmp_path / name / "clip.mp4", moving_shapes(6, 48, seed=ord(name)))
    out = tmp_path / "out"
    first = run_monkeycam("prepare", "generic", str(tmp_path / "a"), str(out), "--size", "32", "--quiet")
    assert first.returncode == 0, first.stderr
    kept = {p: digest(p) for p in out.rglob("*") if p.is_file()}
    one_line_error(run_monkeycam("prepare", "generic", str(tmp_path / "b"), str(out), "--size", "32"),
                   "holds clips prepared from")
    assert {p: digest(p) for p in out.rglob("*") if p.is_file()} == kept
    again = run_monkeycam("prepare", "generic", str(tmp_path / "a"), str(out), "--size", "32", "--quiet")
    assert again.returncode == 0, again.stderr  # the same input may be prepared again


def test_a_frame_cache_with_a_huge_header_is_ignored_without_allocating(tmp_path):
    from training.data import _read_cache

    cache = tmp_path / "clip.npy"
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (100000000, 64, 64, 3), }"
    header += " " * (63 - len(header) % 64) + "\n"
    cache.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\x00" * 1000)
    assert _read_cache(cache, 64) is None


def test_animate_max_frames_zero_names_the_option_not_the_video(media, tmp_path):
    one_line_error(run_monkeycam("animate", "--source", str(media / "portrait.png"), "--driving",
                                 str(media / "driving.mp4"), "--out", str(tmp_path / "o.mp4"), "--max-frames", "0"),
                   "--max-frames must be at least 1")


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_ctrl_c_to_the_terminal_group_keeps_a_stream_recording(media, tmp_path, suffix):
    """Ctrl-C reaches every process of the terminal's group; the encoder must still finish."""
    out = tmp_path / f"live{suffix}"
    process = subprocess.Popen(
        [sys.executable, "-m", "monkeycam", "stream", "--source", str(media / "portrait.png"), "--scripted", "--out",
         str(out), "--size", "64", *model_args(media)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    for line in process.stdout:
        if "fps | latency" in line:
            break
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert probe_video(out).frame_count >= 1 and "recording saved" in stderr and "failed" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 half a zip"])
def test_resume_from_an_empty_or_partial_state_is_one_line(dataset, tmp_path, content):
    out = tmp_path / "run"
    out.mkdir()
    (out / "state.pt").write_bytes(content)
    line = one_line_error(train(dataset, out, "--resume"), "state.pt is unreadable or incomplete")
    assert ("it is empty" in line) == (content == b"")
    assert (out / "state.pt").read_bytes() == content
