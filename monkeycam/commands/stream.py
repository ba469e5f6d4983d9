"""``monkeycam stream``: headless live animation to the virtual camera and/or a video file."""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

from ..errors import UserError
from ..io.atomic import check_output
from ..live.api import DEFAULT_FPS_CAP, DEFAULT_FRAME_SIZE, format_frame_size
from ._engine_options import (
    add_animation_options,
    add_model_options,
    face_detection_choice,
    quiet_video_decoder,
    settings_from_args,
    warn,
)

REPORT_EVERY_SECONDS = 1.0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "stream",
        help="live animation from a camera, a video or scripted motion to a virtual camera",
        description="Animate a portrait live, headless: driving motion from a camera, a video file (looped) "
        "or a built-in scripted head movement; output to a virtual camera (--vcam) and/or a video file "
        "(--out), both the same frames: the portrait with the animated face pasted back (--no-paste-back: "
        "the face crop alone), filling --vcam-size at up to --fps frames per second. Prints frames per second, latency and skipped frames (camera frames replaced by a newer one "
        "while the model was busy) every second.",
    )
    parser.add_argument("--source", required=True, metavar="IMG", help="source portrait")
    driving = parser.add_mutually_exclusive_group()
    driving.add_argument("--camera", type=int, metavar="N", default=None, help="camera index (default 0)")
    driving.add_argument("--driving", metavar="VIDEO", default=None, help="driving video file (looped)")
    driving.add_argument("--scripted", action="store_true", help="built-in head movement (no camera needed)")
    parser.add_argument("--vcam", action="store_true", help="send the animation to a virtual camera")
    parser.add_argument("--vcam-backend", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--vcam-size", metavar="WxH", default=format_frame_size(DEFAULT_FRAME_SIZE),
                        help="the frame the call and --out receive, e.g. 640x480, 1280x720, 1920x1080 "
                        "(default %(default)s): the portrait fills it like a webcam picture, no black bars")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS_CAP, metavar="N",
                        help="at most this many frames per second (default %(default)s; 15 or 24 leave a slow "
                        "machine's CPU to the call); a video read with --unpaced is not capped")
    parser.add_argument("--out", metavar="FILE", default=None, help="also record to a video file (.mp4/.avi/.webm)")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--frames", type=int, default=None, help="stop after this many output frames")
    stop.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--unpaced", action="store_true",
                        help="read the video as fast as inference takes it instead of at its frame rate")
    add_model_options(parser)
    add_animation_options(parser, square_output=False)
    parser.set_defaults(handler=run)


def driving_spec(args: argparse.Namespace):
    """The DrivingSpec the options name, after checking the camera or video can be opened."""
    from ..io import Camera, probe_video
    from ..live.api import DrivingSpec

    if args.scripted:
        return DrivingSpec(kind="scripted", paced=not args.unpaced)
    if args.driving:
        probe_video(args.driving)
        return DrivingSpec(kind="video", path=args.driving, loop=True, paced=not args.unpaced)
    index = 0 if args.camera is None else args.camera
    Camera(index).close()  # CameraError names the cameras that exist
    return DrivingSpec(kind="camera", camera_index=index)


class _Monitor:
    """Counts output frames and keeps their stage timings (called on the output thread)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.done = threading.Event()
        self.first: float | None = None
        self.last: float | None = None
        self.count = 0
        self.totals: list[float] = []
        self.latencies: list[float] = []

    def on_frame(self, live) -> None:
        now = time.monotonic()
        self.first = self.first or now
        self.last = now
        self.count += 1
        self.totals.append(live.animated.timings.total_ms)
        self.latencies.append(live.animated.timings.latency_ms)
        if self.limit is not None and self.count >= self.limit:
            self.done.set()


def run(args: argparse.Namespace) -> int:
    from ..engine import create_engine
    from ..io import read_image
    from ..live import LivePipeline

    quiet_video_decoder()
    if args.frames is not None and args.frames < 1 or args.seconds is not None and args.seconds <= 0:
        raise UserError("--frames and --seconds must be positive")
    if args.out:
        check_output(args.out, inputs=[args.source, args.driving, args.checkpoint], what="--out")
    settings = settings_from_args(args)
    source = read_image(args.source)
    spec = driving_spec(args)
    engine = create_engine(settings, face_detection=face_detection_choice(args), on_status=warn)
    monitor = _Monitor(args.frames)
    errors: list[str] = []
    pipeline = LivePipeline(
        settings, spec, source_image=source, engine=engine, on_frame=monitor.on_frame,
        on_error=lambda message: (errors.append(message), warn(message)), on_status=warn,
        vcam_backend=args.vcam_backend,
    )
    if args.out:
        pipeline.start_recording(args.out)  # MediaError for a bad path, before anything runs
    try:
        _open_vcam(pipeline, args)
        print(f"streaming {_describe(spec)} with {engine.backend_reason}", flush=True)
        pipeline.start()
        _wait_and_report(pipeline, monitor, args.seconds)
    finally:
        pipeline.stop()
    _print_summary(pipeline, monitor)
    if args.out and pipeline.recording_error:
        return 1  # the reason was said on stderr when it happened; no earlier file was replaced
    return 1 if errors and monitor.count == 0 else 0


def _open_vcam(pipeline, args: argparse.Namespace) -> None:
    if not args.vcam:
        return
    status = pipeline.set_virtual_camera(True)
    if status.on:
        print(status.describe(), flush=True)
        return
    if not args.out:
        raise UserError(status.describe())  # nothing else to show the animation on
    warn(status.describe() + " (continuing with the recording only)")


def _describe(spec) -> str:
    if spec.kind == "camera":
        return f"camera {spec.camera_index}"
    if spec.kind == "video":
        return f"video {spec.path}" + ("" if spec.paced else " (unpaced)")
    return "scripted motion"


def _wait_and_report(pipeline, monitor: _Monitor, seconds: float | None) -> None:
    start = time.monotonic()
    while pipeline.running and not monitor.done.is_set():
        remaining = None if seconds is None else seconds - (time.monotonic() - start)
        if remaining is not None and remaining <= 0:
            break
        monitor.done.wait(REPORT_EVERY_SECONDS if remaining is None else min(REPORT_EVERY_SECONDS, remaining))
        stats = pipeline.stats()
        print(f"{stats.fps:5.1f} fps | latency {stats.latency_ms:6.1f} ms | skipped {stats.dropped:4d} | "
              f"frames {stats.processed:5d} | {stats.backend}", flush=True)


def _print_summary(pipeline, monitor: _Monitor) -> None:
    stats = pipeline.stats()
    if monitor.count < 2 or monitor.first is None or monitor.last is None or monitor.last <= monitor.first:
        print(f"{monitor.count} frame(s) processed", file=sys.stdout)
        return
    fps = (monitor.count - 1) / (monitor.last - monitor.first)
    print(
        f"done: {monitor.count} frames, {fps:.1f} frames/s end to end, engine median "
        f"{statistics.median(monitor.totals):.1f} ms/frame, median latency "
        f"{statistics.median(monitor.latencies):.1f} ms, "
        f"{stats.dropped} camera frames skipped (a newer one arrived)"
    )
