"""Training settings: one frozen dataclass of the run's settings, loadable from TOML or JSON.

A run's settings are the model's defaults for its phase (:meth:`TrainingTask.default_config`), then
a config file (``--config FILE``), then the command line (``--max-steps``); the result is written
into the run folder (``RUN/config.json``), and a mistyped key anywhere is a one-line error.

A config file holds the run-level :class:`TrainConfig` fields at the top level and two tables:
``model`` (the model config's fields, e.g. :class:`~reference_models.superattention.config.MSAConfig`,
nested tables included) and ``task`` (the model's training task's settings: its optimiser and loss,
e.g. :class:`~reference_models.superattention.training.MSATrainingConfig`)::

    batch_size = 4
    [model]
    fusion = "concat"
    [model.superpixels]
    compactness = 10
    [task]
    lr = 2e-5
    loss = "sa-code"
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.core.errors import ColorbenchError
from bench.core.settings import settings_from_dict

__all__ = ["TrainConfig", "load_config_file", "AMP_MODES"]

#: Top-level settings that runs written before the task table (up to commit c6011d6) held; the training task's now.
_MOVED_TO_TASK = ("lr", "betas", "loss", "extra")
#: ``amp``: ``auto`` = bf16 autocast on CUDA, float32 on CPU (CPU bf16 kernels are often slower).
AMP_MODES = ("auto", "bf16", "off")


@dataclass(frozen=True)
class TrainConfig:
    """How a run goes (the model's architecture is in ``model``, its optimiser and loss in ``task``).

    Attributes:
        batch_size: samples per step and per process (MSA, SA: 8; SPColor: 16).
        epochs: passes over the split's targets (MSA: 40 in phase 1, 10 in phase 2); the run stops
            at ``epochs`` or ``max_steps``, whichever comes first; ``None``: ``max_steps`` alone
            decides (SPColor counts iterations, not epochs).
        max_steps: stop after this many optimiser steps (``None``: the epochs decide).
        p_synthetic: probability of a synthetic reference per target and epoch (MSA: 0.25).
        seed: seeds the reference draws, the model's initialisation and any augmentation.
        workers: DataLoader worker processes per training process.
        checkpoint_every: write a checkpoint every this many steps (and at the end).
        log_every: append the losses to ``log.csv`` every this many steps.
        amp: mixed precision: ``auto`` (bf16 on CUDA), ``bf16`` or ``off``.
        clip_grad_norm: clip the gradients' global norm to this before each optimiser step of the
            loop's single-optimiser step (``None``: no clipping; none of the papers clips).
        cache_views: cache each image's prepared view (resized, superpixels) on disk, by content.
        model: the model config's fields (``from_dict`` of its config class checks them).
        task: the training task's settings (its ``task_config_class`` checks them): the optimiser
            and the loss (MSA, SA), SPColor's ``prior_fit_images``.
    """

    batch_size: int = 8
    epochs: int | None = 40
    max_steps: int | None = None
    p_synthetic: float = 0.25
    seed: int = 0
    workers: int = 2
    checkpoint_every: int = 500
    log_every: int = 10
    amp: str = "auto"
    clip_grad_norm: float | None = None
    cache_views: bool = True
    model: dict = field(default_factory=dict)
    task: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.amp not in AMP_MODES:
            raise ColorbenchError(f"amp must be one of {', '.join(AMP_MODES)}; got {self.amp!r}")
        for name in ("batch_size", "epochs", "checkpoint_every", "log_every"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ColorbenchError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.epochs is None and self.max_steps is None:
            raise ColorbenchError("set epochs or max_steps: a run needs one of them to know when to stop")
        if self.max_steps is not None and self.max_steps < 1:
            raise ColorbenchError(f"max_steps must be at least 1; got {self.max_steps}")
        if self.workers < 0 or not 0.0 <= self.p_synthetic <= 1.0:
            raise ColorbenchError("workers must be >= 0 and p_synthetic in [0, 1]")

    @classmethod
    def from_dict(cls, values: dict | None, base: TrainConfig | None = None) -> TrainConfig:
        """``base`` (default: the dataclass defaults) updated with ``values``; an unknown key is a
        one-line error naming it and the known ones (a setting that moved to the ``task`` table
        says so). ``model`` and ``task`` tables are merged into the base's, key by key."""
        base = base or cls()
        values = dict(values or {})
        moved = sorted(key for key in _MOVED_TO_TASK if key in values)
        if moved:
            raise ColorbenchError(f"training setting(s) {', '.join(moved)} belong in the [task] table now (the "
                                  "model's optimiser and loss; SPColor's optimiser is in [model]): move them there")
        for name in ("model", "task"):
            if isinstance(values.get(name), dict):
                values[name] = {**getattr(base, name), **values[name]}
        return settings_from_dict(cls, values, "training setting", base=base)

    def as_dict(self) -> dict:
        return asdict(self)


def load_config_file(path: str | os.PathLike) -> dict:
    """The settings in a TOML (``.toml``) or JSON file; a one-line error names a bad file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ColorbenchError(f"config file {path} cannot be read ({exc.strerror or exc})") from None
    try:
        if path.suffix.lower() == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                raise ColorbenchError(f"config file {path}: TOML needs Python 3.11 or later; write it as "
                                      "JSON") from None
            values = tomllib.loads(text)
        else:
            values = json.loads(text)
    except ValueError as exc:
        raise ColorbenchError(f"config file {path} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'} "
                              f"({str(exc).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ColorbenchError(f"config file {path} must hold a table of settings")
    return values
