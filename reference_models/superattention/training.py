"""How MSA is trained: its data, its loss and its optimiser, for the shared training loop.

The paper (Sec. V-A): Adam, lr 1e-5, betas (0.9, 0.99), batch 8, 224 x 224; phase 1 on full images
of the image-level split, without masks, 40 epochs; phase 2 on the object-level split with the
objects' masks (MaskSLIC, masked super-attention), 10 epochs, starting from phase 1's weights; the
loss ``2 SmoothL1 + 0.15 LPIPS`` (:mod:`reference_models.msa.losses`). Each epoch every target gets
one reference, a synthetic one with probability 0.25 (:class:`pairing.ReferenceSampler`).
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from reference_models.msa.config import MSAConfig
from reference_models.msa.losses import ColorizationLoss, LossConfig, get_loss_config
from reference_models.msa.model import MSAGenerator
from reference_models.msa.preprocess import collate, pair_sample, prepare_view
from reference_models.training.config import TrainConfig
from reference_models.training.task import TrainingTask

__all__ = ["MSATask"]


def loss_config(setting) -> LossConfig:
    """A loss preset name (``paper``, ``sa-code``) or a table of :class:`LossConfig` fields."""
    return get_loss_config(setting) if isinstance(setting, str) else LossConfig.from_dict(setting)


class MSATask(TrainingTask):
    """MSA's part of training (see :mod:`reference_models.training.loop` for the loop)."""

    name = "msa"
    model_class = MSAGenerator
    config_class = MSAConfig
    phases = {1: "image", 2: "object"}

    def __init__(self, config: TrainConfig, phase: int = 1):
        super().__init__(config, phase)
        self.loss_config = loss_config(config.loss)

    @staticmethod
    def default_config(phase: int) -> TrainConfig:
        """The paper's settings for ``phase``."""
        return TrainConfig(lr=1e-5, betas=(0.9, 0.99), batch_size=8, epochs=40 if phase == 1 else 10,
                           p_synthetic=0.25, loss="paper")

    @property
    def uses_masks(self) -> bool:
        return self.phase == 2

    def build_losses(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        return ColorizationLoss(self.loss_config, device=device)

    def view_record(self) -> dict:
        """What a cached view depends on."""
        return {"model": "msa", "input_size": self.model_config.input_size,
                "superpixels": asdict(self.model_config.superpixels)}

    def view(self, rgb, mask, role: str = "target"):
        """The same view for either role (superpixels on CIELAB L for both)."""
        return prepare_view(rgb, mask, self.model_config)

    def sample(self, target_view: dict, reference_view: dict, rng) -> dict:
        return pair_sample(target_view, reference_view)

    collate = staticmethod(collate)

    def loss(self, model: torch.nn.Module, losses: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
        """The predicted ab against the ground truth's (the loss runs in float32 under autocast)."""
        ab = model(batch.target_l, batch.reference_l, batch.reference_rgb, batch.target_labels, batch.reference_labels)
        terms = losses(ab.float(), batch.target_ab, batch.target_l)
        return {"loss": terms.total, "smooth_l1": terms.smooth_l1, "lpips": terms.lpips}
