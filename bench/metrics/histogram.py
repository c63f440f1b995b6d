"""Delta HIS: how much the output changes the ab-histogram intersection with the reference.

    delta_his = |HI(T_ab, R_ab) - HI(T^_ab, R_ab)|,   HI(x, r) = sum(min(h_x, h_r)) / sum(h_r)

T is the ground truth, T^ the output, R the reference; lower is better (the output is as close to
the reference's colour distribution as the ground truth is). No public implementation exists;
the histograms follow the SA authors' training code:

* ab of CIELAB (sRGB, D65; :func:`bench.core.color.uint8_rgb_to_lab`, float64), scaled by
  1/127, so values lie in [-1, 1] (sRGB colours reach about [-0.85, 0.78]);
* ``config.his_bins`` (21) bins per axis, centred at ``linspace(-1, 1, his_bins)``;
* soft triangular weights of half-width ``config.his_width`` (0.1): a value ``v`` gives bin centre
  ``c`` the weight ``max(0, 1 - |v - c| / width)``; a pixel's weight to the 2-D bin (c_a, c_b)
  is the product of its a and b weights. With the defaults the centres are 0.1 apart, equal to the
  width, so a value's weights over the centres sum to 1 (a partition of unity: each pixel adds 1,
  split between the 2 x 2 nearest bins);
* the histogram is the sum over pixels, normalised to sum 1 (so ``sum(h_r) = 1`` in HI).

HI is in [0, 1], symmetric in its two histograms once they are normalised, and 1 for identical
ones; delta_his is symmetric in output and ground truth and 0 when the output equals it.
"""

from __future__ import annotations

import math

from ..core.color import uint8_rgb_to_lab
from ..core.lazy import lazy_import
from .base import Batch, check_images, check_pair
from .registry import register_metric

torch = lazy_import("torch")

__all__ = ["AB_SCALE", "DeltaHis", "ab_histogram", "delta_his", "histogram_intersection"]

#: ab is divided by this before binning, mapping the 8-bit ab span onto [-1, 1] (the SA code's scale).
AB_SCALE = 127.0


def _triangular_weights(values: torch.Tensor, bins: int, width: float) -> torch.Tensor:
    """Soft bin weights ``max(0, 1 - |v - c| / width)`` of ``values`` ``(B, N)`` -> ``(B, N, bins)``
    (dense; the reference form of what :func:`ab_histogram` computes sparsely)."""
    centres = torch.linspace(-1.0, 1.0, bins, dtype=values.dtype, device=values.device)
    return (values[..., None] - centres).abs_().div_(-width).add_(1.0).clamp_min_(0.0)


