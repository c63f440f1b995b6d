"""SPColor's optimisers and learning-rate schedules, from an :class:`~reference_models.spcolor.config.SPColorConfig`.

Networks (correspondence + colour net): Adam, betas ``config.betas``, the colour network at
``colornet_lr_multiplier`` times ``generator_lr`` (paper: the same rate; released: 20x), ``eps`` and
``amsgrad`` from the config. Discriminator: Adam at ``discriminator_lr``, same betas. Both
schedules step once per iteration: ``multistep`` (x``lr_gamma`` at ``lr_milestones``, the paper's
/10 at 100k) or ``step`` (x``lr_gamma`` every ``lr_step_size``, released x0.5 every 20k).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_models.spcolor.config import SPColorConfig

__all__ = ["build_optimizers", "build_schedulers"]


def build_optimizers(model: nn.Module, discriminator: nn.Module,
                     config: SPColorConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """``(generator optimiser, discriminator optimiser)`` for an :class:`~reference_models.spcolor.model.SPColor`
    (its ``correspondence`` and ``colornet``; the frozen VGG and prior are not optimised)."""
    generator = torch.optim.Adam(
        [{"params": model.correspondence.parameters(), "lr": config.generator_lr},
         {"params": model.colornet.parameters(), "lr": config.generator_lr * config.colornet_lr_multiplier}],
        betas=config.betas, eps=config.generator_eps, amsgrad=config.amsgrad)
    critic = torch.optim.Adam(discriminator.parameters(), lr=config.discriminator_lr, betas=config.betas)
    return generator, critic


def build_schedulers(generator: torch.optim.Optimizer, critic: torch.optim.Optimizer,
                     config: SPColorConfig) -> tuple[torch.optim.lr_scheduler.LRScheduler, ...]:
    """One scheduler per optimiser; call ``.step()`` after every iteration."""
    def make(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        if config.lr_schedule == "step":
            return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_size, gamma=config.lr_gamma)
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(config.lr_milestones),
                                                    gamma=config.lr_gamma)

    return make(generator), make(critic)
