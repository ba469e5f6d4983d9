"""``monkeycam prepare faces|generic IN_DIR OUT_DIR --size N``: raw videos -> square training clips."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="turn raw videos into square training clips (faces or any object)",
        description="Turn a folder of raw videos (flat, or with train/ and test/ sub-folders, which the "
        "output mirrors) into square .mp4 training clips for `monkeycam train`.",
    )
    modes = parser.add_subparsers(dest="mode", metavar="MODE", required=True)
    _add_faces(modes)
    _add_generic(modes)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("in_dir", metavar="IN_DIR", help="folder of raw videos (video files, frame folders, frame strips)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder for the clips (created; must not be inside IN_DIR)")
    parser.add_argument("--size", type=int, default=256, help="side of the output frames in pixels (default 256)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no per-clip lines")
    parser.add_argument("--overwrite", action="store_true",
                        help="OUT_DIR holds an earlier `prepare` of another folder: delete its clips and prepare.json first")


def _add_faces(modes) -> None:
    from training.prepare import FaceCropSettings

    d = FaceCropSettings()
    parser = modes.add_parser(
        "faces",
        help="talking-head videos -> face clips (mediapipe face detection, one fixed crop per shot)",
        description="Detect the face (mediapipe) on sampled frames, split each clip into shots where the face "
        "moves far or disappears, and cut each shot with one fixed square around the face, enlarged and moved "
        "up a little, resized to --size. Clips without a usable face are skipped and listed. "
        "OUT_DIR/prepare.json records every shot and crop.",
    )
    _add_common(parser)
    parser.add_argument("--scale", type=float, default=d.scale, help=f"crop side / face size (default {d.scale})")
    parser.add_argument("--shift-up", type=float, default=d.shift_up,
                        help=f"move the crop up by this many face heights (default {d.shift_up})")
    parser.add_argument("--min-face", type=float, default=d.min_face,
                        help=f"ignore faces smaller than this many pixels (default {d.min_face:.0f})")
    parser.add_argument("--max-move", type=float, default=d.max_move,
                        help=f"start a new shot when the face moves more than this many face sizes (default {d.max_move})")
    parser.add_argument("--min-shot-frames", type=int, default=d.min_shot_frames,
                        help=f"drop shots shorter than this (default {d.min_shot_frames})")
    parser.set_defaults(handler=run_faces)


def _add_generic(modes) -> None:
    parser = modes.add_parser(
        "generic",
        help="videos of any object -> centre square crop, resized",
        description="Crop the centre square of every frame and resize it to --size (no detection). Items may be "
        "video files, folders of frames, or frame strips (one image of square frames side by side, the "
        "reference's format). --crop first cuts a rectangle out of every frame: the real video of a composite "
        "(side-by-side demo) or the picture inside letterbox bars.",
    )
    _add_common(parser)
    parser.add_argument("--crop", action="append", default=[], metavar="[NAME=]x,y,w,h",
                        help="cut this rectangle (pixels: left, top, width, height) out of every frame before the "
                        "centre square; NAME=x,y,w,h applies to the clips of that name or glob only (e.g. "
                        "'cmp*=124,256,256,256'); repeat for several. Clips that cannot hold their crop are skipped")
    parser.set_defaults(handler=run_generic)


def check_out_dir(out_dir: str, overwrite: bool) -> None:
    """Refuse to mix new clips into a folder that holds other files (UserError, one line).

    An empty or new folder is fine. A folder with an earlier ``prepare.json`` is left to
    :func:`training.prepare.check_output_folder` (the same input is prepared again in place,
    another input is refused) unless ``overwrite``, which first deletes the clips that file
    lists and the file itself. Any other non-empty folder is refused (its files are not ours
    to replace).
    """
    import json
    from pathlib import Path

    from monkeycam.errors import UserError
    from training.prepare import MANIFEST

    folder = Path(out_dir)
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    record = folder / MANIFEST
    if not record.is_file():
        raise UserError(f"{folder} is not empty and was not made by `monkeycam prepare`: choose a new or empty folder")
    if not overwrite:
        return
    try:
        clips = json.loads(record.read_text()).get("clips", [])
        outputs = [output for clip in clips for output in clip.get("outputs", [])]
    except (OSError, ValueError, AttributeError, TypeError) as error:
        raise UserError(f"{record} is unreadable ({error}); delete the folder yourself or choose another") from None
    for output in outputs:
        target = (folder / output).resolve()
        if folder.resolve() in target.parents:  # never delete outside the folder, whatever the file says
            target.unlink(missing_ok=True)
    record.unlink()


def run_faces(args: argparse.Namespace) -> int:
    from training.prepare import FaceCropSettings, prepare_faces

    check_out_dir(args.out_dir, args.overwrite)

    settings = FaceCropSettings(
        scale=args.scale, shift_up=args.shift_up, min_face=args.min_face, max_move=args.max_move,
        min_shot_frames=args.min_shot_frames,
    )
    report = prepare_faces(args.in_dir, args.out_dir, args.size, settings, progress=not args.quiet)
    _print_report(report, args.quiet)
    return 0


def run_generic(args: argparse.Namespace) -> int:
    from training.prepare import parse_crops, prepare_generic

    crops = parse_crops(args.crop)  # a bad --crop is said before the output folder is touched
    check_out_dir(args.out_dir, args.overwrite)
    report = prepare_generic(args.in_dir, args.out_dir, args.size, progress=not args.quiet, crops=crops)
    _print_report(report, args.quiet)
    return 0


def _print_report(report, quiet: bool) -> None:
    if not quiet:
        for clip in report.clips:
            crop = ", ".join(f"{shot.box.size:.0f}" for shot in clip.shots)
            where = f"{clip.split}/" if clip.split else ""
            extra = f", {clip.dropped_shots} short shot(s) dropped" if clip.dropped_shots else ""
            detector = f", {clip.detector} detector" if clip.detector else ""
            print(f"  {where}{clip.source.name}: {len(clip.shots)} shot(s), {clip.frames_out}/{clip.frames_in} frames, "
                  f"crop {crop} px{detector}{extra}")
    if report.skipped:
        print(f"skipped {len(report.skipped)}:")
        for path, reason in report.skipped:
            print(f"  {path}: {reason}")
    print(report.summary())
