"""Training the super-attention model (SA) with the shared loop.

The SA authors released test-time code only; their training settings known from the same
authors' public training code are used here: Adam, lr 1e-5, the loss ``20 SmoothL1 + 0.15
LPIPS-VGG`` (the ``sa-code`` preset of :mod:`reference_models.msa.losses`), batch 8, 224 x 224, the
frozen VGG19-BN value network. Their exponential moving average of the weights (0.995) is left
out (a choice: checkpoints hold the trained weights themselves). A model trained here runs the
attention without the released code's quirks (``official_compat=False``; the authors' checkpoint
keeps them). The data are the released test-time inputs (the target's ``rgb2gray`` remapped to
the reference's luminance statistics, superpixels on the target's gray and on the reference's
``L / 100``), with the ground truth's CIELAB ab as the target.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch
from skimage.color import rgb2gray, rgb2lab

from reference_models.layers.superpixels import stack_levels, superpixel_levels
from reference_models.msa.training import loss_config
from reference_models.sa.model import SAConfig, SAGenerator
from reference_models.sa.preprocess import remap_luminance, resize_view
from reference_models.training.config import TrainConfig
from reference_models.training.task import TrainingTask

__all__ = ["SATask"]

_LEVELS = 3


class SATask(TrainingTask):
    """SA's part of training (see :mod:`reference_models.training.loop`)."""

    name = "sa"
    model_class = SAGenerator
    config_class = SAConfig
    #: the target's superpixels are on its gray, the reference's on its L: a view per role
    view_depends_on_role = True

    def __init__(self, config: TrainConfig, phase: int = 1):
        super().__init__(config, phase)
        self.loss_config = loss_config(config.loss)

    def make_model_config(self, config: TrainConfig) -> SAConfig:
        """A model trained here runs the attention without the released quirks."""
        return SAConfig.from_dict({"official_compat": False, **config.model})

    @staticmethod
    def default_config(phase: int) -> TrainConfig:
        return TrainConfig(lr=1e-5, betas=(0.9, 0.999), batch_size=8, epochs=40, p_synthetic=0.25, loss="sa-code")

    def build_losses(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        from reference_models.msa.losses import ColorizationLoss

        return ColorizationLoss(self.loss_config, device=device)

    def view_record(self) -> dict:
        return {"model": "sa", "input_size": self.model_config.input_size,
                "superpixels": asdict(self.model_config.superpixels)}

    def view(self, rgb: np.ndarray, mask: np.ndarray | None, role: str = "target") -> dict:
        """The image at the input size and its superpixels, by the preprocessing the model colorizes
        with (:func:`~reference_models.sa.preprocess.resize_view` at 8-bit levels, stored as uint8):
        superpixels on ``rgb2gray`` as a target, on ``L / 100`` as a reference."""
        small = resize_view(rgb, self.model_config.input_size, quantize=True)
        base = rgb2gray(small) if role == "target" else rgb2lab(small)[..., 0] / 100.0
        small = np.rint(small * 255.0).astype(np.uint8)
        labels = superpixel_levels(base, None, self.model_config.superpixels)
        return {"rgb": small, **{f"labels{i}": level for i, level in enumerate(labels)}}

    def sample(self, target_view: dict, reference_view: dict, rng) -> dict:
        target_lab = rgb2lab(target_view["rgb"])
        reference_l = rgb2lab(reference_view["rgb"])[..., 0] / 100.0
        target_map = remap_luminance(rgb2gray(target_view["rgb"]), reference_l)
        return {"target_map": np.repeat(target_map[None], 3, 0).astype(np.float32),
                "reference_l": np.repeat(reference_l[None], 3, 0).astype(np.float32),
                "reference_rgb": np.ascontiguousarray(reference_view["rgb"].transpose(2, 0, 1), np.float32) / 255.0,
                "target_ab": np.ascontiguousarray((target_lab[..., 1:] / 127.0).transpose(2, 0, 1), np.float32),
                "target_l": (target_lab[..., 0] / 100.0)[None].astype(np.float32),
                "target_labels": [np.asarray(target_view[f"labels{i}"], np.int64) for i in range(_LEVELS)],
                "reference_labels": [np.asarray(reference_view[f"labels{i}"], np.int64) for i in range(_LEVELS)]}

    @staticmethod
    def collate(samples: list[dict]) -> dict:
        batch = {name: torch.from_numpy(np.stack([s[name] for s in samples]))
                 for name in ("target_map", "reference_l", "reference_rgb", "target_ab", "target_l")}
        for name in ("target_labels", "reference_labels"):
            batch[name] = stack_levels([s[name] for s in samples])
        return batch

    def loss(self, model: torch.nn.Module, losses: torch.nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        """The predicted ab against the ground truth's (the loss runs in float32 under autocast)."""
        ab = model(batch["target_map"], batch["reference_l"], batch["reference_rgb"], batch["target_labels"],
                   batch["reference_labels"])
        terms = losses(ab.float(), batch["target_ab"], batch["target_l"])
        return {"loss": terms.total, "smooth_l1": terms.smooth_l1, "lpips": terms.lpips}
