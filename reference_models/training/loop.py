"""The training loop every reference model shares: plain PyTorch, no training framework.

:func:`train` does what a model's *task* (``reference_models.<model>.training``) does not: settings
(:class:`~reference_models.training.config.TrainConfig`, written to ``RUN/config.json``), the data
(:mod:`reference_models.training.data`), mixed precision (``torch.autocast``, bf16 on CUDA), DDP
through ``torchrun`` (NCCL on GPU, gloo on CPU: each process trains on its shard of every epoch,
rank 0 alone writes), checkpoints (:mod:`reference_models.training.checkpoints`) every
``checkpoint_every`` steps and at the end, an exact ``resume``, the losses in ``RUN/log.csv`` and a
progress bar with steps/s and ETA. A task (:class:`~reference_models.training.task.TrainingTask`)
brings the model, its data and its loss; the step (batch to the device, autocast, backward,
clipping, the optimiser) is the loop's (:func:`~reference_models.training.task.optimizer_step`),
unless the task has several optimisers (SPColor's GAN). :func:`train` is three parts: set up
(everything checked before anything is written), restore (a resumed run's state), run.

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
from .checkpoints import latest_checkpoint, load_model_weights, load_state, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig, load_config_file
from .data import PairData, epoch_batches
from .task import TrainingTask

__all__ = ["TrainRun", "train"]

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


def _check_run_folder(out: Path, config: TrainConfig, resume: bool) -> tuple[Path, Path] | None:
    """The checkpoint to resume from (None: a fresh run); refuse to mix runs."""
    latest = latest_checkpoint(out)
    if latest is None:
        return None  # a new run (or one interrupted before its first checkpoint: it starts again)
    if not resume:
        raise ColorbenchError(f"{out} already holds a training run (checkpoint {latest[0].name}); pass --resume to "
                              "continue it, or choose another --out")
    saved = _flat(json.loads((out / CONFIG_FILE).read_text()))
    current = _flat(json.loads(json.dumps(config.as_dict())))
    differing = sorted(key for key in set(saved) | set(current)
                       if key not in _FREE_ON_RESUME and saved.get(key) != current.get(key))
    if differing:
        raise ColorbenchError(f"{out} holds a run with other settings ({', '.join(differing)}); resume it with the "
                              "same settings, or choose another --out")
    return latest


def _flat(settings: dict, prefix: str = "") -> dict:
    """Nested tables as dotted keys (``task.lr``), so a refused resume names the very setting."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


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


