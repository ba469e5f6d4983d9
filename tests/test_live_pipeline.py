"""The live pipeline: latest-frame-wins hand-off under a slow engine, clean stops, a camera that
disappears, scripted motion through a real engine into a registered virtual camera, recording,
and errors that are reported instead of freezing the picture.

The slow engine is :class:`FakeEngine` with a delay: the thing under test is the pipeline.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from monkeycam.checkpoint import save_checkpoint
from monkeycam.engine import create_engine
from monkeycam.io import MediaError, VideoWriter, probe_video
from monkeycam.live import DrivingSpec, EngineError, EngineSettings, LatestSlot, LivePipeline, VirtualCameraStatus
from monkeycam.live.sources import CameraSource, DrivingItem
from monkeycam.model import build_model, preset
from tests.fakes import FakeEngine

SOURCE = np.random.default_rng(0).integers(0, 256, (120, 100, 3), dtype=np.uint8)


class CountingSource:
    """Numbered frames (the index is written into the first pixels) at ``fps``, in real time."""

    name = "counting source"
    paced = True

    def __init__(self, fps: float = 200.0) -> None:
        self.fps = fps
        self.captured = 0

    def open(self) -> None:
        self.captured = 0

    def read(self, stop: threading.Event) -> DrivingItem | None:
        if stop.wait(1.0 / self.fps):
            return None
        frame = np.zeros((48, 48, 3), dtype=np.uint8)
        frame[0, 0, :3] = np.frombuffer(self.captured.to_bytes(3, "big"), dtype=np.uint8)
        self.captured += 1
        now = time.monotonic()
        return DrivingItem(frame, now, now)

    def close(self) -> None:
        pass


def frame_index(frame: np.ndarray) -> int:
    return int.from_bytes(bytes(frame[0, 0, :3]), "big")


class Collector:
    """on_frame/on_error/on_status sinks that can wait for a number of frames."""

    def __init__(self) -> None:
        self.frames = []
        self.errors: list[str] = []
        self.statuses: list[str] = []
        self._condition = threading.Condition()

    def on_frame(self, live) -> None:
        with self._condition:
            self.frames.append(live)
            self._condition.notify_all()

    def on_error(self, message: str) -> None:
        with self._condition:
            self.errors.append(message)
            self._condition.notify_all()

    def on_status(self, message: str) -> None:
        with self._condition:
            self.statuses.append(message)
            self._condition.notify_all()

    def wait_for(self, predicate, timeout: float = 60.0) -> None:
        with self._condition:
            assert self._condition.wait_for(predicate, timeout), "timed out waiting for the pipeline"

    def callbacks(self) -> dict:
        return {"on_frame": self.on_frame, "on_error": self.on_error, "on_status": self.on_status}


def pipeline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("monkeycam-") and t.is_alive()]


def write_video(path: Path, frames: int, size: int = 48, fps: float = 25.0) -> Path:
    with VideoWriter(path, fps=fps) as writer:
        for index in range(frames):
            frame = np.full((size, size, 3), 20, dtype=np.uint8)
            frame[:, (index * 3) % size :] = 200
            writer.write(frame)
    return path


# --------------------------------------------------------------------------- hand-off


def test_latest_slot_keeps_the_newest_item_and_counts_drops():
    slot: LatestSlot[int] = LatestSlot()
    for item in range(5):
        slot.put(item)
    assert slot.take(timeout=0.1) == 4
    assert slot.dropped == 4
    assert slot.take(timeout=0.01) is None
    taken = []
    consumer = threading.Thread(target=lambda: taken.extend([slot.take(5.0), slot.take(5.0)]))
    consumer.start()
    assert slot.put_when_empty(10) and slot.put_when_empty(11)  # waits for the consumer instead of dropping
    consumer.join(5.0)
    assert taken == [10, 11] and slot.dropped == 4
    slot.close()
    assert slot.put_when_empty(12) is False


def test_a_slow_engine_makes_the_pipeline_drop_stale_frames_instead_of_queueing():
    source = CountingSource(fps=200.0)
    engine = FakeEngine(EngineSettings(output_size=32), delay_s=0.08)
    sink = Collector()
    pipeline = LivePipeline(EngineSettings(output_size=32), source, source_image=SOURCE, engine=engine,
                            **sink.callbacks())
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 12)
    pipeline.stop()
    stats = pipeline.stats()
    indices = [frame_index(live.driving) for live in sink.frames]
    assert stats.dropped > 5 * stats.processed  # the camera ran ~16x faster than the engine
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    # a queue would hand frame k to the k-th inference; latest-wins hands the newest frame
    assert indices[-1] > 5 * len(indices)
    assert all(live.animated.timings.latency_ms < 1000 for live in sink.frames[2:])  # a queue: seconds, growing
    assert stats.processed >= 12 and stats.backend == "fake"


def test_stop_joins_every_thread_and_can_be_called_twice():
    sink = Collector()
    pipeline = LivePipeline(EngineSettings(output_size=32), CountingSource(100.0), source_image=SOURCE,
                            engine=FakeEngine(delay_s=0.01), **sink.callbacks())
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 3)
    assert pipeline.running and len(pipeline_threads()) == 3
    pipeline.stop(timeout=5.0)
    pipeline.stop(timeout=5.0)
    assert not pipeline.running and pipeline_threads() == []
    assert not any("did not stop" in message for message in sink.errors)
    pipeline.start()  # restartable, e.g. after the GUI's stop button
    sink.wait_for(lambda: len(sink.frames) >= 6)
    pipeline.stop()
    assert pipeline_threads() == []


def test_an_unpaced_video_is_processed_frame_by_frame_without_drops(tmp_path):
    video = write_video(tmp_path / "drive.avi", frames=15)
    sink = Collector()
    engine = FakeEngine(delay_s=0.005)
    spec = DrivingSpec(kind="video", path=str(video), loop=False, paced=False)
    pipeline = LivePipeline(EngineSettings(output_size=32), spec, source_image=SOURCE, engine=engine,
                            **sink.callbacks())
    pipeline.start()
    sink.wait_for(lambda: any("ended" in message for message in sink.statuses))
    sink.wait_for(lambda: len(sink.frames) == 15, timeout=10)
    pipeline.stop()
    assert engine.processed == 15 and pipeline.stats().dropped == 0


# --------------------------------------------------------------------------- failures


class CountedCamera(CameraSource):
    """A camera opened from a device path that counts its (re)open attempts."""

    def __init__(self, device: str) -> None:
        super().__init__(device)
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        super().open()


def test_a_camera_that_disappears_is_reported_retried_calmly_and_picked_up_again(tmp_path):
    video = write_video(tmp_path / "camera.avi", frames=40)
    kept = video.read_bytes()
    camera = CountedCamera(str(video))
    sink = Collector()
    pipeline = LivePipeline(EngineSettings(output_size=32), camera, source_image=SOURCE,
                            engine=FakeEngine(delay_s=0.002), retry_seconds=0.2, **sink.callbacks())
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 1)
    video.unlink()  # unplugged: frames stop, and reopening fails
    sink.wait_for(lambda: any("not found" in message for message in sink.errors))
    opens_before = camera.opens
    time.sleep(1.0)
    assert pipeline.running
    assert camera.opens - opens_before <= 8  # about one attempt per 0.2 s, not a busy loop
    assert any("stopped delivering frames" in message for message in sink.errors)
    assert len(sink.errors) <= 3  # the same failure is reported once
    seen = len(sink.frames)
    video.write_bytes(kept)  # plugged back in
    sink.wait_for(lambda: any("is back" in message for message in sink.statuses))
    sink.wait_for(lambda: len(sink.frames) > seen)
    pipeline.stop()
    assert pipeline_threads() == []


def test_an_engine_that_cannot_start_is_reported_and_the_pipeline_stops():
    def factory(settings, on_status):
        raise EngineError("the default model weights/face64.safetensors is missing")

    sink = Collector()
    pipeline = LivePipeline(EngineSettings(), CountingSource(50.0), source_image=SOURCE, engine_factory=factory,
                            **sink.callbacks())
    pipeline.start()
    sink.wait_for(lambda: bool(sink.errors))
    assert "face64.safetensors" in sink.errors[0]
    deadline = time.monotonic() + 5
    while pipeline.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pipeline.running
    pipeline.stop()
    assert pipeline_threads() == []


def test_a_failing_preview_callback_is_reported_and_frames_keep_coming():
    sink = Collector()

    def broken_preview(live) -> None:
        sink.on_frame(live)
        raise KeyError("widget deleted")

    pipeline = LivePipeline(EngineSettings(output_size=32), CountingSource(100.0), source_image=SOURCE,
                            engine=FakeEngine(), on_frame=broken_preview, on_error=sink.on_error)
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 5)
    pipeline.stop()
    assert any("preview callback failed" in message for message in sink.errors)


# --------------------------------------------------------------------------- sinks


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("live") / "face64.safetensors"
    save_checkpoint(path, build_model(preset("face64")), include_discriminator=False)
    return str(path)


class RecordingVirtualCamera:
    """A pyvirtualcam backend that keeps what it receives (registered under a test name)."""

    received: list[np.ndarray] = []
    opened: ClassVar[list[tuple[int, int, float]]] = []  # (width, height, fps) of each opening

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        self.size = (width, height)
        RecordingVirtualCamera.received = []
        RecordingVirtualCamera.opened.append((width, height, fps))

    def send(self, frame: np.ndarray) -> None:
        RecordingVirtualCamera.received.append(frame.copy())

    def close(self) -> None:
        pass

    def device(self) -> str:
        return "test-vcam"

    def native_fourcc(self):
        return None


@pytest.fixture
def test_vcam_backend():
    """Registers RecordingVirtualCamera as pyvirtualcam backend "monkeycam-test", then removes it."""
    pyvirtualcam = pytest.importorskip("pyvirtualcam")
    from pyvirtualcam.camera import BACKENDS

    pyvirtualcam.register_backend("monkeycam-test", RecordingVirtualCamera)
    yield "monkeycam-test"
    BACKENDS.pop("monkeycam-test", None)


def test_scripted_motion_from_a_real_engine_reaches_a_registered_virtual_camera(checkpoint, test_vcam_backend):
    settings = EngineSettings(checkpoint=checkpoint, backend="cpu", output_size=96)
    engine = create_engine(settings, face_detection=False)
    sink = Collector()
    pipeline = LivePipeline(settings, DrivingSpec(kind="scripted", fps=60.0), source_image=SOURCE, engine=engine,
                            vcam_backend="monkeycam-test", **sink.callbacks())
    assert pipeline.set_virtual_camera(True) == VirtualCameraStatus("on", "test-vcam", 96, 96, fps=60.0)
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 6)
    pipeline.stop()
    received = RecordingVirtualCamera.received
    assert len(received) >= 6
    assert all(frame.size == 96 * 96 * 3 for frame in received)
    previews = [live.animated.image for live in sink.frames]
    assert any(np.array_equal(received[2].reshape(96, 96, 3), image) for image in previews)
    assert len({image.tobytes() for image in previews}) > 1  # the scripted head moves
    assert all(live.driving is None for live in sink.frames)


def test_a_call_gets_the_portrait_pasted_back_and_filling_the_frame_size(checkpoint, test_vcam_backend):
    settings = EngineSettings(checkpoint=checkpoint, backend="cpu", paste_back=True, frame_size=(640, 480), fps_cap=24)
    engine = create_engine(settings, face_detection=False)
    sink = Collector()
    portrait = np.random.default_rng(4).integers(60, 200, (300, 200, 3), dtype=np.uint8)  # taller than 4:3
    pipeline = LivePipeline(settings, DrivingSpec(kind="scripted", fps=30.0), source_image=portrait, engine=engine,
                            vcam_backend="monkeycam-test", **sink.callbacks())
    RecordingVirtualCamera.opened = []
    assert pipeline.set_virtual_camera(True) == VirtualCameraStatus("on", "test-vcam", 640, 480, fps=24.0)
    assert RecordingVirtualCamera.opened == [(640, 480, 24.0)]  # announced at the cap
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 4)
    pipeline.update_settings(settings.updated(frame_size=(1280, 720)))  # reopened at the new size
    sink.wait_for(lambda: sink.frames[-1].animated.image.shape == (720, 1280, 3))
    sink.wait_for(lambda: len(RecordingVirtualCamera.received) >= 3)
    pipeline.stop()
    assert [opened[:2] for opened in RecordingVirtualCamera.opened] == [(640, 480), (1280, 720)]
    assert "virtual camera on: test-vcam (1280x720, 24 fps)" in sink.statuses
    received = RecordingVirtualCamera.received[-1].reshape(720, 1280, 3)
    previews = [live.animated.image for live in sink.frames if live.animated.image.shape == (720, 1280, 3)]
    assert any(np.array_equal(received, image) for image in previews)  # the preview shows what the call gets
    for edge in (received[0], received[-1], received[:, 0], received[:, -1]):
        assert edge.max() > 40  # no black bars around the portrait
    overlay = sink.frames[-1].animated.keypoints.means
    assert overlay[:, 0].min() > 0 and overlay[:, 0].max() < 1280 and overlay[:, 1].max() < 720 * 1.5


def fps_over(pipeline: LivePipeline, sink: Collector, seconds: float) -> float:
    """Output frames per second delivered over ``seconds`` (after a warm-up)."""
    sink.wait_for(lambda: len(sink.frames) >= 3)
    start, count = time.monotonic(), len(sink.frames)
    time.sleep(seconds)
    return (len(sink.frames) - count) / (time.monotonic() - start)


def test_the_frame_rate_cap_limits_a_real_engine_without_counting_skipped_frames(checkpoint):
    settings = EngineSettings(checkpoint=checkpoint, backend="cpu", output_size=64, fps_cap=15)
    engine = create_engine(settings, face_detection=False)
    sink = Collector()
    pipeline = LivePipeline(settings, DrivingSpec(kind="scripted", fps=60.0), source_image=SOURCE, engine=engine,
                            **sink.callbacks())
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 3)
    before, started = pipeline.stats(), time.monotonic()
    capped = fps_over(pipeline, sink, 2.0)
    after, seconds = pipeline.stats(), time.monotonic() - started
    pipeline.stop()
    assert 3 <= capped <= 16, capped
    # what passed the cap (run, or replaced while the model was busy) is ~15 a second of the
    # source's 60, however fast or loaded the machine: the cap thins the input, and the frames
    # it holds back are not counted as skipped
    admitted = (after.processed - before.processed) + (after.dropped - before.dropped)
    assert admitted <= 15 * seconds + 3, (admitted, seconds)
    assert sink.errors == []


def test_paste_back_frames_open_the_virtual_camera_at_the_portrait_size(test_vcam_backend):
    sink = Collector()
    settings = EngineSettings(output_size=64, paste_back=True)
    pipeline = LivePipeline(settings, CountingSource(60.0), source_image=np.zeros((121, 90, 3), np.uint8),
                            engine=FakeEngine(settings), vcam_backend="monkeycam-test", **sink.callbacks())
    assert pipeline.set_virtual_camera(True).describe() == "virtual camera on: test-vcam (90x120, 60 fps)"
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 3)
    pipeline.stop()
    assert all(frame.size == 90 * 120 * 3 for frame in RecordingVirtualCamera.received)


@pytest.mark.skipif(not sys.platform.startswith("linux") or bool(list(Path("/dev").glob("video*"))),
                    reason="needs Linux without any /dev/video* device (a v4l2loopback device would open)")
def test_without_a_virtual_camera_device_the_message_says_how_to_get_one_and_the_preview_keeps_running():
    pytest.importorskip("pyvirtualcam")
    sink = Collector()
    pipeline = LivePipeline(EngineSettings(output_size=32), CountingSource(100.0), source_image=SOURCE,
                            engine=FakeEngine(), vcam_backend="v4l2loopback", **sink.callbacks())
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 2)
    status = pipeline.set_virtual_camera(True)
    assert status.state == "unavailable" and not status.on
    message = status.describe()
    assert message.startswith("virtual camera unavailable")
    assert "modprobe v4l2loopback devices=1 exclusive_caps=1" in message and "OBS Studio" in message
    assert "\n" not in message
    seen = len(sink.frames)
    sink.wait_for(lambda: len(sink.frames) >= seen + 5)
    assert pipeline.running
    pipeline.stop()


def test_recording_writes_a_file_and_a_bad_path_fails_at_once(tmp_path):
    sink = Collector()
    settings = EngineSettings(output_size=32)
    pipeline = LivePipeline(settings, DrivingSpec(kind="scripted", fps=50.0), source_image=SOURCE,
                            engine=FakeEngine(settings), **sink.callbacks())
    with pytest.raises(MediaError, match="does not exist"):
        pipeline.start_recording(str(tmp_path / "missing" / "out.avi"))
    pipeline.start_recording(str(tmp_path / "out.avi"))
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 10)
    written = pipeline.stop_recording()
    pipeline.stop()
    assert written == str(tmp_path / "out.avi")
    info = probe_video(written)
    assert (info.width, info.height) == (32, 32) and info.frame_count >= 8
    assert pipeline.stop_recording() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.avi"]  # no temporary file left


def test_the_engine_is_built_on_the_inference_thread_so_start_returns_at_once(checkpoint):
    sink = Collector()
    settings = EngineSettings(checkpoint=checkpoint, backend="cpu", output_size=64)
    pipeline = LivePipeline(settings, DrivingSpec(kind="scripted", fps=30.0), source_image=SOURCE,
                            engine_factory=create_engine, **sink.callbacks())
    assert pipeline.engine is None
    pipeline.start()
    sink.wait_for(lambda: len(sink.frames) >= 3)
    pipeline.reset_reference()
    pipeline.update_settings(settings.updated(output_size=48))
    sink.wait_for(lambda: sink.frames[-1].animated.image.shape == (48, 48, 3))
    pipeline.stop()
    assert sink.statuses[0] == "loading the model"
    assert any(message.startswith("backend: cpu as requested") for message in sink.statuses)
    assert pipeline.stats().backend == "cpu" and sink.errors == []
