"""``monkeycam train``: train Monkey-Net on a folder of videos (see training/)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil

from ..errors import UserError

log = logging.getLogger("monkeycam.train")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model on a folder of videos",
        description="Train Monkey-Net on a dataset folder (train/ and test/ sub-folders, or flat). "
        "Writes state.pt (for --resume), model.safetensors (the model), config.yaml, history.jsonl and "
        "TensorBoard logs into --out. Ctrl-C saves a checkpoint before stopping. Multi-GPU / multi-node: "
        "run it under torchrun (e.g. torchrun --nproc_per_node 4 -m monkeycam train ...).",
    )
    parser.add_argument("--config", required=True, help="YAML experiment file, or a built-in name (e.g. face64, nemo)")
    parser.add_argument("--data", help="dataset folder (overrides the config's data)")
    parser.add_argument("--out", required=True, help="run folder for checkpoints and logs")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run in an --out that holds an earlier run (its files are deleted)")
    parser.add_argument("--init-from", help="start from the keypoint detector and generator of this checkpoint")
    parser.add_argument("--init-partial", action="store_true",
                        help="with --init-from: the checkpoint may hold another model; take every tensor whose "
                        "name and shape match and start the rest fresh")
    parser.add_argument("--steps", type=int, help="total steps (overrides the config)")
    parser.add_argument("--batch-size", type=int, help="pairs per step per process (overrides the config)")
    parser.add_argument("--milestones", type=int, nargs="*", help="steps where the lr is multiplied by gamma")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="autocast precision on CUDA")
    parser.add_argument("--seed", type=int, help="random seed (overrides the config)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--max-minutes", type=float, help="stop with a checkpoint after this much wall time")
    parser.add_argument("--max-frames", type=int, help="decode at most this many frames per video")
    parser.add_argument("--cache-dir", help="where decoded frames are cached (default: the user cache)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def _experiment(args):
    import dataclasses

    from training.config import load_experiment

    experiment = load_experiment(args.config)
    overrides = {
        key: value
        for key, value in (
            ("steps", args.steps), ("batch_size", args.batch_size), ("precision", args.precision),
            ("seed", args.seed), ("max_frames", args.max_frames),
            ("milestones", tuple(args.milestones) if args.milestones is not None else None),
        )
        if value is not None
    }
    train = dataclasses.replace(experiment.train, **overrides)
    data = args.data or experiment.data
    if not data:
        raise UserError("no dataset: pass --data DIR (or set 'data:' in the config)")
    return dataclasses.replace(experiment, train=train, data=data)


def _landmark_points(experiment, clips, args):
    """Face-mesh points of every training frame (found once, then cached) for landmark guidance."""
    from pathlib import Path

    from training.data import default_cache_dir
    from training.landmarks import clip_landmarks

    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    return clip_landmarks(clips, experiment.train.landmarks, cache / "landmarks", progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from monkeycam.io.atomic import check_output
    from training.data import load_videos
    from training.run_folder import check_run_folder, claim_run_folder
    from training.trainer import Trainer, TrainingError

    from ..torch_runtime import configure_cpu, resolve_device

    if args.max_minutes is not None and not args.max_minutes > 0:
        raise UserError(f"--max-minutes must be positive, got {args.max_minutes}")
    experiment = _experiment(args)
    device = resolve_device(args.device)
    if args.resume and not (Path(args.out) / "state.pt").exists():
        raise UserError(f"--resume: no training state at {Path(args.out) / 'state.pt'}")
    config_file = args.config if Path(args.config).is_file() else None  # else a built-in name
    check_output(args.out, inputs=[config_file, args.init_from], input_folders=[experiment.data], what="--out",
                 out_is_folder=True)
    check_run_folder(args.out, args.resume, args.overwrite)
    if device == "cpu":
        configure_cpu(args.threads)
    frame_size = experiment.train.frame_size or experiment.model.image_size
    videos = load_videos(
        experiment.data, "train", frame_size,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        max_frames=experiment.train.max_frames, progress=not args.no_progress,
        frame_stride=experiment.train.frame_stride,
    )
    clips = [clip.frames for clip in videos.clips]
    points = _landmark_points(experiment, clips, args) if experiment.train.landmark_weight > 0 else None
    frames = sum(len(clip) for clip in clips)
    description = f"{experiment.data} (train split): {len(videos.clips)} clips, {frames} frames at {frame_size}px"
    main_process = os.environ.get("RANK", "0") == "0"  # torchrun: one process owns the folder
    created = not Path(args.out).exists()
    lock = claim_run_folder(args.out, args.resume, args.overwrite) if main_process else None
    try:
        trainer = Trainer(
            experiment, clips, args.out, device=device,
            data_description=description, resume=args.resume, progress=not args.no_progress,
            init_from=args.init_from, init_partial=args.init_partial, points=points,
        )
    except BaseException:
        if lock is not None:
            lock.close()
            if created:  # leave no empty run folder behind a refused start
                shutil.rmtree(args.out, ignore_errors=True)
        raise
    log.info("training '%s' on %s, device %s", experiment.model.name, description, device)
    try:
        result = trainer.run(max_minutes=args.max_minutes)
    finally:
        trainer.close()
        if lock is not None:
            lock.close()
    if not trainer.dist.is_main:
        return 0 if result.reason != "non_finite" else 1
    if result.reason == "non_finite":
        raise TrainingError(f"training stopped at step {result.step}: loss became NaN/inf; last good checkpoint kept in {args.out}")
    print(
        f"{result.reason} at step {result.step} ({result.steps_per_second:.2f} steps/s); "
        f"model: {result.checkpoint}; resume with --resume --out {args.out}"
    )
    return 130 if result.reason == "interrupted" else 0
