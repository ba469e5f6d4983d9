"""``monkeycam animate``: animate a portrait with the motion of a driving video (offline)."""

from __future__ import annotations

import argparse
import statistics
import time

from ..errors import UserError
from ..io.atomic import check_output
from ._engine_options import (
    add_animation_options,
    add_model_options,
    face_detection_choice,
    quiet_video_decoder,
    settings_from_args,
    warn,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "animate",
        help="animate a portrait with the motion of a driving video into a video file",
        description="Animate the face in a source portrait with the motion of the face in a driving video "
        "(the paper's image animation task) and write the result as a video file.",
    )
    parser.add_argument("--source", required=True, metavar="IMG", help="source portrait (png, jpg, ...)")
    parser.add_argument("--driving", required=True, metavar="VIDEO", help="driving video")
    parser.add_argument("--out", required=True, metavar="OUT", help="output video (.mp4, .avi or .webm)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many driving frames")
    add_model_options(parser)
    add_animation_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import create_engine
    from ..io import VideoWriter, iter_video, probe_video, read_image

    quiet_video_decoder()
    check_output(args.out, inputs=[args.source, args.driving, args.checkpoint], what="--out")
    if args.max_frames is not None and args.max_frames < 1:
        raise UserError(f"--max-frames must be at least 1, got {args.max_frames}")
    settings = settings_from_args(args)
    source = read_image(args.source)
    video = probe_video(args.driving)
    with VideoWriter(args.out, fps=video.fps) as writer:  # checks the output path first; no partial file
        engine = create_engine(settings, face_detection=face_detection_choice(args), on_status=warn)
        info = engine.set_source(source)
        if info.warning:
            warn(info.warning)
        frame_ms = _animate_frames(engine, iter_video(args.driving, args.max_frames), writer, video, args)
    print(
        f"wrote {args.out}: {writer.frames_written} frames at {video.fps:g} fps; backend {engine.backend.description}; "
        f"median {statistics.median(frame_ms):.1f} ms per frame"
    )
    return 0


def _animate_frames(engine, frames, writer, video, args: argparse.Namespace) -> list[float]:
    """Process every driving frame into ``writer``; returns the per-frame milliseconds."""
    from tqdm import tqdm

    total = min(video.frame_count, args.max_frames) if args.max_frames else video.frame_count
    frame_ms = []
    with tqdm(total=total or None, unit="frame", desc="animate", disable=None) as progress:
        for index, frame in enumerate(frames):
            start = time.perf_counter()
            result = engine.process(frame, timestamp=index / video.fps)
            frame_ms.append((time.perf_counter() - start) * 1000)
            writer.write(result.image)
            progress.update(1)
    return frame_ms
