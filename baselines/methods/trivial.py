"""The two bounds every table needs: the gray input (lower) and the ground truth (upper)."""

from __future__ import annotations

import numpy as np

from ..registry import PairInputs, register_baseline


@register_baseline("gray", needs=(), description="the gray target unchanged (lower bound; SPColor's "
                   "'Grayscale Image' row)")
def gray(pair: PairInputs, rng: np.random.Generator) -> np.ndarray:
    return pair.target_gray.copy()


@register_baseline("oracle", needs=("gt",), description="the ground truth itself (sanity upper bound: "
                   "perfect wherever a perfect score is defined)")
def oracle(pair: PairInputs, rng: np.random.Generator) -> np.ndarray:
    return pair.gt.copy()
