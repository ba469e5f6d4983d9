"""The Monkey-Net trainer: the paper's recipe with the engineering a long run needs.

One step: sample a batch of frame pairs (one pair per random clip), augment, detect
keypoints in both frames, reconstruct the driving frame from the source, update the
keypoint detector and generator with the feature-matching + LSGAN loss (D frozen, driving
keypoints detached for D), then update D with the LSGAN loss on detached inputs.

Files in the run folder:
    state.pt           full training state (models, optimisers, schedulers, step), atomic
    model.safetensors  the model in monkeycam's checkpoint format, with training metadata
    config.yaml        the experiment config of the run
    history.jsonl      one line of losses per logged step
    events/            TensorBoard logs (losses, image grids with keypoints)

Works on one CPU, one GPU, or many processes under ``torchrun`` (DistributedDataParallel).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from monkeycam.checkpoint import save_checkpoint
from monkeycam.errors import UserError, one_line
from monkeycam.io.atomic import atomic_path
from monkeycam.model import Keypoints, MonkeyNet, build_model
from monkeycam.model.generator import GeneratorOutput

from .augment import AugmentedPairs, FrameBank, augment_pairs_with_points
from .config import MOUTH_POINTS, ExperimentConfig, experiment_from_dict, feature_matching_weights
from .landmarks import mirror_permutation
from .losses import (
    RandomAffine,
    discriminator_loss,
    equivariance_loss,
    generator_losses,
    landmark_loss,
    pyramid_l1,
    region_l1,
)

log = logging.getLogger(__name__)
STATE_FORMAT = 1


class TrainingError(UserError, RuntimeError):
    """Training cannot go on (bad state file, non-finite loss...); one line for the user."""


@dataclass
class Distributed:
    """Where this process sits in a torchrun job (world_size 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str) -> Distributed:
    """Join the torchrun process group when WORLD_SIZE > 1 (NCCL on CUDA, gloo on CPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    return Distributed(dist.get_rank(), dist.get_world_size(), local_rank)


class GeneratorFull(nn.Module):
    """Keypoint detector + generator in one module (one DDP wrapper, one forward per step)."""

    def __init__(self, model: MonkeyNet) -> None:
        super().__init__()
        self.kp_detector = model.kp_detector
        self.generator = model.generator

    def forward(
        self, source: torch.Tensor, driving: torch.Tensor, extra: torch.Tensor | None = None
    ) -> tuple[Keypoints, Keypoints, GeneratorOutput, Keypoints | None]:
        """Keypoints of both frames, the reconstruction of ``driving``, and the keypoints of
        ``extra`` frames (the equivariance loss's transformed frames) when given."""
        kp_source = self.kp_detector(source)
        kp_driving = self.kp_detector(driving)
        kp_extra = self.kp_detector(extra) if extra is not None else None
        return kp_source, kp_driving, self.generator(source, kp_source, kp_driving), kp_extra


@dataclass
class StepLosses:
    """Loss values of one step as Python floats."""

    generator: float
    reconstruction: float
    pixel_l1: float
    gan: float
    discriminator: float

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """How a run ended: ``reason`` is done, time, interrupted or non_finite."""

    step: int
    reason: str
    checkpoint: Path | None
    losses: dict[str, float] = field(default_factory=dict)
    steps_per_second: float = 0.0


def _load_matching(network: nn.Module, state: dict[str, torch.Tensor]) -> tuple[int, int]:
    """Copy the tensors of ``state`` whose name and shape match into ``network``.
    Returns (copied, tensors in the network)."""
    own = network.state_dict()
    matching = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    network.load_state_dict({**own, **matching})
    return len(matching), len(own)


def _step_seed(seed: int, rank: int, step: int) -> int:
    """Seed of the sampling generator at a step: resuming at any step replays exactly."""
    return (seed * 1_000_003 + rank * 7_919 + step * 104_729) % (2**63 - 1)


class Trainer:
    """Train a Monkey-Net model on clips of one object category.

    Args:
        experiment: model + training settings.
        clips: training videos as (T, H, W, 3) uint8 RGB arrays at the training frame size.
        out_dir: run folder (created); with ``resume`` its state.pt is loaded.
        device: "cpu", "cuda" or "cuda:N".
        data_description: free text stored in the checkpoint metadata (what was trained on).
        points: landmark points per clip, (T, L, 2) in [-1, 1] (NaN: unknown), for
            ``train.landmark_weight`` > 0 (see training/landmarks.py).
    """

    def __init__(
        self,
        experiment: ExperimentConfig,
        clips: Sequence[np.ndarray],
        out_dir: str | Path,
        device: str = "cpu",
        data_description: str = "",
        resume: bool = False,
        progress: bool = True,
        init_from: str | Path | None = None,
        points: Sequence[np.ndarray] | None = None,
        init_partial: bool = False,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.dist = init_distributed(device)
        if device.startswith("cuda") and self.dist.enabled:
            device = f"cuda:{self.dist.local_rank}"
        elif device == "cuda":
            device = "cuda:0"
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            torch.backends.cudnn.benchmark = True
        self.progress = progress and self.dist.is_main
        self.data_description = data_description
        self.step = 0
        self.wall_time = 0.0
        state = self._read_state() if resume else None
        if state is not None:
            experiment = self._experiment_for_resume(experiment, state)
        self.experiment = experiment
        self.cfg = experiment.train
        self.fm_weights = feature_matching_weights(self.cfg, experiment.model.discriminator.num_blocks)
        self._build(experiment)
        self.initialised_from: dict[str, Any] | None = None
        if state is not None:
            self._load_state(state)
        elif init_from is not None:
            self._init_from(Path(init_from), init_partial)
        if self.cfg.landmark_weight > 0 and points is None:
            raise TrainingError("train.landmark_weight > 0 needs the landmark points of the training frames")
        self.bank = FrameBank(clips, self.device, points if self.cfg.landmark_weight > 0 else None)
        self.mirror = None
        if self.cfg.landmark_weight > 0 and self.cfg.augment.horizontal_flip:
            self.mirror = mirror_permutation(self.cfg.landmarks)
        self.mouth_opening = mouth_opening(self.bank.points, self.cfg.landmarks) if self.cfg.open_mouth_pairs > 0 else None
        self.writer = None

    # ------------------------------------------------------------------ setup
    def _build(self, experiment: ExperimentConfig) -> None:
        torch.manual_seed(self.cfg.seed)
        self.model = build_model(experiment.model, with_discriminator=True).to(self.device).train()
        generator_full: nn.Module = GeneratorFull(self.model)
        discriminator: nn.Module = self.model.discriminator
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            if self.cfg.sync_batchnorm:
                generator_full = nn.SyncBatchNorm.convert_sync_batchnorm(generator_full)
            ids = [self.device.index] if self.device.type == "cuda" else None
            generator_full = DDP(generator_full, device_ids=ids)
            discriminator = DDP(discriminator, device_ids=ids)
        self.generator_full = generator_full
        self.discriminator = discriminator
        betas = tuple(self.cfg.betas)
        self.optimizers = {
            "kp_detector": torch.optim.Adam(self.model.kp_detector.parameters(), lr=self.cfg.lr, betas=betas),
            "generator": torch.optim.Adam(self.model.generator.parameters(), lr=self.cfg.lr, betas=betas),
            "discriminator": torch.optim.Adam(self.model.discriminator.parameters(), lr=self.cfg.lr, betas=betas),
        }
        self.schedulers = {
            name: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(self.cfg.milestones), gamma=self.cfg.gamma)
            for name, opt in self.optimizers.items()
        }
        use_scaler = self.cfg.precision == "fp16" and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)

    def _autocast(self):
        if self.device.type != "cuda" or self.cfg.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.cfg.precision == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    # ------------------------------------------------------------------ one step
    def train_step(self, generator: torch.Generator) -> tuple[dict[str, torch.Tensor], tuple]:
        """One optimisation step of G (+ keypoint detector) and D. Returns detached losses."""
        pairs = self._sample(generator)
        source, driving = pairs.source, pairs.driving
        affine = extra = None
        if self.cfg.equivariance_weight > 0:
            affine = RandomAffine.draw(len(driving), self.cfg.equivariance_strength, generator, self.device)
            extra = affine.warp_image(driving)
        discriminator = self.model.discriminator
        uses_d = self.cfg.uses_discriminator

        with self._autocast():
            kp_source, kp_driving, generated, kp_extra = self.generator_full(source, driving, extra)
            kp_for_d = kp_driving.detach()
            if uses_d:
                discriminator.requires_grad_(False)
                maps_fake = discriminator(generated.prediction, kp_for_d)
                with torch.no_grad():
                    maps_real = discriminator(driving, kp_for_d)
                g = generator_losses(maps_real, maps_fake, self.fm_weights, self.cfg.gan_weight)
                total, reconstruction, pixel_l1, gan = g.total, g.reconstruction, g.pixel_l1, g.gan
            else:
                pixel = (driving.float() - generated.prediction.float()).abs().mean()
                total = reconstruction = self.fm_weights[0] * pixel
                pixel_l1, gan = pixel.detach(), torch.zeros((), device=self.device)
            extras = self._extra_losses(pairs, generated, kp_source, kp_driving, kp_extra, affine)
            for weight, value in extras.values():
                total = total + weight * value
        self._backward_and_step(total, ("kp_detector", "generator"))

        d_loss = torch.zeros((), device=self.device)
        if uses_d:
            discriminator.requires_grad_(True)
            with self._autocast():
                score_real = self.discriminator(driving, kp_for_d)[-1]
                score_fake = self.discriminator(generated.prediction.detach(), kp_for_d)[-1]
                d_loss = discriminator_loss(score_real, score_fake)
            self._backward_and_step(d_loss, ("discriminator",))
        for name, scheduler in self.schedulers.items():
            if uses_d or name != "discriminator":
                scheduler.step()
        losses = {
            "generator": total.detach(), "reconstruction": reconstruction.detach(),
            "pixel_l1": pixel_l1, "gan": gan.detach(), "discriminator": d_loss.detach(),
            **{name: value.detach() for name, (_, value) in extras.items()},
        }
        return losses, (source, driving, kp_source, kp_driving, generated)

    def _sample(self, generator: torch.Generator) -> AugmentedPairs:
        """A batch of augmented pairs (with their landmark points when guidance is on)."""
        first, second = self.bank.sample_indices(self.cfg.batch_size, generator)
        mouth_pairs = None
        if self.mouth_opening is not None:
            draw = torch.rand(self.cfg.batch_size, generator=generator, device="cpu")
            mouth_pairs = (draw < self.cfg.open_mouth_pairs).to(first.device)
            closed, opened = self.bank.sample_contrast_indices(
                self.mouth_opening, self.cfg.batch_size, generator, self.cfg.open_mouth_candidates
            )
            first, second = torch.where(mouth_pairs, closed, first), torch.where(mouth_pairs, opened, second)
        return augment_pairs_with_points(
            self.bank.frames_at(first), self.bank.frames_at(second), self.bank.points_at(first, second),
            self.mirror, self.cfg.augment, generator, keep_order=mouth_pairs,
        )

    def _extra_losses(
        self, pairs: AugmentedPairs, generated: GeneratorOutput, kp_source: Keypoints, kp_driving: Keypoints,
        kp_extra: Keypoints | None, affine: RandomAffine | None,
    ) -> dict[str, tuple[float, torch.Tensor]]:
        """The loss terms beyond the paper that are switched on: name -> (weight, value)."""
        cfg = self.cfg
        terms: dict[str, tuple[float, torch.Tensor]] = {}
        if cfg.pyramid_weights:
            terms["pyramid"] = (1.0, pyramid_l1(pairs.driving, generated.prediction, cfg.pyramid_weights))
        if cfg.landmark_weight > 0 and pairs.source_points is not None:
            value = landmark_loss(kp_source.mean, pairs.source_points) + landmark_loss(
                kp_driving.mean, pairs.driving_points
            )
            terms["landmarks"] = (cfg.landmark_weight, value / 2)
        if cfg.region_weight > 0 and pairs.driving_points is not None:
            chosen = [cfg.landmarks.index(point) for point in cfg.region_points]
            value = region_l1(pairs.driving, generated.prediction, pairs.driving_points[:, chosen], cfg.region_sigma)
            terms["regions"] = (cfg.region_weight, value)
        if kp_extra is not None and affine is not None:
            terms["equivariance"] = (cfg.equivariance_weight, equivariance_loss(kp_driving.mean, kp_extra.mean, affine))
        return terms

    def _backward_and_step(self, loss: torch.Tensor, names: tuple[str, ...]) -> None:
        for name in names:
            self.optimizers[name].zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        for name in names:
            self.scaler.step(self.optimizers[name])
        self.scaler.update()

    # ------------------------------------------------------------------ loop
    def run(self, max_minutes: float | None = None) -> TrainResult:
        """Train until ``cfg.steps`` (or ``max_minutes`` of wall time, or Ctrl-C)."""
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._write_text(self.out_dir / "config.yaml", self.experiment.to_yaml())
        bar = self._progress_bar()
        generator = torch.Generator()
        deadline = time.monotonic() + 60 * max_minutes if max_minutes else None
        bad = torch.zeros((), dtype=torch.bool, device=self.device)
        started, started_step, last_log = time.monotonic(), self.step, None
        reason = "done"
        try:
            while self.step < self.cfg.steps:
                generator.manual_seed(_step_seed(self.cfg.seed, self.dist.rank, self.step))
                losses, batch = self.train_step(generator)
                bad |= ~torch.isfinite(losses["generator"] + losses["discriminator"])
                self.step += 1
                due_log = self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps
                due_checkpoint = self.step % self.cfg.checkpoint_every == 0
                if due_log or due_checkpoint:
                    if bool(bad):
                        reason = "non_finite"
                        break
                    rate = (self.step - started_step) / max(1e-9, time.monotonic() - started)
                    last_log = self._log(losses, rate, bar)
                if due_checkpoint:
                    self.save()
                if self.step % self.cfg.image_every == 0:
                    self._log_images(batch)
                if deadline is not None and time.monotonic() > deadline:
                    reason = "time"
                    break
        except KeyboardInterrupt:
            reason = "interrupted"
        finally:
            if bar is not None:
                bar.close()
        self.wall_time += time.monotonic() - started
        rate = (self.step - started_step) / max(1e-9, time.monotonic() - started)
        return self._finish(reason, last_log, rate)

    def _finish(self, reason: str, last_log: dict | None, rate: float) -> TrainResult:
        if reason == "non_finite":
            message = (
                f"loss became NaN/inf before step {self.step}; stopped without saving. "
                f"The last good checkpoint is in {self.out_dir} (try a lower lr or precision fp32)"
            )
            if self.dist.is_main:
                log.error(message)
            return TrainResult(self.step, reason, self._existing_checkpoint(), last_log or {}, rate)
        if reason == "interrupted":
            log.warning("interrupted at step %d: saving a checkpoint before stopping", self.step)
        checkpoint = self.save()
        return TrainResult(self.step, reason, checkpoint, last_log or {}, rate)

    def _existing_checkpoint(self) -> Path | None:
        path = self.out_dir / "model.safetensors"
        return path if path.exists() else None

    # ------------------------------------------------------------------ logging
    def _progress_bar(self):
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.cfg.steps, initial=self.step, desc="train", unit="step", dynamic_ncols=True)

    def _log(self, losses: dict[str, torch.Tensor], rate: float, bar) -> dict[str, float]:
        values = {k: float(v) for k, v in losses.items()}
        if self.dist.enabled:
            stacked = torch.tensor(list(values.values()), device=self.device)
            dist.all_reduce(stacked)
            values = dict(zip(values, (stacked / self.dist.world_size).tolist()))
        values["steps_per_second"] = rate
        values["lr"] = self.optimizers["generator"].param_groups[0]["lr"]
        if not self.dist.is_main:
            return values
        if bar is not None:
            bar.n = self.step
            bar.set_postfix(rec=f"{values['reconstruction']:.3f}", l1=f"{values['pixel_l1']:.4f}",
                            g=f"{values['gan']:.3f}", d=f"{values['discriminator']:.3f}", sps=f"{rate:.2f}")
            bar.refresh()
        with open(self.out_dir / "history.jsonl", "a") as handle:
            handle.write(json.dumps({"step": self.step, **values}) + "\n")
        writer = self._tensorboard()
        if writer is not None:
            for key, value in values.items():
                writer.add_scalar(f"train/{key}", value, self.step)
        return values

    def _tensorboard(self):
        if self.writer is None and self.dist.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning("tensorboard is not installed: no TensorBoard logs")
                self.writer = False
            else:
                self.writer = SummaryWriter(str(self.out_dir / "events"))
        return self.writer or None

    def _log_images(self, batch: tuple) -> None:
        writer = self._tensorboard()
        if writer is None:
            return
        from .visualise import pair_grid

        source, driving, kp_source, kp_driving, generated = batch
        grid = pair_grid(source, driving, generated.prediction, generated.deformed, kp_source, kp_driving, rows=4)
        writer.add_image("train/source_driving_prediction_deformed", grid, self.step, dataformats="HWC")

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path | None:
        """Write state.pt and model.safetensors atomically (main process only)."""
        if not self.dist.is_main:
            return None
        state = {
            "format": STATE_FORMAT,
            "step": self.step,
            "wall_time": self.wall_time,
            "experiment": json.dumps(self.experiment.to_dict()),
            "kp_detector": self.model.kp_detector.state_dict(),
            "generator": self.model.generator.state_dict(),
            "discriminator": self.model.discriminator.state_dict(),
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "initialised_from": json.dumps(self.initialised_from),
        }
        with atomic_path(self.out_dir / "state.pt") as tmp, open(tmp, "wb") as handle:
            torch.save(state, handle)  # through a Python file: a full disk raises an OSError
        return save_checkpoint(self.out_dir / "model.safetensors", self.model, metadata=self.metadata())

    def metadata(self) -> dict[str, Any]:
        """Training metadata stored inside the exported checkpoint."""
        device_name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else platform.processor() or "cpu"
        return {
            "training": {
                "data": self.data_description,
                "steps": self.step,
                "batch_size": self.cfg.batch_size,
                "processes": self.dist.world_size,
                "device": f"{self.device.type}: {device_name}",
                "precision": self.cfg.precision,
                "wall_time_hours": round(self.wall_time / 3600, 3),
                "torch": torch.__version__,
                "config": self.experiment.to_dict(),
                "initialised_from": self.initialised_from,
            }
        }

    def _read_state(self) -> dict | None:
        path = self.out_dir / "state.pt"
        if not path.exists():
            raise TrainingError(f"--resume: no training state at {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many types for broken files
            why = ("it is empty" if path.stat().st_size == 0 else
                   "it holds Python objects besides tensors" if "weights only" in str(error).lower() else
                   one_line(error, 160))
            raise TrainingError(f"--resume: {path} is unreadable or incomplete ({why})") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise TrainingError(f"--resume: {path} is not a monkeycam training state")
        return state

    def _experiment_for_resume(self, experiment: ExperimentConfig, state: dict) -> ExperimentConfig:
        saved = experiment_from_dict(json.loads(state["experiment"]))
        if saved.model != experiment.model:
            raise TrainingError(
                f"--resume: the run in {self.out_dir} trains '{saved.model.name}' but the config asks for "
                f"'{experiment.model.name}' with different settings; use a new --out folder"
            )
        return experiment  # training settings (e.g. more steps) may change on resume

    def _init_from(self, path: Path, partial: bool) -> None:
        """Start from the keypoint detector and generator of a checkpoint (D starts fresh).

        The checkpoint must hold the same model, unless ``partial``: then one of another
        model (e.g. other widths or another number of keypoints) gives every tensor whose
        name and shape match, the rest keeps its fresh initialisation, and the log and the
        metadata say how much was taken.
        """
        from monkeycam.checkpoint import load_checkpoint

        source, info = load_checkpoint(path, expect=None if partial else self.experiment.model)
        if info.config == self.experiment.model:
            self.model.kp_detector.load_state_dict(source.kp_detector.state_dict())
            self.model.generator.load_state_dict(source.generator.state_dict())
            taken = "all"
        else:
            counts = [
                _load_matching(getattr(self.model, name), getattr(source, name).state_dict())
                for name in ("kp_detector", "generator")
            ]
            taken = f"{sum(c[0] for c in counts)} of {sum(c[1] for c in counts)} tensors (matching names and shapes)"
        previous = info.metadata.get("training", {})
        self.initialised_from = {
            "checkpoint": path.name, "steps": previous.get("steps"), "data": previous.get("data"), "taken": taken,
        }
        if self.dist.is_main:
            log.info("initialised from %s (%s steps): %s", path, previous.get("steps"), taken)

    def _load_state(self, state: dict) -> None:
        self.model.kp_detector.load_state_dict(state["kp_detector"])
        self.model.generator.load_state_dict(state["generator"])
        self.model.discriminator.load_state_dict(state["discriminator"])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        for name, scheduler in self.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][name])
            # the schedule of the current config wins (a resumed run may be extended)
            scheduler.milestones = Counter(self.cfg.milestones)
            scheduler.gamma = self.cfg.gamma
        self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.wall_time = float(state.get("wall_time", 0.0))
        self.initialised_from = json.loads(state.get("initialised_from", "null"))
        if self.dist.is_main:
            log.info("resumed %s at step %d", self.out_dir, self.step)

    @staticmethod
    def _write_text(path: Path, text: str) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text(text)

    def close(self) -> None:
        if self.writer:
            self.writer.close()
        if self.dist.enabled and dist.is_initialized():
            dist.destroy_process_group()


def mouth_opening(points: torch.Tensor, landmarks: Sequence[int]) -> torch.Tensor:
    """Mouth opening per frame, (N,): inner-lip distance over mouth width (as
    training.face_signals measures it), from (N, L, 2) landmark points in the order of
    ``landmarks``; NaN where a point is unknown."""
    top, bottom, left, right = (points[:, list(landmarks).index(point)] for point in MOUTH_POINTS)
    return (top - bottom).norm(dim=-1) / (left - right).norm(dim=-1).clamp_min(1e-6)
