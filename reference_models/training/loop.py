"""The training loop every reference model shares: plain PyTorch, no training framework.

:func:`train` does what a model's *task* (``reference_models.<model>.training``) does not: settings
(:class:`~reference_models.training.config.TrainConfig`, written to ``RUN/config.json``), the data
(:mod:`reference_models.training.data`), mixed precision (``torch.autocast``, bf16 on CUDA), DDP
through ``torchrun`` (NCCL on GPU, gloo on CPU: each process trains on its shard of every epoch,
rank 0 alone writes), checkpoints (:mod:`reference_models.training.checkpoints`) every
``checkpoint_every`` steps and at the end, an exact ``resume``, the losses in ``RUN/log.csv`` and a
progress bar with steps/s and ETA. The task does one optimiser step on a batch (what a task
provides: :class:`~reference_models.training.task.TrainingTask`).

Everything a user can get wrong (a split of the wrong level for the phase, an unknown setting, a
missing weight file, a checkpoint of another model or shape, a folder holding another run) is
checked before anything is written.

Run on several GPUs with ``torchrun --nproc_per_node N $(which colorbench) train msa ...``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.core import distributed
from bench.core.atomic import write_json, write_text
from bench.core.device import resolve_device
from bench.core.errors import ColorbenchError
from bench.core.paths import check_output_dir, exclusive_lock
from bench.core.registry import resolve
from bench.core.splits import Split, load_split
from bench.core.workers import data_loader

from ..registry import get_model
from .checkpoints import latest_checkpoint, load_state, load_weights, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig, load_config_file
from .data import PairData, epoch_batches

__all__ = ["TrainRun", "train", "load_into"]

CONFIG_FILE = "config.json"
LOG_FILE = "log.csv"
#: Settings a resumed run may change: when to stop, how often to log and save, how many workers
#: load data. Everything else shapes the weights, so it must stay as the run began.
_FREE_ON_RESUME = {"max_steps", "epochs", "workers", "checkpoint_every", "log_every", "cache_views"}


@dataclass
class TrainRun:
    """What :func:`train` did: where, how many steps (this run and in all), the losses of the first
    and last steps, the seconds this run took, the last checkpoint's weights (rank 0; None on the
    other ranks) and a digest of this process's final weights (equal on every DDP rank)."""

    out_dir: Path
    steps: int
    total_steps: int
    first_loss: float | None
    last_loss: float | None
    seconds: float
    checkpoint: Path | None
    weights_digest: str = ""

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("nan")


def _resolve_config(task_class, phase: int, config_file, overrides: dict | None, max_steps: int | None) -> TrainConfig:
    config = task_class.default_config(phase)
    if config_file is not None:
        config = TrainConfig.from_dict(load_config_file(config_file), config)
    if overrides:
        config = TrainConfig.from_dict(overrides, config)
    if max_steps is not None:
        config = TrainConfig.from_dict({"max_steps": max_steps}, config)
    return config


def load_into(model: torch.nn.Module, path: str | os.PathLike, model_name: str, weights=None) -> dict:
    """Load a weights file into ``model`` strictly; a file of another model, or of this model with
    other shapes, is a one-line error naming the file. ``weights``: the file's ``(state, metadata)``
    when already read. Returns the file's metadata."""
    state, metadata = weights if weights is not None else load_weights(path)
    saved = metadata.get("colorbench_model")
    if saved and saved != model_name:
        raise ColorbenchError(f"checkpoint {path} holds a {saved} model, not {model_name}; pass a {model_name} "
                              "checkpoint")
    try:
        if hasattr(model, "load_checkpoint_state_dict"):  # a model whose checkpoints hold part of its state
            model.load_checkpoint_state_dict(state)
        else:
            model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = [line.strip() for line in str(exc).splitlines() if line.strip()][1:2] or [str(exc)[:200]]
        raise ColorbenchError(f"checkpoint {path} does not fit {model_name} with this configuration "
                              f"({first[0][:200]}); pass the matching --config or another checkpoint") from None
    return metadata


