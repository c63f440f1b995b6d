"""Reinhard et al. 2001 colour transfer, global and between object masks.

Reinhard transfers each channel's mean and standard deviation: ``out = (x - mu_t) * sigma_r /
sigma_t + mu_r``. Two choices make it a colorization baseline:

* CIELAB instead of the paper's l-alpha-beta (the space every metric here uses); and the target's
  own lightness is kept, as every colorization method keeps it (MSA and SPColor predict ab and
  join it with the input L): only a and b are transferred.
* A gray target's a and b are constant (0), so ``sigma_t = 0`` and the scale is 0/0. The limit
  that keeps the formula meaningful is the reference mean: a constant channel maps to ``mu_r``.
  On gray targets Reinhard therefore tints the image with the reference's mean chroma, which is
  exactly what global statistics transfer can do without texture matching (see ``welsh``).

``reinhard-masked`` (object splits) transfers between the two masks: the target object takes
the reference object's statistics, and the rest of the target takes those of the rest of the
reference (the whole reference when its object fills it).
"""

from __future__ import annotations

import numpy as np

from ..registry import PairInputs, compose, register_baseline

__all__ = ["transfer_channels", "reinhard_ab"]

#: A channel with a smaller standard deviation is treated as constant (see the module docstring).
CONSTANT_STD = 1e-6

_CITATION = "E. Reinhard, M. Ashikhmin, B. Gooch, P. Shirley. Color Transfer between Images. IEEE CG&A 2001"


def transfer_channels(target: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mean/std transfer of each channel: ``target`` ``(N, C)`` pixels, ``reference`` ``(M, C)``
    -> ``(N, C)``. A constant target channel (std < ``CONSTANT_STD``) maps to the reference mean."""
    mu_t, sigma_t = target.mean(axis=0), target.std(axis=0)
    mu_r, sigma_r = reference.mean(axis=0), reference.std(axis=0)
    constant = sigma_t < CONSTANT_STD
    scale = np.where(constant, 0.0, sigma_r / np.where(constant, 1.0, sigma_t))
    return (target - mu_t) * scale + mu_r


def reinhard_ab(target_lab_ab: np.ndarray, reference_ab: np.ndarray, target_mask: np.ndarray | None = None,
                reference_mask: np.ndarray | None = None) -> np.ndarray:
    """The transferred ab ``(H, W, 2)`` of a target whose current ab is ``target_lab_ab`` (zeros for
    a gray target) from ``reference_ab`` ``(h, w, 2)``; with masks, object to object and rest to
    rest (the rest of the reference, or all of it when its object fills it)."""
    out = np.empty_like(target_lab_ab, dtype=np.float64)
    if target_mask is None:
        return transfer_channels(target_lab_ab.reshape(-1, 2), reference_ab.reshape(-1, 2)).reshape(out.shape)
    reference_rest = reference_ab[~reference_mask] if (~reference_mask).any() else reference_ab.reshape(-1, 2)
    out[target_mask] = transfer_channels(target_lab_ab[target_mask], reference_ab[reference_mask])
    if (~target_mask).any():
        out[~target_mask] = transfer_channels(target_lab_ab[~target_mask], reference_rest)
    return out


@register_baseline("reinhard", needs=("reference",), citation=_CITATION,
                   description="Reinhard et al. 2001: global Lab mean/std transfer of ab from the reference "
                               "(target lightness kept)")
def reinhard(pair: PairInputs, rng: np.random.Generator) -> np.ndarray:
    gray_ab = np.zeros((*pair.target_l.shape, 2))
    return compose(pair.target_l, reinhard_ab(gray_ab, pair.reference_lab[..., 1:]))


@register_baseline("reinhard-masked", needs=("reference", "mask"), citation=_CITATION,
                   description="Reinhard transfer between the two masks: object to object, rest to rest "
                               "(object splits)")
def reinhard_masked(pair: PairInputs, rng: np.random.Generator) -> np.ndarray:
    gray_ab = np.zeros((*pair.target_l.shape, 2))
    ab = reinhard_ab(gray_ab, pair.reference_lab[..., 1:], pair.target_mask, pair.reference_mask)
    return compose(pair.target_l, ab)
