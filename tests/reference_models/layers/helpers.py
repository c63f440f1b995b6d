"""Test-only helpers for the shared layers."""

from __future__ import annotations

import torch


def count_superpixels(labels: torch.Tensor) -> torch.Tensor:
    """Number of superpixels per sample of ``(B, H, W)`` integer label maps: the largest label (labels
    are ``1..N``, 0 = none), ``(B,)`` int64."""
    return labels.flatten(1).amax(1).clamp_min(0).long()
