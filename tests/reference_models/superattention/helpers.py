"""Test-only MSA helpers (the package loads trained models with :func:`reference_models.load`)."""

from __future__ import annotations

import os

import numpy as np
import torch

from reference_models.msa.model import MSAConfig, MSAGenerator
from reference_models.msa.preprocess import postprocess_lightness, target_lightness


def load_msa_state_dict(path: str | os.PathLike, config: MSAConfig | None = None) -> MSAGenerator:
    """A trained model from a bare state dict file (``.safetensors`` or a ``torch.save``d dict, read with
    ``weights_only=True``), loaded strictly, in eval mode; phi is not re-read from the registry."""
    from reference_models.training.checkpoints import load_weights

    model = MSAGenerator.for_checkpoint(config or MSAConfig())
    model.load_state_dict(load_weights(path)[0], strict=True)
    return model.eval()


def postprocess(ab_net: torch.Tensor, target_rgb: np.ndarray) -> torch.Tensor:
    """:func:`~reference_models.msa.preprocess.postprocess_lightness` given the full-resolution target
    ``(H, W, 3)`` (uint8 or float in [0, 1]) instead of its CIELAB L."""
    return postprocess_lightness(ab_net, target_lightness(target_rgb))
