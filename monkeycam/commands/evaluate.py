"""``monkeycam evaluate --checkpoint CKPT --data DIR``: video reconstruction metrics (L1, AKD, MKR)."""

from __future__ import annotations

import argparse

from ..errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="video reconstruction on the test videos: L1, AKD, MKR, and the no-motion baseline",
        description="Reconstruct every test video from its first frame (source = frame 0, driving = every "
        "frame, absolute driving keypoints, as in the paper's reconstruction task) and report, for the model "
        "and for the 'no motion' baseline (the source frame repeated): L1 = mean absolute pixel error on a "
        "[0, 1] scale; AKD = mean distance in pixels, at the evaluation resolution (the model's image size), "
        "between the mediapipe face-mesh landmarks of the real and the generated frame -- face mesh is "
        "unreliable on small images, so both frames are upscaled (bicubic) to at least 256 px before it runs "
        "and the distances are divided back by the same factor; MKR = fraction of frames with landmarks in "
        "the real frame but none in the generated one. AKD and MKR are computed for faces only.",
    )
    parser.add_argument("--checkpoint", required=True, help="monkeycam .safetensors checkpoint")
    parser.add_argument("--data", required=True,
                        help="dataset folder: its test/ sub-folder is used, or the seeded test split of a flat folder")
    parser.add_argument("--json", metavar="OUT.json", default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--save-video", metavar="DIR", default=None,
                        help="write driving | generated | keypoints side-by-side videos into DIR")
    parser.add_argument("--max-frames", type=int, default=None, help="use only the first N frames of each video")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--faces", action=argparse.BooleanOptionalAction, default=None,
                        help="compute AKD/MKR with face landmarks (default: on when face mesh finds faces in "
                        "the first frames)")
    parser.add_argument("--batch-size", type=int, default=16, help="driving frames per forward pass (default 16)")
    parser.add_argument("--split", choices=("test", "train", "all"), default="test",
                        help="which videos of --data to use (default test)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_checkpoint, format_table

    if args.max_frames is not None and args.max_frames < 2:
        raise UserError(f"--max-frames must be at least 2, got {args.max_frames}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    report = evaluate_checkpoint(
        args.checkpoint, args.data, json_path=args.json, save_video=args.save_video, max_frames=args.max_frames,
        device=args.device, faces=args.faces, batch_size=args.batch_size, split=args.split,
        progress=not args.quiet,
    )
    print(f"{report['checkpoint']}: video reconstruction on {report['num_videos']} video(s), {report['frames']} "
          f"frames at {report['image_size']}x{report['image_size']} ({report['split']} split of {report['data']})")
    print(format_table(report))
    if not report["faces"]:
        print("AKD and MKR: not computed (no faces; use --faces to force)")
    if args.json:
        print(f"wrote {args.json}")
    return 0
