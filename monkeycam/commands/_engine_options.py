"""Command-line options shared by animate, stream and bench: they edit one EngineSettings,
the same object the GUI edits."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from ..errors import UserError
from ..live.api import BACKEND_NAMES, EngineSettings, SettingsError

# The option that sets each EngineSettings field, to name it in errors.
FLAGS = {"output_size": "--size", "smoothing": "--smoothing", "crop_scale": "--crop-scale", "threads": "--threads",
         "backend": "--backend", "checkpoint": "--checkpoint", "pose_strength": "--pose-strength",
         "expression_strength": "--expression-strength", "frame_size": "--vcam-size", "fps_cap": "--fps"}


def add_model_options(parser: argparse.ArgumentParser, several_backends: bool = False) -> argparse._MutuallyExclusiveGroup:
    """--checkpoint, --backend and --threads. ``several_backends``: --backend may be repeated
    (default: every backend available here) instead of naming one (default auto). Returns the
    group --checkpoint belongs to, for options that exclude it (bench's --preset)."""
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--checkpoint", metavar="FILE", default=None,
                       help="model checkpoint (.safetensors); default: the shipped model for this device")
    if several_backends:
        parser.add_argument("--backend", action="append", default=None, choices=BACKEND_NAMES[1:],
                            help="backend to measure (repeatable; default: all available)")
    else:
        parser.add_argument("--backend", choices=BACKEND_NAMES, default="auto",
                            help="inference backend; auto picks the fastest that works here and says why")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for the networks (0: automatic)")
    return model


def add_animation_options(parser: argparse.ArgumentParser, square_output: bool = True) -> None:
    """The motion and output options. ``square_output`` False: the command lays its output out in a
    frame size of its own (stream): --size is accepted but not offered, and paste-back is on by
    default (a call gets the whole portrait)."""
    parser.add_argument("--size", type=int, default=256,
                        help="side of the square output in pixels (default 256)" if square_output else argparse.SUPPRESS)
    parser.add_argument("--absolute", action="store_true",
                        help="absolute motion transfer (default: relative to the first driving frame)")
    parser.add_argument("--adapt-scale", action="store_true",
                        help="scale the motion by the ratio of source and driving face sizes")
    parser.add_argument("--adapt-covariance", action="store_true", help="adapt keypoint covariances to the source")
    parser.add_argument("--smoothing", type=float, default=0.5,
                        help="keypoint smoothing against jitter, 0 (off) .. 1 (strong); default 0.5")
    if square_output:
        paste_help = "paste the animated face back into the full portrait (default: off; the output then has the " \
                     "portrait's size)"
    else:
        paste_help = "the whole portrait with the animated face pasted back (default: on); off: the face crop alone"
    parser.add_argument("--paste-back", action=argparse.BooleanOptionalAction, default=not square_output,
                        help=paste_help)
    parser.add_argument("--crop-scale", type=float, default=2.0, help="face crop size relative to the detected face")
    parser.add_argument("--mirror", action="store_true", help="flip driving frames horizontally")
    parser.add_argument("--pose-strength", type=float, default=1.0, metavar="S",
                        help="head motion (rotation, scale, position) copied, 0 (head stays put) .. 2; default 1")
    parser.add_argument("--expression-strength", type=float, default=1.0, metavar="S",
                        help="local motion (eyes, mouth) copied, 0 (neutral face) .. 2; default 1")
    parser.add_argument("--no-face", action="store_true",
                        help="skip face detection: animate whole frames (automatic when mediapipe is missing)")


def settings_from_args(args: argparse.Namespace) -> EngineSettings:
    """The EngineSettings the options describe (UserError naming the option for a bad value)."""
    try:
        return EngineSettings(
            checkpoint=args.checkpoint, backend=args.backend, relative=not args.absolute,
            adapt_scale=args.adapt_scale, adapt_covariance=args.adapt_covariance, smoothing=args.smoothing,
            paste_back=args.paste_back, output_size=args.size, mirror=args.mirror, crop_scale=args.crop_scale,
            threads=args.threads, pose_strength=args.pose_strength, expression_strength=args.expression_strength,
            frame_size=getattr(args, "vcam_size", None), fps_cap=getattr(args, "fps", None),
        )
    except SettingsError as error:
        raise UserError(f"{FLAGS.get(error.field, error.field)} {error.requirement}, got {error.value}") from None


def face_detection_choice(args: argparse.Namespace) -> bool:
    """False when --no-face was given or mediapipe is missing (said on stderr), else True."""
    if getattr(args, "no_face", False):
        return False
    if importlib.util.find_spec("mediapipe") is None:
        warn("mediapipe is not installed: face detection is skipped and whole frames are animated")
        return False
    return True


def warn(message: str) -> None:
    print(f"monkeycam: {message}", file=sys.stderr)


def quiet_video_decoder() -> None:
    """Keep FFmpeg's own log lines (e.g. "moov atom not found") off stderr: the commands report
    an unreadable video in one line of their own. Read by OpenCV when it first opens a video,
    so call this before any video is opened; the user's own setting wins."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
