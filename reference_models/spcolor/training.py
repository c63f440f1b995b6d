"""How SPColor is trained: its data, losses, discriminator and optimisers, for the shared training loop.

The paper (Sec. IV): ImageNet pairs (a retrieved reference per target; each sample with
probability 0.2 takes its own colour image, flipped and slightly cropped, as the reference), 256 x
256, Adam betas (0.5, 0.999), lr 2e-5 for the networks and 2e-4 for the discriminator,
120k iterations, /10 at 100k; every iteration one discriminator step, then one step of the
correspondence and colour networks on ``2 L1 + 0.01 SMP + 0.4 adversarial + 2 smoothness``
(:mod:`reference_models.spcolor.losses`).

Settings. The top-level training settings are the run's: ``batch_size`` (per process; default 16,
the released code's total, which it ran as 8 on each of two GPUs: the paper states no batch;
``batch_size = 8`` with ``torchrun --nproc_per_node 2`` is the released layout) and ``max_steps``
(the paper's 120k iterations; ``epochs`` is None: the iterations decide). Every
:class:`~reference_models.spcolor.config.SPColorConfig` field (the networks, the losses and both
optimisers: their settings come as one set in the paper and in the released ``opt.txt``) goes in
the ``model`` table, which may start from a named preset (``preset = "released-code"``). The
``task`` table (:class:`SPColorTrainingConfig`): ``prior_fit_images``.

Data. A view is the image with its short side at ``image_size`` (uint8, cached by content); a
sample is :func:`~reference_models.spcolor.data.make_training_sample` of the target's and the
reference's views (centre crops, the self-reference draw, the luminance noise), drawn from the
sample's own generator. (The self-reference crop is taken from that view rather than from the
full-size photograph: the released code resizes it to 480 first, then to 256.) References come
from the split (retrieved pairs; ``p_synthetic`` 0 by default, since SPColor trains on real pairs).

The prior. With ``prior = "kmeans"`` the centres are fit once, before the first step, on up to
``prior_fit_images`` training targets (their gray images), and saved in every checkpoint; with
the paper's STEGO the checkpoint file is needed (``colorbench weights list``).

Under DDP the networks are wrapped by the loop; the discriminator's gradients are averaged over the
processes here (it runs twice per loss, on the real and the fake images, which DDP's one-forward
bookkeeping does not allow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bench.core.device import move_to
from bench.core.errors import ColorbenchError
from reference_models.spcolor.config import SPColorConfig, preset
from reference_models.spcolor.data import make_training_sample, resize_and_center_crop, resize_short_side
from reference_models.spcolor.discriminator import Discriminator
from reference_models.spcolor.losses import SPColorLoss
from reference_models.spcolor.model import SPColor
from reference_models.spcolor.optim import build_optimizers, build_schedulers
from reference_models.spcolor.prior import KMeansPrior
from reference_models.training.config import TrainConfig
from reference_models.training.task import TrainingTask

__all__ = ["SPColorTask", "SPColorTrainingConfig"]

#: How many targets go through VGG19 at once while the k-means prior is fit.
_FIT_BATCH = 16


@dataclass(frozen=True)
class SPColorTrainingConfig:
    """SPColor's task settings besides :class:`SPColorConfig` (the ``task`` table).

    Attributes:
        prior_fit_images: how many training targets the k-means prior (``prior = "kmeans"``) is fit
            on (ours: 256; the paper and the released code use STEGO, which is not fit here).
    """

    prior_fit_images: int = 256

    def __post_init__(self) -> None:
        if self.prior_fit_images < 1:
            raise ValueError(f"prior_fit_images must be >= 1; got {self.prior_fit_images}")


def spcolor_config(train_config: TrainConfig) -> SPColorConfig:
    """The run's :class:`SPColorConfig`: the ``model`` table, from its ``preset`` (default the paper).

    Raises:
        ColorbenchError: an unknown preset or setting.
    """
    values = dict(train_config.model)
    name = values.pop("preset", "paper")
    try:
        return preset(name, **values)
    except (TypeError, ValueError) as exc:
        raise ColorbenchError(f"SPColor setting: {exc}") from None


def average_gradients(module: nn.Module) -> None:
    """Average ``module``'s gradients over the DDP processes (what DDP does for a wrapped module)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    world = torch.distributed.get_world_size()
    for parameter in module.parameters():
        if parameter.grad is not None:
            torch.distributed.all_reduce(parameter.grad)
            parameter.grad /= world


