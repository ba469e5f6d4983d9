"""``monkeycam convert ORIGINAL OUT``: original Monkey-Net checkpoint -> monkeycam checkpoint."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an original Monkey-Net checkpoint into a monkeycam checkpoint",
        description="Convert a checkpoint in the original Monkey-Net layout (torch pickle with "
        "kp_detector/generator/discriminator state dicts of 3D layers) into one monkeycam "
        ".safetensors file. Widths and block counts are inferred from the tensor shapes.",
    )
    parser.add_argument("original", help="original checkpoint (.pth / .pth.tar / .pt)")
    parser.add_argument("out", help="output .safetensors file")
    parser.add_argument("--image-size", type=int, default=None,
                        help="frame size the model was trained on (default: guessed from the generator depth)")
    parser.add_argument("--motion-scale", type=float, default=None,
                        help="scale of the keypoint/dense-motion inputs (default: guessed, e.g. 0.25 for 256px)")
    parser.add_argument("--name", default=None, help="model name stored in the checkpoint")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..convert import convert_checkpoint
    from ..io.atomic import check_output
    from ..model import build_model, count_parameters

    check_output(args.out, inputs=[args.original], what="output")

    config = convert_checkpoint(args.original, args.out, args.image_size, args.motion_scale, args.name)
    model = build_model(config)
    print(
        f"wrote {args.out}: '{config.name}', {config.image_size}x{config.image_size}, {config.num_kp} keypoints, "
        f"parameters kp_detector {count_parameters(model.kp_detector):,} / generator "
        f"{count_parameters(model.generator):,} / discriminator {count_parameters(model.discriminator):,}"
    )
    return 0