def _check_run_folder(out: Path, config: TrainConfig, resume: bool) -> tuple[Path, Path] | None:
    """The checkpoint to resume from (None: a fresh run); refuse to mix runs."""
    latest = latest_checkpoint(out)
    if latest is None:
        return None  # a new run (or one interrupted before its first checkpoint: it starts again)
    if not resume:
        raise ColorbenchError(f"{out} already holds a training run (checkpoint {latest[0].name}); pass --resume to "
                              "continue it, or choose another --out")
    saved = json.loads((out / CONFIG_FILE).read_text())
    current = json.loads(json.dumps(config.as_dict()))
    differing = sorted(key for key in set(saved) | set(current)
                       if key not in _FREE_ON_RESUME and saved.get(key) != current.get(key))
    if differing:
        raise ColorbenchError(f"{out} holds a run with other settings ({', '.join(differing)}); resume it with the "
                              "same settings, or choose another --out")
    return latest


class _Log:
    """``RUN/log.csv``: step, epoch, seconds and the task's loss terms, every ``log_every`` steps
    (a resumed run first drops the rows after its checkpoint)."""

    def __init__(self, path: Path, enabled: bool, resume_step: int | None):
        self.path, self.enabled, self.rows = path, enabled, []
        if enabled and resume_step is not None and path.is_file():
            kept = [row for row in csv.DictReader(io.StringIO(path.read_text())) if int(row["step"]) <= resume_step]
            self.rows = kept
        self.pending: list[dict] = []

    def add(self, row: dict) -> None:
        self.pending.append(row)

    def flush(self) -> None:
        if not self.enabled or not self.pending:
            return
        self.rows.extend({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()} for row in self.pending)
        self.pending = []
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(self.rows[0]))
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.path, buffer.getvalue())