class SPColorTask(TrainingTask):
    """SPColor's part of training (see :mod:`reference_models.training.loop` for the loop)."""

    name = "spcolor"
    model_class = SPColor
    config_class = SPColorConfig
    task_config_class = SPColorTrainingConfig

    def __init__(self, config: TrainConfig, phase: int = 1):
        super().__init__(config, phase)
        self.discriminator: Discriminator | None = None
        self.schedulers_: list = []

    @staticmethod
    def default_config(phase: int) -> TrainConfig:
        """The paper's 120k iterations (``epochs = None``: the iterations decide), batch 16 (the released
        code's total: 8 per GPU on two GPUs; the paper is silent), retrieved references only."""
        return TrainConfig(batch_size=16, epochs=None, max_steps=120_000, p_synthetic=0.0)

    def make_model_config(self, config: TrainConfig) -> SPColorConfig:
        return spcolor_config(config)

    def prepare(self, model: SPColor, data) -> None:
        """Before the first step of a new run: fit the k-means prior on the training targets
        (deterministic: the run's seed picks them, the prior's seed clusters)."""
        prior = model.prior
        if not isinstance(prior, KMeansPrior) or prior.fitted:
            return
        shas = sorted({row["target_sha256"]: index for index, row in enumerate(data.rows)}.items())
        rng = np.random.default_rng(self.train_config.seed)
        count = min(self.task_config.prior_fit_images, len(shas))
        chosen = [shas[i][1] for i in sorted(rng.choice(len(shas), size=count, replace=False))]
        device = next(model.colornet.parameters()).device
        size = self.model_config.image_size

        def batches():
            for start in range(0, len(chosen), _FIT_BATCH):
                crops = [resize_and_center_crop(data.target_view(data.rows[i])["rgb"], size)
                         for i in chosen[start:start + _FIT_BATCH]]
                yield torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).to(device).float() / 255.0

        prior.fit(batches())

    def build_losses(self, model: SPColor, device: torch.device) -> SPColorLoss:
        """The losses (on the model's VGG19) and the discriminator they train against."""
        with torch.random.fork_rng(devices=[]):  # the same discriminator on every process, whatever ran before
            torch.manual_seed(self.train_config.seed + 1)
            self.discriminator = Discriminator(ndf=self.model_config.discriminator_width).to(device)
        return SPColorLoss(self.model_config, model.vgg)

    def optimizers(self, model: SPColor) -> list[torch.optim.Optimizer]:
        """The networks' optimiser and the discriminator's
        (:func:`~reference_models.spcolor.optim.build_optimizers`)."""
        if self.discriminator is None:
            raise RuntimeError("build_losses() builds the discriminator before optimizers()")
        generator, critic = build_optimizers(model, self.discriminator, self.model_config)
        self.schedulers_ = list(build_schedulers(generator, critic, self.model_config))
        return [generator, critic]

    def state_dict(self) -> dict:
        """What an exact resume needs besides the networks and optimisers: the discriminator and
        the learning-rate schedules."""
        return {"discriminator": self.discriminator.state_dict(),
                "schedulers": [scheduler.state_dict() for scheduler in self.schedulers_]}

    def load_state_dict(self, state: dict) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        for scheduler, saved in zip(self.schedulers_, state["schedulers"]):
            scheduler.load_state_dict(saved)

    def view_record(self) -> dict:
        """What a cached view depends on."""
        return {"model": "spcolor", "short_side": self.model_config.image_size}

    def view(self, rgb: np.ndarray, mask, role: str = "target") -> dict:
        """The image with its short side at ``image_size`` (the same for both roles)."""
        return {"rgb": resize_short_side(rgb, self.model_config.image_size)}

    def sample(self, target_view: dict, reference_view: dict, rng: np.random.Generator) -> dict:
        return make_training_sample(target_view["rgb"], reference_view["rgb"], rng, self.model_config)

    collate = staticmethod(torch.utils.data.default_collate)

    def step(self, model: nn.Module, losses: SPColorLoss, batch: dict, optimizers, autocast) -> dict[str, float]:
        """One iteration: the discriminator's step on the detached output, then the networks'."""
        batch = move_to(batch, next(model.parameters()).device, non_blocking=True)
        generator, critic = optimizers
        discriminator = self.discriminator
        target_lab = batch["target_lab"]
        with autocast():
            out = model(batch["target_l_input"], batch["reference_lab"], batch["reference_rgb"],
                        prior_l=target_lab[:, :1])
            critic_loss = losses.discriminator_loss(out.ab, target_lab, discriminator)
        critic.zero_grad(set_to_none=True)
        critic_loss.backward()
        average_gradients(discriminator)
        critic.step()
        with autocast():
            terms = losses.generator_loss(out, target_lab, batch["self_reference"], discriminator)
        generator.zero_grad(set_to_none=True)
        terms.total.backward()  # also fills the discriminator's gradients: cleared before its next step
        generator.step()
        for scheduler in self.schedulers_:
            scheduler.step()
        values = {"loss": terms.total, "discriminator": critic_loss, "l1": terms.l1, "smp": terms.smp,
                  "adversarial": terms.adversarial, "smoothness": terms.smoothness}
        if self.model_config.contextual_weight:
            values["contextual"] = terms.contextual
        return {key: float(value.detach()) for key, value in values.items()}
