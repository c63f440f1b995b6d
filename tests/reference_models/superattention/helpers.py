"""Test-only helpers of the super-attention family (the package loads trained models, and the released
``checkpoint.pt``, with :func:`reference_models.load`)."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from reference_models.superattention.config import MSAConfig
from reference_models.superattention.msa import MSAGenerator
from reference_models.superattention.sa import SAGenerator, load_sa_checkpoint
from reference_models.superattention.views import postprocess_lightness, target_lightness


def load_msa_state_dict(path: str | os.PathLike, config: MSAConfig | None = None) -> MSAGenerator:
    """A trained model from a bare state dict file (``.safetensors`` or a ``torch.save``d dict, read with
    ``weights_only=True``), loaded strictly, in eval mode; phi is not re-read from the registry."""
    from reference_models.training.checkpoints import load_weights

    model = MSAGenerator.for_checkpoint(config or MSAConfig())
    model.load_state_dict(load_weights(path)[0], strict=True)
    return model.eval()


def postprocess(ab_net: torch.Tensor, target_rgb: np.ndarray) -> torch.Tensor:
    """:func:`~reference_models.superattention.views.postprocess_lightness` given the full-resolution
    target ``(H, W, 3)`` (uint8 or float in [0, 1]) instead of its CIELAB L."""
    return postprocess_lightness(ab_net, target_lightness(target_rgb))


def load_released(path: str | os.PathLike, value_encoder: nn.Module | None = None) -> SAGenerator:
    """The released model: ``checkpoint.pt`` loaded strictly with ``load_state_dict``, in eval mode;
    ``value_encoder`` stands in for the VGG19-BN value network."""
    model = SAGenerator(value_encoder=value_encoder)
    model.load_state_dict(load_sa_checkpoint(path), strict=True)
    return model.eval()
