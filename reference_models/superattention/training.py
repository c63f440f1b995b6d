"""How MSA and SA are trained: one task for the family (its views, samples, loss and optimiser), for
the shared training loop, and each member's settings.

MSA (Sec. V-A of its paper): Adam, lr 1e-5, betas (0.9, 0.99), batch 8, 224 x 224; phase 1 on full
images of the image-level split, without masks, 40 epochs; phase 2 on the object-level split with
the objects' masks (MaskSLIC, masked super-attention), 10 epochs, starting from phase 1's weights;
the loss ``2 SmoothL1 + 0.15 LPIPS`` (:mod:`.losses`). Each epoch every target gets one reference,
a synthetic one with probability 0.25 (:class:`pairing.ReferenceSampler`).

SA: the authors released test-time code only; the training settings known from the same authors'
public training code are used: Adam, lr 1e-5 (betas: PyTorch's default), the loss ``20 SmoothL1 +
0.15 LPIPS-VGG`` (the ``sa-code`` preset), batch 8, 224 x 224, the frozen VGG19-BN value network.
Their exponential moving average of the weights (0.995) is left out (a choice: checkpoints hold the
trained weights themselves). A model trained here runs the attention without the released code's
quirks (``official_compat=False``). Its samples are the released test-time inputs on 8-bit views
(:mod:`.views`: the target's ``rgb2gray`` re-mapped to the reference's luminance statistics,
superpixels on the target's gray and on the reference's ``L / 100``), with the ground truth's
CIELAB ab as the target.

The run-level settings (batch, epochs, steps, seed, ...) are :class:`TrainConfig`'s; the optimiser's
and the loss's are the task's (:class:`SuperAttentionTrainingConfig`, the ``task`` table of a
config file).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from bench.core.errors import ColorbenchError
from reference_models.superattention.config import MSAConfig, SAConfig
from reference_models.superattention.losses import ColorizationLoss, LossConfig, get_loss_config
from reference_models.superattention.msa import MSAGenerator
from reference_models.superattention.sa import SAGenerator
from reference_models.superattention.views import collate, pair_sample, prepare_view
from reference_models.training.config import TrainConfig
from reference_models.training.task import TrainingTask

__all__ = ["MSATask", "MSATrainingConfig", "SATask", "SATrainingConfig", "SuperAttentionTask",
           "SuperAttentionTrainingConfig", "loss_config"]


def loss_config(setting: str | dict) -> LossConfig:
    """A loss preset name (``paper``, ``sa-code``) or a table of :class:`LossConfig` fields."""
    return get_loss_config(setting) if isinstance(setting, str) else LossConfig.from_dict(setting)


@dataclass(frozen=True)
class SuperAttentionTrainingConfig:
    """The optimiser and the loss of a super-attention model (the ``task`` table).

    Attributes:
        lr: Adam's learning rate (MSA paper: 1e-5; SA authors' training code: 1e-5).
        betas: Adam's betas (MSA paper: (0.9, 0.99); SA authors' code: PyTorch's (0.9, 0.999)).
        loss: a preset name (``"paper"``, ``"sa-code"``) or a table of
            :class:`~reference_models.superattention.losses.LossConfig` fields.
    """

    lr: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.99)
    loss: str | dict = "paper"

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0; got {self.lr}")
        try:
            loss_config(self.loss)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"loss: {exc}") from None

    @property
    def loss_settings(self) -> LossConfig:
        return loss_config(self.loss)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MSATrainingConfig(SuperAttentionTrainingConfig):
    """MSA's: the paper's Adam (1e-5, betas (0.9, 0.99)) and loss (``2 SmoothL1 + 0.15 LPIPS``)."""


@dataclass(frozen=True)
class SATrainingConfig(SuperAttentionTrainingConfig):
    """SA's: the authors' training code's Adam (1e-5, PyTorch's betas) and loss (``sa-code``)."""

    betas: tuple[float, float] = (0.9, 0.999)
    loss: str | dict = "sa-code"


class SuperAttentionTask(TrainingTask):
    """The family's part of training (see :mod:`reference_models.training.loop` for the loop): the
    views and samples of :mod:`.views` as the model's config describes them, :class:`ColorizationLoss`."""

    def __init__(self, config: TrainConfig, phase: int = 1):
        super().__init__(config, phase)
        self.view_spec = self.model_config.views

    @property
    def view_depends_on_role(self) -> bool:
        return self.view_spec.depends_on_role

    def build_losses(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        return ColorizationLoss(self.task_config.loss_settings, device=device)

    def view_record(self) -> dict:
        """What a cached view depends on."""
        return {"model": self.name, "input_size": self.view_spec.size,
                "superpixels": asdict(self.view_spec.superpixels)}

    def view(self, rgb: np.ndarray, mask: np.ndarray | None, role: str = "target") -> dict:
        return prepare_view(rgb, mask, self.view_spec, role)

    def sample(self, target_view: dict, reference_view: dict, rng: np.random.Generator) -> dict:
        return pair_sample(target_view, reference_view, self.view_spec)

    collate = staticmethod(collate)

    def loss(self, model: torch.nn.Module, losses: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
        """The predicted ab against the ground truth's (the loss runs in float32 under autocast)."""
        ab = model(batch.target_input, batch.reference_l, batch.reference_rgb, batch.target_labels,
                   batch.reference_labels)
        terms = losses(ab.float(), batch.target_ab, batch.target_l)
        return {"loss": terms.total, "smooth_l1": terms.smooth_l1, "lpips": terms.lpips}


class MSATask(SuperAttentionTask):
    """MSA: phase 1 on image-level splits, phase 2 (object masks) on object-level splits."""

    name = "msa"
    model_class = MSAGenerator
    config_class = MSAConfig
    task_config_class = MSATrainingConfig
    phases = {1: "image", 2: "object"}

    @staticmethod
    def default_config(phase: int) -> TrainConfig:
        """The paper's run: batch 8, 40 epochs in phase 1 and 10 in phase 2, synthetic references 25%."""
        return TrainConfig(batch_size=8, epochs=40 if phase == 1 else 10, p_synthetic=0.25)

    @property
    def uses_masks(self) -> bool:
        return self.phase == 2


class SATask(SuperAttentionTask):
    """SA trained here (the attention without the released quirks)."""

    name = "sa"
    model_class = SAGenerator
    config_class = SAConfig
    task_config_class = SATrainingConfig

    def make_model_config(self, config: TrainConfig) -> SAConfig:
        """A model trained here runs the attention without the released quirks."""
        model_config = super().make_model_config(replace(config, model={"official_compat": False, **config.model}))
        if model_config.official_compat:
            raise ColorbenchError("official_compat is the released checkpoint's mode; a model trained here runs "
                                  "without it (leave it out of the model table)")
        return model_config

    @staticmethod
    def default_config(phase: int) -> TrainConfig:
        return TrainConfig(batch_size=8, epochs=40, p_synthetic=0.25)