@distributed.fails_together
def train(model: str, split: Split | str | os.PathLike, out_dir: str | os.PathLike, *, phase: int = 1,
          init: str | os.PathLike | None = None, config_file: str | os.PathLike | None = None,
          config: dict | None = None, max_steps: int | None = None, device: str = "auto", resume: bool = False,
          progress: bool = True, images_root: str | os.PathLike | None = None,
          pool_root: str | os.PathLike | None = None) -> TrainRun:
    """Train reference model ``model`` on ``split``; checkpoints and logs go to ``out_dir``.

    Args:
        phase: the model's training phase (MSA: 1 = image level without masks, 2 = object level
            with masks).
        init: start from these weights (a checkpoint's ``.safetensors``, e.g. phase 1's last).
        config_file: a TOML or JSON file of :class:`TrainConfig` settings (and ``model`` / ``loss``
            tables); ``config``: the same as a dict, applied after the file.
        max_steps: stop after this many optimiser steps in all (a shorter run than the paper's).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (under DDP: each process's local GPU).
        resume: continue the run in ``out_dir`` from its last checkpoint, exactly.

    Returns:
        :class:`TrainRun`.
    """
    from tqdm.auto import tqdm

    spec = get_model(model)
    if not spec.task:
        raise ColorbenchError(f"model {model} has no training task")
    task_class = resolve(spec.task)
    if phase not in task_class.phases:
        raise ColorbenchError(f"{model} has no phase {phase}; its phases are {', '.join(map(str, task_class.phases))}")
    out = check_output_dir(out_dir)
    train_config = _resolve_config(task_class, phase, config_file, config, max_steps)
    split_file = None if isinstance(split, Split) else str(Path(split).resolve())
    split = split if isinstance(split, Split) else load_split(split)
    level = task_class.phases[phase]
    if split.level != level:
        raise ColorbenchError(f"{model} phase {phase} trains on {level}-level splits; {split_file or split.split_id} "
                              f"is {split.level} level")
    world = distributed.world()  # under torchrun: joins the process group DDP runs on
    task = task_class(train_config, phase)
    latest = _check_run_folder(out, train_config, resume)
    torch_device = resolve_device(device)  # under torchrun: this process's own GPU
    torch.manual_seed(train_config.seed)
    net = task.build_model().to(torch_device)  # a missing weight file stops here, naming it
    data = PairData(split, task, use_masks=task.uses_masks, seed=train_config.seed, cache=train_config.cache_views,
                    images_root=images_root, pool_root=pool_root)
    if init is not None and latest is None:
        load_into(net, init, model)
    elif latest is None and hasattr(task, "prepare"):
        task.prepare(net, data)  # what the model fits on the data before training (SPColor's k-means prior)
    losses = task.build_losses(net, torch_device)
    optimizers = task.optimizers(net)
    step, epoch, batch_done, state = 0, 0, 0, {}
    if latest is not None:
        load_into(net, latest[0], model)
        state = load_state(latest[1])
        for optimizer, saved in zip(optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
        if hasattr(task, "load_state_dict"):
            task.load_state_dict(state["task"])
        step, epoch, batch_done = int(state["step"]), int(state["epoch"]), int(state["batch"])
        set_rng_state(state["rng"])
    trained = torch.nn.parallel.DistributedDataParallel(
        net, device_ids=[torch_device.index] if torch_device.type == "cuda" else None) if world.active else net

    from pairing.sampler import DistributedReferenceSampler, ReferenceSampler

    sampler = (DistributedReferenceSampler(split, world.rank, world.size, p_synthetic=train_config.p_synthetic,
                                           seed=train_config.seed) if world.active else
               ReferenceSampler(split, p_synthetic=train_config.p_synthetic, seed=train_config.seed))
    per_epoch = -(-len(sampler) // train_config.batch_size)
    total = per_epoch * train_config.epochs
    if train_config.max_steps is not None:
        total = min(total, train_config.max_steps)
    use_bf16 = train_config.amp == "bf16" or (train_config.amp == "auto" and torch_device.type == "cuda")

    def autocast():
        return torch.autocast(torch_device.type, dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()

    lock = exclusive_lock(out, "training run") if world.is_main else contextlib.nullcontext()
    with lock:
        if world.is_main:
            write_json(out / CONFIG_FILE, {**train_config.as_dict()})
            write_json(out / "run.json", {"model": model, "phase": phase, "split_id": split.split_id,
                                          "split_file": split_file, "init": None if init is None else str(init),
                                          "world_size": world.size})
        log = _Log(out / LOG_FILE, world.is_main, step if latest is not None else None)
        first_loss = last_loss = None
        start, start_step, checkpoint = time.perf_counter(), step, latest[0] if latest else None
        trained.train()
        with tqdm(total=total, initial=step, desc=f"training {model}", unit="step",
                  disable=not (progress and world.is_main)) as bar:
            while step < total and epoch < train_config.epochs:
                batches = epoch_batches(sampler, epoch, train_config.batch_size)[batch_done:]
                loader = data_loader(data, batch_sampler=batches, collate_fn=task.collate,
                                     num_workers=min(train_config.workers, len(batches)))
                for batch in loader:
                    world.check_peers()
                    terms = task.step(trained, losses, batch, optimizers, autocast)
                    step, batch_done = step + 1, batch_done + 1
                    first_loss = terms["loss"] if first_loss is None else first_loss
                    last_loss = terms["loss"]
                    bar.set_postfix(loss=f"{terms['loss']:.4f}")
                    bar.update(1)
                    if step % train_config.log_every == 0 or step == total:
                        log.add({"step": step, "epoch": epoch, "seconds": time.perf_counter() - start, **terms})
                    if step % train_config.checkpoint_every == 0 or step == total:
                        checkpoint = _checkpoint(out, world, net, task, model, optimizers, step, epoch, batch_done,
                                                 log)
                    if step >= total:
                        break
                if step < total or batch_done >= per_epoch:
                    epoch, batch_done = epoch + 1, 0
        seconds = time.perf_counter() - start
        if world.active:
            # DDP gives every forward rank 0's buffers (BatchNorm statistics) but the last forward
            # updated each rank's own: end, like the checkpoint, with rank 0's everywhere.
            for buffer in net.buffers():
                torch.distributed.broadcast(buffer, 0)
        run = TrainRun(out, step - start_step, step, first_loss, last_loss, seconds, checkpoint, _digest(net))
        if world.is_main:
            write_json(out / "train.json", {"steps": step, "steps_this_run": run.steps, "seconds": round(seconds, 3),
                                            "first_loss": first_loss, "last_loss": last_loss,
                                            "checkpoint": None if checkpoint is None else checkpoint.name})
    world.barrier()
    return run


def _digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's state (parameters and buffers, in order): equal weights, equal digest."""
    import hashlib

    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _checkpoint(out, world, net, task, model_name, optimizers, step, epoch, batch_done, log) -> Path | None:
    log.flush()
    if not world.is_main:
        return None
    extra = {"task": task.state_dict()} if hasattr(task, "state_dict") else {}
    return save_checkpoint(out, step, net, model_name, task.model_record(),
                           {"epoch": epoch, "batch": batch_done, "optimizers": [o.state_dict() for o in optimizers],
                            "rng": rng_state(), **extra})
