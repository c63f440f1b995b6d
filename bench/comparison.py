"""Is method A better than method B on the same pairs? Paired bootstrap and permutation test."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core.errors import ColorbenchError
from .results import bootstrap_means

__all__ = ["compare"]


def compare(a: pd.DataFrame, b: pd.DataFrame, metric: str, higher_is_better: bool | None = None,
            samples: int = 10000, seed: int = 0) -> dict:
    """Compare two methods' per-image scores (``per_image`` tables of :func:`bench.score`).

    Only pairs scored by both (and finite in both) count. Returns the two means, the mean
    paired difference ``a - b`` with its bootstrap 95% interval, and the two-sided p-value of a
    sign-flip permutation test of "no difference" (with ``samples`` draws, seeded).
    """
    for name, table in (("a", a), ("b", b)):
        if metric not in table.columns:
            raise ColorbenchError(f"metric {metric!r} is not in result {name}'s per-image table")
    joined = a[["pair_id", metric]].merge(b[["pair_id", metric]], on="pair_id", suffixes=("_a", "_b"))
    va, vb = joined[f"{metric}_a"].to_numpy(np.float64), joined[f"{metric}_b"].to_numpy(np.float64)
    keep = np.isfinite(va) & np.isfinite(vb)
    diff = va[keep] - vb[keep]
    if len(diff) < 2:
        raise ColorbenchError(f"fewer than 2 pairs are scored by both results for {metric}; nothing to compare")
    rng = np.random.default_rng(seed)
    boot = bootstrap_means(diff, samples, rng)
    signs = rng.choice((-1.0, 1.0), size=(samples, len(diff)))
    null = np.abs((signs * diff).mean(axis=1))
    p_value = (1 + np.count_nonzero(null >= abs(diff.mean()) - 1e-15)) / (samples + 1)
    result = {"metric": metric, "n": int(len(diff)), "mean_a": float(va[keep].mean()), "mean_b": float(vb[keep].mean()),
              "diff": float(diff.mean()), "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
              "p_value": float(p_value)}
    if higher_is_better is not None:
        result["better"] = "a" if (diff.mean() > 0) == higher_is_better and diff.mean() != 0 else (
            "b" if diff.mean() != 0 else "tie")
    return result
