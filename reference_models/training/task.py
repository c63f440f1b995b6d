"""What a model gives the shared training loop: its *task* (``reference_models.<model>.training``).

The loop (:func:`reference_models.training.loop.train`) owns settings, data loading, devices, DDP,
checkpoints, resume, logging and the optimiser step; a task owns everything model-specific, as
torchtitan's ``TrainSpec`` brings its ``loss_fn`` and leaves the step to the trainer. A task
subclasses :class:`TrainingTask` and provides:

* ``model_class`` (a :class:`~reference_models.base.ColorizationModel`), ``config_class`` (the
  ``model`` table), ``task_config_class`` (the ``task`` table: the optimiser's and the loss's
  settings), ``phases`` and ``default_config(phase)`` (the run-level defaults);
  ``make_model_config(train_config)`` when the model's config is not simply
  ``config_class.from_dict(train_config.model)``;
* the data: ``view`` / ``view_record`` (one image's cached arrays), ``sample`` (a training sample
  of two views) and ``collate``;
* ``build_losses(model, device)`` and ``loss(model, losses, batch) -> {"loss": total, term: ...}``.

The loop calls, in order: the constructor (settings checked), ``build_model``, ``prepare`` (a new
run only; SPColor fits its k-means prior), ``build_losses``, ``optimizers``, then per batch
``step``. The default ``step`` is the loop's single-optimiser step (:func:`optimizer_step`); only a
task with several optimisers (SPColor's GAN) writes its own. ``state_dict`` / ``load_state_dict``
hold training state besides the model and the optimisers (SPColor's discriminator and schedules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from bench.core.device import move_to
from bench.core.errors import ColorbenchError
from bench.core.settings import settings_from_dict

from .config import TrainConfig

__all__ = ["TrainingTask", "optimizer_step"]


def optimizer_step(task: TrainingTask, model: torch.nn.Module, losses: torch.nn.Module, batch: Any,
                   optimizer: torch.optim.Optimizer, autocast: Callable) -> dict[str, float]:
    """One step of one optimiser: ``batch`` to the model's device, the task's loss under ``autocast``,
    backward, gradient clipping when ``clip_grad_norm`` is set, the optimiser's step. Returns the
    loss terms as floats (``"loss"`` first)."""
    batch = move_to(batch, next(model.parameters()).device, non_blocking=True)
    optimizer.zero_grad(set_to_none=True)
    with autocast():
        terms = task.loss(model, losses, batch)
    terms["loss"].backward()
    if task.train_config.clip_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]],
                                       task.train_config.clip_grad_norm)
    optimizer.step()
    return {key: float(value.detach()) for key, value in terms.items()}


class TrainingTask:
    """A model's part of training (see the module docstring). The registry names the class (``ModelSpec.task``).

    Attributes:
        name: the model's registry name.
        model_class: the network's class.
        config_class: the model's config dataclass (``from_dict``; the ``model`` table).
        task_config_class: the task's settings dataclass (the ``task`` table); the default
            :meth:`optimizers` reads its ``lr`` and ``betas``.
        phases: training phase -> the split level it trains on (MSA: ``{1: "image", 2: "object"}``).
    """

    name: ClassVar[str]
    model_class: ClassVar[type]
    config_class: ClassVar[type]
    task_config_class: ClassVar[type]
    phases: ClassVar[dict[int, str]] = {1: "image"}

    def __init__(self, config: TrainConfig, phase: int = 1) -> None:
        """Check the settings (one-line :class:`~bench.core.errors.ColorbenchError` on a bad one)."""
        self.train_config, self.phase = config, phase
        self.model_config = self.make_model_config(config)
        try:
            self.task_config = settings_from_dict(self.task_config_class, config.task, f"{self.name} training setting")
        except (TypeError, ValueError) as exc:
            raise ColorbenchError(f"{self.name} training setting: {exc}") from None

    def make_model_config(self, config: TrainConfig):
        """The model's config from the run's ``model`` table."""
        try:
            return self.config_class.from_dict(config.model)
        except (TypeError, ValueError) as exc:
            raise ColorbenchError(f"{self.name} model setting: {exc}") from None

    @staticmethod
    def default_config(phase: int) -> TrainConfig:
        """The paper's run-level settings for ``phase`` (batch, epochs or steps, references)."""
        raise NotImplementedError

    @property
    def view_depends_on_role(self) -> bool:
        """Whether an image's view as a target differs from its view as a reference (cached apart)."""
        return False

    @property
    def uses_masks(self) -> bool:
        """Whether the views get their object masks (MSA's phase 2)."""
        return False

    def build_model(self) -> torch.nn.Module:
        """The network (what checkpoints hold and ``colorize`` runs)."""
        return self.model_class.from_config(self.model_config)

    def model_record(self) -> dict:
        """The model config as stored in checkpoints (``from_dict`` rebuilds the same network)."""
        return self.model_config.as_dict()

    def prepare(self, model: torch.nn.Module, data) -> None:
        """A new run, before the first step (nothing by default)."""

    def build_losses(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The losses (and anything they train, such as a discriminator)."""
        raise NotImplementedError

    def optimizers(self, model: torch.nn.Module) -> list[torch.optim.Optimizer]:
        """Every optimiser ``step`` uses (saved and restored by the loop): by default one Adam over the
        trainable parameters, with the task config's ``lr`` and ``betas``."""
        trainable = [p for p in model.parameters() if p.requires_grad]
        return [torch.optim.Adam(trainable, lr=self.task_config.lr, betas=tuple(self.task_config.betas))]

    def view_record(self) -> dict:
        """The settings a cached view depends on."""
        raise NotImplementedError

    def view(self, rgb: np.ndarray, mask: np.ndarray | None, role: str = "target") -> dict[str, np.ndarray]:
        """One image's prepared arrays (cached by content)."""
        raise NotImplementedError

    def sample(self, target_view: dict, reference_view: dict, rng: np.random.Generator) -> Any:
        """One training sample from two views; ``rng`` is the sample's own generator."""
        raise NotImplementedError

    collate: Callable[[list], Any]

    def loss(self, model: torch.nn.Module, losses: torch.nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        """The model's forward pass and its loss on ``batch`` (on the model's device, under autocast):
        ``{"loss": total, term: value, ...}``, the total first."""
        raise NotImplementedError

    def step(self, model: torch.nn.Module, losses: torch.nn.Module, batch: Any,
             optimizers: list[torch.optim.Optimizer], autocast: Callable) -> dict[str, float]:
        """One training step on ``batch``; returns the losses to log (``"loss"`` first)."""
        (optimizer,) = optimizers
        return optimizer_step(self, model, losses, batch, optimizer, autocast)

    def state_dict(self) -> dict:
        """Training state besides the model and the optimisers (none by default): only tensors,
        numbers, strings, lists and dicts."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output."""
