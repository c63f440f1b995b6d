"""Float32 islands inside bf16 autocast: the few computations the models must not run in bfloat16.

Training runs under ``torch.autocast(device, dtype=torch.bfloat16)``
(:mod:`reference_models.training.loop`): matrix products and convolutions then return bfloat16,
8 significant bits (about 3 decimal digits). That suits the networks' layers, not:

* a softmax at a small temperature: the super-attention's and SPColor's correspondence's logits
  are cosines over ``tau = 0.01``, and a cosine rounded to bfloat16 (steps of 2^-8 near 1) moves
  its logit by up to ~0.4;
* differences of nearly equal values: the contextual loss's ``1 - cos``, the relativistic GAN
  loss's ``D(r) - mean D(f)`` (the logits' level is free, so they may drift far from 0).

Such a computation runs as ``with autocast_off(x.device): f(full_precision(x))``: its operations
then run in their inputs' dtype, float32 for half-precision inputs (float64 stays float64). What
comes out is float32; the next autocast operation casts it back where it wants bfloat16.
"""

from __future__ import annotations

import torch

__all__ = ["autocast_off", "full_precision"]


def autocast_off(device: torch.device | str) -> torch.autocast:
    """A context in which autocast is off for ``device``'s type (whether it was on or not)."""
    return torch.autocast(torch.device(device).type, enabled=False)


def full_precision(x: torch.Tensor) -> torch.Tensor:
    """Half-precision tensors (what autocast produced) as float32; float32 and float64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
