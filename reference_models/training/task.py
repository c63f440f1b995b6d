"""What a model gives the shared training loop: its *task* (``reference_models.<model>.training``).

The loop (:func:`reference_models.training.loop.train`) owns settings, data loading, devices, DDP,
checkpoints, resume and logging; a task owns everything model-specific. :class:`TrainingTask` lists
what the loop calls, in order: ``default_config`` and the constructor (settings checked), then
``build_model``, ``prepare`` (new runs only), ``build_losses``, ``optimizers``, then per sample
``view`` / ``sample`` (in DataLoader workers), ``collate``, and per batch ``step``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import numpy as np
import torch

from .config import TrainConfig

__all__ = ["TrainingTask"]


class TrainingTask(Protocol):
    """A model's part of training. The registry names the class (``ModelSpec.task``).

    Attributes:
        name: the model's registry name.
        config_class: the model's config dataclass (``from_dict``).
        phases: training phase -> the split level it trains on (MSA: ``{1: "image", 2: "object"}``).
        uses_masks: give the views their object masks.
        view_depends_on_role: optional; the target's and the reference's views of one image differ
            (cached apart).

    Optional methods the loop calls when present: ``prepare(model, data)`` (a new run, before the
    first step: SPColor fits its k-means prior on the training targets), and ``state_dict()`` /
    ``load_state_dict(state)`` (training state besides the model and the optimisers, saved in
    each checkpoint's ``.state.pt``: SPColor's discriminator and learning-rate schedules; only
    tensors, numbers, strings, lists and dicts).
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    phases: ClassVar[dict[int, str]]
    uses_masks: bool

    def __init__(self, config: TrainConfig, phase: int = 1) -> None:
        """Check the settings (one-line :class:`~bench.core.errors.ColorbenchError` on a bad one)."""

    @staticmethod
    def default_config(phase: int) -> TrainConfig:
        """The paper's settings for ``phase``."""

    def build_model(self) -> torch.nn.Module:
        """The network (what checkpoints hold and ``colorize`` runs)."""

    def model_record(self) -> dict:
        """The model config as stored in checkpoints (``from_dict`` rebuilds the same network)."""

    def build_losses(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The losses (and anything they train, such as a discriminator)."""

    def optimizers(self, model: torch.nn.Module) -> list[torch.optim.Optimizer]:
        """Every optimiser ``step`` uses (saved and restored by the loop)."""

    def view_record(self) -> dict:
        """The settings a cached view depends on."""

    def view(self, rgb: np.ndarray, mask: np.ndarray | None, role: str = "target") -> dict[str, np.ndarray]:
        """One image's prepared arrays (cached by content)."""

    def sample(self, target_view: dict, reference_view: dict, rng: np.random.Generator) -> Any:
        """One training sample from two views; ``rng`` is the sample's own generator."""

    collate: Callable[[list], Any]

    def step(self, model: torch.nn.Module, losses: torch.nn.Module, batch: Any,
             optimizers: list[torch.optim.Optimizer], autocast: Callable) -> dict[str, float]:
        """One training step on ``batch``; returns the losses to log (``"loss"`` first)."""
