"""``monkeycam bench``: per-stage milliseconds and frames per second for each backend."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from ..errors import UserError
from ..io.atomic import atomic_path, check_output
from ._engine_options import (
    add_animation_options,
    add_model_options,
    face_detection_choice,
    quiet_video_decoder,
    settings_from_args,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure the engine: per-stage ms and frames/s for each backend, with and without the source cache",
        description="Benchmark every available backend (or those named with --backend): network time (model "
        "time), end-to-end frame time by stage with the share spent outside the networks, and the same frames "
        "with the source cache disabled. Medians after a warm-up; CUDA is synchronised around timed steps.",
    )
    model = add_model_options(parser, several_backends=True)
    model.add_argument("--preset", default=None,
                       help="a model preset with random weights (speed does not depend on them)")
    parser.add_argument("--frames", type=int, default=100, help="timed frames per measurement (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed frames first (default 10)")
    parser.add_argument("--source", metavar="IMG", default=None, help="source portrait (default: a synthetic image)")
    parser.add_argument("--driving", metavar="VIDEO", default=None,
                        help="driving video (default: synthetic frames); up to 120 frames are preloaded")
    parser.add_argument("--json", metavar="OUT", default=None, help="also write the figures as JSON")
    add_animation_options(parser)
    parser.set_defaults(handler=run, absolute=False)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..engine import available_backends
    from ..engine.benchmark import as_json, benchmark_backend

    quiet_video_decoder()
    if args.frames < 1 or args.warmup < 0:
        raise UserError("--frames must be positive and --warmup not negative")
    args.backend_list = args.backend or available_backends()
    args.backend = "auto"
    settings = settings_from_args(args)
    json_path = _checked_json_path(args.json, args.checkpoint)
    model, model_name = _load_model(args)
    source, other, driving = _inputs(args, model.config.image_size)
    face = face_detection_choice(args)
    context = _context(args, model_name, model.config.image_size, face)
    print(f"bench: {model_name} ({model.config.image_size}x{model.config.image_size}), output {args.size}px, "
          f"{'face detection on' if face else 'no face detection'}, {args.frames} frames after {args.warmup} "
          f"warm-up, torch {torch.__version__}, {context['device']}", flush=True)
    results = []
    for name in args.backend_list:
        result = benchmark_backend(name, model, settings, source, other, driving, args.frames, args.warmup, face)
        _print_result(result)
        results.append(result)
    if json_path is not None:
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(as_json(results, context), indent=2))
        print(f"wrote {json_path}")
    return 0 if any(result.available for result in results) else 1


def _checked_json_path(path: str | None, checkpoint: str | None) -> Path | None:
    if path is None:
        return None
    json_path = check_output(path, inputs=[checkpoint], what="--json")
    if not json_path.parent.is_dir():
        raise UserError(f"output folder does not exist: {json_path.parent}")
    if not os.access(json_path.parent, os.W_OK):
        raise UserError(f"output folder is not writable: {json_path.parent}")
    return json_path


def _load_model(args: argparse.Namespace):
    import torch

    from ..engine import load_engine_model
    from ..model import build_model, preset

    if args.preset:
        try:
            config = preset(args.preset)
        except KeyError as error:
            raise UserError(str(error).strip("'\"")) from None
        torch.manual_seed(0)
        return build_model(config, with_discriminator=False).eval(), f"preset {args.preset} (random weights)"
    model, info = load_engine_model(settings_from_args(args))
    return model, f"{info.path} ('{info.config.name}')"


def _inputs(args: argparse.Namespace, image_size: int):
    """(source portrait, a second portrait, driving frames)."""
    import numpy as np

    from ..engine.benchmark import synthetic_frames
    from ..io import iter_video, read_image

    if args.source:
        source = read_image(args.source)
    else:
        source = synthetic_frames(1, 512, 512, seed=1)[0]
    other = np.ascontiguousarray(source[:, ::-1])
    if args.driving:
        driving = list(iter_video(args.driving, max_frames=120))
    else:
        driving = synthetic_frames(64)
    return source, other, driving


def _context(args: argparse.Namespace, model_name: str, image_size: int, face: bool) -> dict:
    import torch

    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    else:
        device = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    return {
        "model": model_name, "image_size": image_size, "output_size": args.size, "frames": args.frames,
        "warmup": args.warmup, "face_detection": face, "torch": torch.__version__, "device": device,
        "source": args.source or "synthetic", "driving": args.driving or "synthetic",
        "paste_back": args.paste_back,
    }


def _print_result(result) -> None:
    if not result.available:
        print(f"\n[{result.backend}] unavailable: {result.reason}")
        return
    frame = result.frame
    print(f"\n[{result.backend}] {result.description} (built in {result.build_s:.1f} s)")
    print(f"  model time   keypoints {result.network_keypoints_ms:7.2f} ms + generator "
          f"{result.network_generator_ms:7.2f} ms = {result.network_ms:7.2f} ms  -> {result.network_fps:7.1f} frames/s")
    print(f"  end to end   crop {frame['crop_ms']:6.2f} | keypoints {frame['keypoints_ms']:6.2f} | generator "
          f"{frame['generator_ms']:6.2f} | paste {frame['paste_ms']:6.2f} | total {frame['total_ms']:7.2f} ms"
          f" (mean {frame['mean_total_ms']:.2f})  -> {result.frame_fps:7.1f} frames/s; outside the networks "
          f"{100 * result.outside_share:4.1f}%")
    print(f"  no cache     total {result.uncached_frame_ms:7.2f} ms -> {result.uncached_fps:7.1f} frames/s; "
          f"the source cache makes frames {result.cache_speedup:.2f}x faster")
    print(f"  source       new {result.source_prepare_ms:7.2f} ms, switching back (cached) "
          f"{result.source_switch_back_ms:6.3f} ms")