def _nonzero_bins(values: torch.Tensor, bins: int, width: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The bins a value can touch, and its weights there: ``(B, N, m)`` indices and weights.

    A value ``v`` only reaches the centres within ``width`` of it, i.e. the ``m = 2 * ceil(width /
    spacing)`` centres around it; the others get weight 0, so they are skipped (with the
    defaults, 2 per axis instead of 21). Out-of-range candidates get weight 0 and index 0.
    """
    spacing = 2.0 / (bins - 1)
    reach = max(1, math.ceil(width / spacing - 1e-12))
    lower = torch.floor((values + 1.0) / spacing).long()
    offsets = torch.arange(-reach + 1, reach + 1, device=values.device)
    index = lower[..., None] + offsets
    centres = index.to(values.dtype) * spacing - 1.0
    weight = (1.0 - (values[..., None] - centres).abs() / width).clamp_min(0.0)
    valid = (index >= 0) & (index < bins)
    return torch.where(valid, index, 0), torch.where(valid, weight, 0.0)


def _bin_pairs(values: torch.Tensor, bins: int, width: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fast path of :func:`_nonzero_bins` for ``width <= spacing`` (the default: equal): a value
    reaches only the two centres around it, ``lower`` and ``lower + 1``. Returns ``lower`` and the
    two weights, each ``(B, N)``."""
    spacing = 2.0 / (bins - 1)
    position = (values + 1.0) / spacing  # in bin units, 0 .. bins - 1
    lower = position.floor().clamp_(0, bins - 2)
    below = position - lower  # distance to the lower centre, in bin units
    ratio = spacing / width
    weight_lower = (1.0 - below * ratio).clamp_min_(0.0)
    weight_upper = (1.0 - (1.0 - below) * ratio).clamp_min_(0.0)
    return lower.long(), weight_lower, weight_upper


def ab_histogram(images: torch.Tensor, bins: int = 21, width: float = 0.1) -> torch.Tensor:
    """The normalised soft 2-D ab histogram of each image (binning in the module docstring).

    Each pixel adds the product of its a and b weights to the (few) bins it reaches, with one
    ``bincount`` per batch: the same sums as the dense ``(N, bins) x (N, bins)`` product, without
    the zeros.

    Args:
        images: ``(B, 3, H, W)`` uint8 RGB.
        bins: bins per axis (centres ``linspace(-1, 1, bins)`` in ab/127 units).
        width: triangular half-width in ab/127 units.

    Returns:
        ``(B, bins, bins)`` float64 (a along dim 1, b along dim 2), each summing to 1.
    """
    check_images(images, "images")
    ab = uint8_rgb_to_lab(images)[:, 1:].flatten(2) / AB_SCALE  # (B, 2, N)
    batch = torch.arange(len(images), device=images.device)[:, None]
    if width <= 2.0 / (bins - 1) + 1e-12:
        lower_a, a0, a1 = _bin_pairs(ab[:, 0], bins, width)
        lower_b, b0, b1 = _bin_pairs(ab[:, 1], bins, width)
        base = (batch * bins + lower_a) * bins + lower_b
        flat = torch.cat([base, base + 1, base + bins, base + bins + 1], dim=1)
        weights = torch.cat([a0 * b0, a0 * b1, a1 * b0, a1 * b1], dim=1)
    else:
        index_a, weight_a = _nonzero_bins(ab[:, 0], bins, width)
        index_b, weight_b = _nonzero_bins(ab[:, 1], bins, width)
        flat = (batch[..., None, None] * bins + index_a[..., :, None]) * bins + index_b[..., None, :]  # (B, N, m, m)
        weights = weight_a[..., :, None] * weight_b[..., None, :]
    hist = torch.bincount(flat.flatten(), weights.flatten(), minlength=len(images) * bins * bins)
    hist = hist.view(len(images), bins, bins)
    return hist / hist.sum(dim=(1, 2), keepdim=True)


def histogram_intersection(hist: torch.Tensor, reference_hist: torch.Tensor) -> torch.Tensor:
    """``HI(x, r) = sum(min(h_x, h_r)) / sum(h_r)`` of ``(B, bins, bins)`` histograms -> ``(B,)``."""
    return torch.minimum(hist, reference_hist).sum(dim=(1, 2)) / reference_hist.sum(dim=(1, 2))


def _reference_histograms(references: list[torch.Tensor], bins: int, width: float) -> torch.Tensor:
    """Histograms of references of possibly different sizes, ``(B, bins, bins)``; references of
    one size are computed together."""
    for i, reference in enumerate(references):
        check_images(reference, f"references[{i}]", ndim=3)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, reference in enumerate(references):
        by_size.setdefault(tuple(reference.shape), []).append(i)
    hists = torch.empty(len(references), bins, bins, dtype=torch.float64, device=references[0].device)
    for indices in by_size.values():
        hists[indices] = ab_histogram(torch.stack([references[i] for i in indices]), bins, width)
    return hists


def delta_his(pred: torch.Tensor, gt: torch.Tensor, references: list[torch.Tensor], bins: int = 21,
              width: float = 0.1) -> torch.Tensor:
    """``|HI(gt, ref) - HI(pred, ref)|`` of each triple, on soft ab histograms.

    Args:
        pred: outputs, ``(B, 3, H, W)`` uint8.
        gt: ground truths, same shape and dtype.
        references: B references, each ``(3, h, w)`` uint8 (sizes may differ from the target and
            from each other), on the same device as ``pred``.
        bins: bins per axis (``ScoreConfig.his_bins``).
        width: triangular half-width in ab/127 units (``ScoreConfig.his_width``).

    Returns:
        ``(B,)`` float64 in [0, 1] on the inputs' device; 0 when ``pred`` equals ``gt``.
    """
    check_pair(pred, gt)
    if not isinstance(references, (list, tuple)) or len(references) != pred.shape[0]:
        count = len(references) if isinstance(references, (list, tuple)) else type(references).__name__
        raise ValueError(f"references must be a list of {pred.shape[0]} (3, h, w) tensors; got {count}")
    return _from_gt_side(pred, _gt_side(gt, list(references), bins, width), bins, width)


def _gt_side(gt: torch.Tensor, references: list[torch.Tensor], bins: int, width: float) -> torch.Tensor:
    """What delta_his needs besides the outputs: ``HI(gt, ref)`` and the reference histogram,
    ``(B, 1 + bins * bins)`` float64."""
    reference_hists = _reference_histograms(references, bins, width)
    hi_gt = histogram_intersection(ab_histogram(gt, bins, width), reference_hists)
    return torch.cat([hi_gt[:, None], reference_hists.flatten(1)], dim=1)


def _from_gt_side(pred: torch.Tensor, gt_side: torch.Tensor, bins: int, width: float) -> torch.Tensor:
    """``|HI(gt, ref) - HI(pred, ref)|`` from the outputs and :func:`_gt_side` -> ``(B,)``."""
    hi_gt, reference_hists = gt_side[:, 0], gt_side[:, 1:].reshape(-1, bins, bins)
    return (hi_gt - histogram_intersection(ab_histogram(pred, bins, width), reference_hists)).abs()


class DeltaHis:
    """:func:`delta_his` as a scorer metric, its ground-truth half split off.

    ``gt_side(batch)`` depends only on the ground truths and references: ``HI(gt, ref)`` and the
    reference histogram, ``(B, 1 + bins * bins)`` float64. The scorer caches it per split (as it
    caches the ground truths' Inception features), so a second method on the split computes one
    histogram per pair instead of three.
    """

    def __init__(self, bins: int, width: float):
        self.bins, self.width = bins, width

    def record(self) -> dict:
        """What :meth:`gt_side` depends on besides the images (for cache keys)."""
        return {"metric": "delta_his", "bins": self.bins, "width": self.width, "ab_scale": AB_SCALE}

    def gt_side(self, batch: Batch) -> torch.Tensor:
        return _gt_side(batch.gt, list(batch.reference), self.bins, self.width)

    def __call__(self, batch: Batch, gt_side: torch.Tensor | None = None) -> torch.Tensor:
        if gt_side is None:
            return delta_his(batch.pred, batch.gt, batch.reference, self.bins, self.width)
        return _from_gt_side(batch.pred, gt_side, self.bins, self.width)


@register_metric("delta_his", higher_is_better=False, needs=("gt", "reference"),
                 matches="no public implementation; |HI(T_ab, R_ab) - HI(T^_ab, R_ab)| with the SA authors' "
                         "soft ab histograms (21x21 triangular bins of width 0.1 over ab/127), tested against "
                         "a direct numpy implementation")
def delta_his_metric(config, device):
    """Change in ab-histogram intersection with the reference, ground truth vs output (lower is better)."""
    return DeltaHis(config.his_bins, config.his_width)
