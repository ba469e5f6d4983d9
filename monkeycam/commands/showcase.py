"""``monkeycam showcase``: a grid image of cross-identity animation, for model cards.

Top row: the driving video's face crops at the chosen frames. One row per portrait: the
portrait's face crop, then the animated frames with the transferred keypoints and their
covariance ellipses drawn. Everything goes through the engine, exactly as in the app.
"""

from __future__ import annotations

import argparse

from ..errors import UserError
from ..io.atomic import check_output
from ._engine_options import add_model_options, face_detection_choice, quiet_video_decoder, warn


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "showcase",
        help="grid image of portraits animated by a driving video (keypoints drawn)",
        description="Animate each portrait with the driving video (relative motion, anchored on the first "
        "frame) and write a grid: driving crops on top, then per portrait its crop and the animated frames "
        "with keypoints and covariance ellipses.",
    )
    parser.add_argument("--portraits", nargs="+", required=True, metavar="IMG", help="source portraits")
    parser.add_argument("--driving", required=True, metavar="VIDEO", help="driving video")
    parser.add_argument("--frames", default="0,40,80,120,160", help="driving frame indices, comma separated")
    parser.add_argument("--out", required=True, metavar="PNG", help="output image (.png or .jpg)")
    parser.add_argument("--cell", type=int, default=160, help="side of one grid cell in pixels")
    parser.add_argument("--no-keypoints", action="store_true", help="do not draw keypoints")
    parser.add_argument("--ellipses", action="store_true", help="also draw each keypoint's 1-sigma covariance ellipse")
    add_model_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..engine import create_engine
    from ..face import crop_square
    from ..face.crop import CropBox
    from ..io import iter_video, read_image, write_image
    from ..live import EngineSettings

    quiet_video_decoder()
    check_output(args.out, inputs=[*args.portraits, args.driving, args.checkpoint], what="--out")
    indices = sorted({int(i) for i in args.frames.split(",") if i.strip()})
    if not indices or indices[0] < 0:
        raise UserError(f"--frames must list frame indices >= 0, got {args.frames!r}")
    portraits = [read_image(path) for path in args.portraits]
    driving = [frame for i, frame in enumerate(iter_video(args.driving, indices[-1] + 1))]
    if len(driving) <= indices[-1]:
        raise UserError(f"{args.driving} has only {len(driving)} frames; --frames asks for frame {indices[-1]}")
    settings = EngineSettings(checkpoint=args.checkpoint, backend=args.backend, smoothing=0.0, output_size=args.cell,
                              threads=args.threads)
    engine = create_engine(settings, face_detection=face_detection_choice(args), on_status=warn)
    rows, top = [], None
    for portrait in portraits:
        info = engine.set_source(portrait)
        if info.warning:
            warn(info.warning)
        engine.set_reference(None)
        cells, crops = [_fit(info.crop, args.cell)], []
        for index, frame in enumerate(driving):
            result = engine.process(frame, timestamp=index / 25.0)
            if index in indices:
                cells.append(_with_keypoints(result, args))
                box = result.driving_box
                crop = crop_square(frame, CropBox(*box), args.cell) if box else _fit(frame, args.cell)
                crops.append(crop)
        rows.append(np.concatenate(cells, axis=1))
        top = top if top is not None else np.concatenate([np.full_like(crops[0], 255)] + crops, axis=1)
    grid = np.concatenate([top] + rows, axis=0)
    write_image(args.out, grid)
    print(f"wrote {args.out}: {len(portraits)} portraits x {len(indices)} driving frames ({grid.shape[1]}x{grid.shape[0]})")
    return 0


def _fit(image, size: int):
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def _with_keypoints(result, args: argparse.Namespace):
    """The animated frame, with its keypoints drawn unless --no-keypoints."""
    from ..drawing import draw_keypoints

    if args.no_keypoints or result.keypoints is None:
        return result.image
    return draw_keypoints(result.image, result.keypoints, ellipses=args.ellipses)
