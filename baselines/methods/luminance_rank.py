"""Luminance-rank transfer: histogram matching of lightness, carrying the reference's chroma along.

Histogram matching maps each target lightness to the reference lightness at the same quantile.
Here the matched quantity is the colour instead: each target pixel takes the mean ab of the
reference pixels at its lightness quantile (``bins`` equal-count quantile bins of the
reference). Dark target regions get the colours of the reference's dark regions, bright ones of
its bright regions, whatever the two images' exposure. No texture is used (``welsh`` adds the
neighbourhood statistic); it is the cheapest baseline that places different colours in
different parts of the image. Pixels of equal lightness share a quantile (mid-rank), so the
result does not depend on pixel order.
"""

from __future__ import annotations

import numpy as np

from ..registry import PairInputs, compose, register_baseline

__all__ = ["luminance_rank_ab"]

#: Quantile bins of the reference's lightness; each averages ab over 1/64 of its pixels.
DEFAULT_BINS = 64


def _mid_quantiles(values: np.ndarray) -> np.ndarray:
    """Each value's quantile in (0, 1) by mid-rank: equal values get equal quantiles."""
    ordered = np.sort(values)
    left, right = np.searchsorted(ordered, values, "left"), np.searchsorted(ordered, values, "right")
    return (left + right) / (2.0 * len(values))


def luminance_rank_ab(target_l: np.ndarray, reference_lab: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """``target_l`` ``(H, W)``, ``reference_lab`` ``(h, w, 3)`` -> ab ``(H, W, 2)``: the mean ab of
    the reference pixels in the target pixel's lightness-quantile bin."""
    reference = reference_lab.reshape(-1, 3)
    bins = max(1, min(bins, len(reference)))
    reference_bin = np.minimum((_mid_quantiles(reference[:, 0]) * bins).astype(np.int64), bins - 1)
    counts = np.bincount(reference_bin, minlength=bins)
    means = np.stack([np.bincount(reference_bin, reference[:, c], minlength=bins) for c in (1, 2)], axis=1)
    # Ties in the reference's lightness can leave a bin empty: it takes the nearest filled bin.
    filled = np.flatnonzero(counts)
    means = means[filled] / counts[filled, None]
    nearest = filled[np.abs(np.arange(bins)[:, None] - filled[None, :]).argmin(axis=1)]
    table = means[np.searchsorted(filled, nearest)]
    target_bin = np.minimum((_mid_quantiles(target_l.ravel()) * bins).astype(np.int64), bins - 1)
    return table[target_bin].reshape(*target_l.shape, 2)


@register_baseline("luminance-rank", needs=("reference",),
                   description="each target pixel takes the mean ab of the reference pixels at the same "
                               "lightness quantile (histogram matching of L, chroma carried along)")
def luminance_rank(pair: PairInputs, rng: np.random.Generator) -> np.ndarray:
    return compose(pair.target_l, luminance_rank_ab(pair.target_l, pair.reference_lab))
