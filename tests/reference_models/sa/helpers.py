"""Test-only SA helpers (the package loads the released ``checkpoint.pt`` with
``reference_models.load(path, model="sa")``)."""

from __future__ import annotations

import os

from torch import nn

from reference_models.sa.model import SAGenerator, load_sa_checkpoint


def load_released(path: str | os.PathLike, value_encoder: nn.Module | None = None) -> SAGenerator:
    """The released model: ``checkpoint.pt`` loaded strictly with ``load_state_dict``, in eval mode;
    ``value_encoder`` stands in for the VGG19-BN value network."""
    model = SAGenerator(official_compat=True, value_encoder=value_encoder)
    model.load_state_dict(load_sa_checkpoint(path), strict=True)
    return model.eval()
