"""The dataset layer: every item form, the split, the frame cache, and every bad-data case."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from monkeycam.io import VideoWriter
from tests.media_files import (
    mean_abs_difference,
    moving_shapes,
    write_frame_folder,
    write_gif,
    write_junk,
    write_strip,
    write_truncated_mp4,
    write_video,
)
from training.data import (
    DatasetError,
    cache_path,
    find_videos,
    load_videos,
    square_resize,
)

SIZE = 32


def load(root, split="train", cache=None, **kwargs):
    return load_videos(root, split, SIZE, cache_dir=cache, progress=False, **kwargs)


def skip_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "training.data" and r.levelno == logging.WARNING]


# --------------------------------------------------------------------------- item forms


def test_every_item_form_loads_resized_with_its_frames(tmp_path):
    frames = moving_shapes(frames=6, height=64, seed=3)
    train = tmp_path / "data" / "train"
    write_video(train / "clip.mp4", frames)
    write_video(train / "clip_avi.avi", frames)
    write_gif(train / "clip_gif.gif", frames)
    write_frame_folder(train / "clip_folder", frames)
    write_strip(train / "clip_strip.png", frames)
    (train / "README.txt").write_text("notes are ignored")
    write_video(tmp_path / "data" / "test" / "other.mp4", moving_shapes(5, 64, seed=4))

    videos = load(tmp_path / "data", cache=tmp_path / "cache")

    assert sorted(clip.name for clip in videos.clips) == ["clip.mp4", "clip_avi.avi", "clip_folder", "clip_gif.gif", "clip_strip.png"]
    assert videos.skipped == [] and videos.split == "train" and videos.num_frames == 30
    expected = np.stack([square_resize(frame, SIZE) for frame in frames])
    for clip in videos.clips:
        assert clip.frames.shape == (6, SIZE, SIZE, 3) and clip.frames.dtype == np.uint8
        lossless = clip.name in ("clip_folder", "clip_strip.png")
        if lossless:
            assert np.array_equal(clip.frames, expected), clip.name
        else:  # compressed: close to the drawn frames, and in the same order
            assert mean_abs_difference(clip.frames, expected) < 6, clip.name
            assert mean_abs_difference(clip.frames[1:], expected[:-1]) > mean_abs_difference(clip.frames, expected)
    test = load(tmp_path / "data", "test", cache=tmp_path / "cache")
    assert [clip.name for clip in test.clips] == ["other.mp4"] and len(test.clips[0]) == 5


def test_frame_folder_is_read_in_natural_name_order(tmp_path):
    frames = np.stack([np.full((SIZE, SIZE, 3), 20 * i, np.uint8) for i in range(12)])
    names = [f"frame{i + 1}.png" for i in range(12)]  # frame10.png sorts before frame2.png as text
    write_frame_folder(tmp_path / "data" / "train" / "ramp", frames, names)
    clip = load(tmp_path / "data", cache=tmp_path / "cache").clips[0]
    assert [int(frame[0, 0, 0]) for frame in clip.frames] == [20 * i for i in range(12)]


def test_non_square_frames_are_centre_cropped_then_resized(tmp_path):
    frame = np.zeros((64, 96, 3), np.uint8)
    frame[:, :16] = 255  # left band: cut away by the centre crop
    frame[:, 16:80] = 100
    frame[:, 80:] = 200  # right band: cut away
    write_frame_folder(tmp_path / "data" / "train" / "wide", np.stack([frame, frame]))
    clip = load(tmp_path / "data", cache=tmp_path / "cache").clips[0]
    assert np.all(clip.frames == 100)


def test_max_frames_keeps_the_first_frames(tmp_path):
    frames = np.stack([np.full((SIZE, SIZE, 3), 10 * i, np.uint8) for i in range(9)])
    write_strip(tmp_path / "data" / "train" / "strip.png", frames)
    clip = load(tmp_path / "data", cache=tmp_path / "cache", max_frames=4).clips[0]
    assert [int(frame[0, 0, 0]) for frame in clip.frames] == [0, 10, 20, 30]
    assert len(load(tmp_path / "data", cache=tmp_path / "cache").clips[0]) == 9  # a separate cache entry


# --------------------------------------------------------------------------- the split


def make_flat(root, names):
    for index, name in enumerate(names):
        write_strip(root / f"{name}.png", moving_shapes(3, 16, seed=index))


def test_flat_folder_split_is_deterministic_disjoint_and_complete(tmp_path):
    names = [f"video{i:02d}" for i in range(10)]
    make_flat(tmp_path / "flat", names)
    train = find_videos(tmp_path / "flat", "train")
    test = find_videos(tmp_path / "flat", "test")
    assert train == find_videos(tmp_path / "flat", "train") and test == find_videos(tmp_path / "flat", "test")
    assert len(test) == 2 and len(train) == 8
    assert not set(train) & set(test)
    assert sorted(p.stem for p in train + test) == names
    assert sorted(find_videos(tmp_path / "flat", "all")) == sorted(train + test)
    other_seeds = {tuple(find_videos(tmp_path / "flat", "test", seed=seed)) for seed in range(1, 6)}
    assert other_seeds - {tuple(test)}, "the seed must change the split"
    # the rule depends on names only: another folder with the same names splits the same way
    make_flat(tmp_path / "copy", reversed(names))
    assert [p.name for p in find_videos(tmp_path / "copy", "test")] == [p.name for p in test]


def test_shots_of_one_clip_stay_in_one_split(tmp_path):
    names = [f"clip{i}_shot{k}" for i in range(6) for k in (1, 2, 3)]
    make_flat(tmp_path / "flat", names)
    for seed in range(5):
        test = {p.stem.split("_")[0] for p in find_videos(tmp_path / "flat", "test", seed=seed)}
        train = {p.stem.split("_")[0] for p in find_videos(tmp_path / "flat", "train", seed=seed)}
        assert test and train and not test & train


def test_flat_split_loads_only_its_videos(tmp_path):
    make_flat(tmp_path / "flat", [f"v{i}" for i in range(5)])
    train = load(tmp_path / "flat", "train", cache=tmp_path / "cache")
    test = load(tmp_path / "flat", "test", cache=tmp_path / "cache")
    assert len(train) == 4 and len(test) == 1
    assert not {c.name for c in train.clips} & {c.name for c in test.clips}


# --------------------------------------------------------------------------- the cache


def test_second_load_reads_the_cache_without_decoding(tmp_path):
    video = write_video(tmp_path / "data" / "train" / "clip.mp4", moving_shapes(6, 48))
    cache = tmp_path / "cache"
    first = load(tmp_path / "data", cache=cache)
    cached = cache_path(cache, video, SIZE, None)
    assert cached.is_file() and list(cache.iterdir()) == [cached]

    # Replace the video by junk of the same size and modification time: only a load that
    # does not decode the file can still return its frames.
    stat = video.stat()
    video.write_bytes(b"\0" * stat.st_size)
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = load(tmp_path / "data", cache=cache)
    assert second.skipped == [] and np.array_equal(second.clips[0].frames, first.clips[0].frames)

    # A changed file (new modification time) is decoded again: now it is junk and skipped.
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(DatasetError, match="no usable video"):
        load(tmp_path / "data", cache=cache)


def test_a_damaged_cache_file_is_decoded_again(tmp_path):
    video = write_strip(tmp_path / "data" / "train" / "strip.png", moving_shapes(4, SIZE))
    cache = tmp_path / "cache"
    first = load(tmp_path / "data", cache=cache)
    cache_path(cache, video, SIZE, None).write_bytes(b"not an npy file")
    second = load(tmp_path / "data", cache=cache)
    assert np.array_equal(first.clips[0].frames, second.clips[0].frames)
    assert np.array_equal(np.load(cache_path(cache, video, SIZE, None)), first.clips[0].frames)


def test_an_unwritable_cache_warns_and_still_loads(tmp_path, caplog):
    write_strip(tmp_path / "data" / "train" / "strip.png", moving_shapes(4, SIZE))
    not_a_folder = tmp_path / "cache_is_a_file"
    not_a_folder.write_text("")
    with caplog.at_level(logging.WARNING):
        videos = load(tmp_path / "data", cache=not_a_folder)
    assert len(videos) == 1
    assert any("cannot write the frame cache" in r.getMessage() for r in skip_warnings(caplog))


def test_default_cache_is_in_the_user_cache_folder(tmp_path):
    video = write_strip(tmp_path / "data" / "train" / "strip.png", moving_shapes(4, SIZE))
    load(tmp_path / "data")
    cache = __import__("monkeycam.paths", fromlist=["cache_dir"]).cache_dir() / "frames"
    assert cache_path(cache, video, SIZE, None).is_file()


# --------------------------------------------------------------------------- bad data


def test_empty_or_missing_folders_raise_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no videos in .*empty"):
        load(tmp_path / "empty")
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load(tmp_path / "missing")
    (tmp_path / "split" / "train").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no videos in .*train"):
        load(tmp_path / "split")
    with pytest.raises(DatasetError, match="no test/ folder"):
        load(tmp_path / "split", "test")
    with pytest.raises(DatasetError, match="not a folder"):
        load(write_junk(tmp_path / "file.mp4"))


def write_bad_items(folder) -> dict[str, str]:
    """Every kind of bad item; returns file name -> a word its skip reason must contain."""
    write_junk(folder / "junk.mp4")
    write_truncated_mp4(folder / "truncated.mp4", moving_shapes(40, 48, seed=5), keep=0.6)
    with VideoWriter(folder / "one_frame.mp4") as writer:
        writer.write(moving_shapes(1, 48)[0])
    write_gif(folder / "one_frame.gif", moving_shapes(1, 48))
    write_strip(folder / "single_image.png", moving_shapes(1, 48))
    wide = np.zeros((48, 100, 3), np.uint8)
    write_frame_folder(folder / "mixed_sizes", [moving_shapes(1, 48)[0], wide])
    (folder / "wrong_width.png").parent.mkdir(parents=True, exist_ok=True)
    write_strip(folder / "wrong_width.png", [wide, wide])  # 48 x 200: not a multiple of 48
    (folder / "no_frames").mkdir()
    return {
        "junk.mp4": "unreadable", "truncated.mp4": "truncated", "one_frame.mp4": "too short",
        "one_frame.gif": "too short", "single_image.png": "too short", "mixed_sizes": "wrong frame size",
        "wrong_width.png": "not a multiple", "no_frames": "no frame images",
    }


def test_bad_items_are_skipped_with_one_warning_listing_them(tmp_path, caplog):
    train = tmp_path / "data" / "train"
    bad = write_bad_items(train)
    write_video(train / "good.mp4", moving_shapes(8, 48))
    with caplog.at_level(logging.WARNING):
        videos = load(tmp_path / "data", cache=tmp_path / "cache")
    assert [clip.name for clip in videos.clips] == ["good.mp4"]
    reasons = {path.name: reason for path, reason in videos.skipped}
    assert set(reasons) == set(bad)
    for name, word in bad.items():
        assert word in reasons[name], (name, reasons[name])
    warnings = skip_warnings(caplog)
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert f"skipped {len(bad)} of {len(bad) + 1}" in message
    for name in bad:
        assert name in message


def test_no_usable_video_raises_after_listing_them(tmp_path, caplog):
    bad = write_bad_items(tmp_path / "data")
    with caplog.at_level(logging.WARNING), pytest.raises(DatasetError) as error:
        load(tmp_path / "data", "all", cache=tmp_path / "cache")
    assert "no usable video" in str(error.value) and "\n" not in str(error.value)
    assert len(skip_warnings(caplog)) == 1 and all(name in skip_warnings(caplog)[0].getMessage() for name in bad)


def test_a_truncated_video_is_detected(tmp_path):
    frames = moving_shapes(40, 48, seed=6)
    truncated = write_truncated_mp4(tmp_path / "data" / "train" / "cut.mp4", frames, keep=0.7)
    write_video(tmp_path / "data" / "train" / "whole.mp4", frames)
    videos = load(tmp_path / "data", cache=tmp_path / "cache")
    assert [clip.name for clip in videos.clips] == ["whole.mp4"] and len(videos.clips[0]) == 40
    assert videos.skipped[0][0] == truncated and "truncated" in videos.skipped[0][1]