@dataclass
class _Session:
    """A training run once set up: what :func:`_restore` and :func:`_run` work on."""

    model: str
    phase: int
    task: TrainingTask
    config: TrainConfig
    split: Split
    split_file: str | None
    out: Path
    init: str | os.PathLike | None
    world: distributed.World
    device: torch.device
    net: torch.nn.Module
    data: PairData
    losses: torch.nn.Module
    optimizers: list[torch.optim.Optimizer]
    latest: tuple[Path, Path] | None
    step: int = 0
    epoch: int = 0
    batch_done: int = 0


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
        config_file: a TOML or JSON file of :class:`TrainConfig` settings (and ``model`` / ``task``
            tables); ``config``: the same as a dict, applied after the file.
        max_steps: stop after this many optimiser steps in all (a shorter run than the paper's).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (under DDP: each process's local GPU).
        resume: continue the run in ``out_dir`` from its last checkpoint, exactly.

    Returns:
        :class:`TrainRun`.
    """
    session = _set_up(model, split, out_dir, phase=phase, init=init, config_file=config_file, config=config,
                      max_steps=max_steps, device=device, resume=resume, images_root=images_root,
                      pool_root=pool_root)
    _restore(session)
    return _run(session, progress)


def _set_up(model: str, split, out_dir, *, phase, init, config_file, config, max_steps, device, resume, images_root,
            pool_root) -> _Session:
    """Check everything a user can get wrong before anything is written, then build the task, the
    network (from ``init``, or fitted by the task's ``prepare`` on a new run), the data, the losses
    and the optimisers."""
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
        load_model_weights(net, init, model)
    elif latest is None:
        task.prepare(net, data)  # what the model fits on the data before training (SPColor's k-means prior)
    losses = task.build_losses(net, torch_device)
    return _Session(model, phase, task, train_config, split, split_file, out, init, world, torch_device, net, data,
                    losses, task.optimizers(net), latest)


def _restore(session: _Session) -> None:
    """Continue from the run folder's last checkpoint, if any: the weights, the optimisers, the task's
    own state, the position (step, epoch, batch within it) and the random generators."""
    if session.latest is None:
        return
    weights, state_file = session.latest
    load_model_weights(session.net, weights, session.model)
    state = load_state(state_file)
    try:
        for optimizer, saved in zip(session.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
    except ValueError:
        raise ColorbenchError(f"checkpoint {state_file} holds optimiser state that does not fit this model's "
                              f"optimisers (written by an older colorbench?); start a new run from its weights "
                              f"with --init {weights}") from None
    session.task.load_state_dict(state.get("task", {}))
    session.step, session.epoch, session.batch_done = int(state["step"]), int(state["epoch"]), int(state["batch"])
    set_rng_state(state["rng"])


def _run(session: _Session, progress: bool) -> TrainRun:
    """The steps from the session's position to the end (``epochs`` or ``max_steps``), with the log,
    the checkpoints and the run's record."""
    from tqdm.auto import tqdm

    from pairing.sampler import DistributedReferenceSampler, ReferenceSampler

    s, config, world, out = session, session.config, session.world, session.out
    trained = torch.nn.parallel.DistributedDataParallel(
        s.net, device_ids=[s.device.index] if s.device.type == "cuda" else None) if world.active else s.net
    sampler = (DistributedReferenceSampler(s.split, world.rank, world.size, p_synthetic=config.p_synthetic,
                                           seed=config.seed) if world.active else
               ReferenceSampler(s.split, p_synthetic=config.p_synthetic, seed=config.seed))
    per_epoch = -(-len(sampler) // config.batch_size)
    epochs = config.epochs
    # whichever limit comes first (TrainConfig guarantees at least one)
    total = min(limit for limit in (None if epochs is None else per_epoch * epochs, config.max_steps)
                if limit is not None)
    use_bf16 = config.amp == "bf16" or (config.amp == "auto" and s.device.type == "cuda")

    def autocast():
        return torch.autocast(s.device.type, dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()

    lock = exclusive_lock(out, "training run") if world.is_main else contextlib.nullcontext()
    with lock:
        if world.is_main:
            write_json(out / CONFIG_FILE, {**config.as_dict()})
            write_json(out / "run.json", {"model": s.model, "phase": s.phase, "split_id": s.split.split_id,
                                          "split_file": s.split_file, "init": None if s.init is None else str(s.init),
                                          "world_size": world.size})
        log = _Log(out / LOG_FILE, world.is_main, s.step if s.latest is not None else None)
        first_loss = last_loss = None
        start, start_step, checkpoint = time.perf_counter(), s.step, s.latest[0] if s.latest else None
        trained.train()
        with tqdm(total=total, initial=s.step, desc=f"training {s.model}", unit="step",
                  disable=not (progress and world.is_main)) as bar:
            while s.step < total and (epochs is None or s.epoch < epochs):
                batches = epoch_batches(sampler, s.epoch, config.batch_size)[s.batch_done:]
                loader = data_loader(s.data, batch_sampler=batches, collate_fn=s.task.collate,
                                     num_workers=min(config.workers, len(batches)))
                for batch in loader:
                    world.check_peers()
                    terms = s.task.step(trained, s.losses, batch, s.optimizers, autocast)
                    s.step, s.batch_done = s.step + 1, s.batch_done + 1
                    first_loss = terms["loss"] if first_loss is None else first_loss
                    last_loss = terms["loss"]
                    bar.set_postfix(loss=f"{terms['loss']:.4f}")
                    bar.update(1)
                    if s.step % config.log_every == 0 or s.step == total:
                        log.add({"step": s.step, "epoch": s.epoch, "seconds": time.perf_counter() - start, **terms})
                    if s.step % config.checkpoint_every == 0 or s.step == total:
                        checkpoint = _checkpoint(s, log)
                    if s.step >= total:
                        break
                if s.step < total or s.batch_done >= per_epoch:
                    s.epoch, s.batch_done = s.epoch + 1, 0
        seconds = time.perf_counter() - start
        if world.active:
            # DDP gives every forward rank 0's buffers (BatchNorm statistics) but the last forward
            # updated each rank's own: end, like the checkpoint, with rank 0's everywhere.
            for buffer in s.net.buffers():
                torch.distributed.broadcast(buffer, 0)
        run = TrainRun(out, s.step - start_step, s.step, first_loss, last_loss, seconds, checkpoint, _digest(s.net))
        if world.is_main:
            write_json(out / "train.json", {"steps": s.step, "steps_this_run": run.steps,
                                            "seconds": round(seconds, 3), "first_loss": first_loss,
                                            "last_loss": last_loss,
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


def _checkpoint(s: _Session, log: _Log) -> Path | None:
    log.flush()
    if not s.world.is_main:
        return None
    return save_checkpoint(s.out, s.step, s.net, s.model, s.task.model_record(),
                           {"epoch": s.epoch, "batch": s.batch_done,
                            "optimizers": [o.state_dict() for o in s.optimizers], "rng": rng_state(),
                            "task": s.task.state_dict()})
