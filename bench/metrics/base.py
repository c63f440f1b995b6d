"""What the scorer hands a metric, and what a metric gives back.

Per-image metrics are callables ``metric(batch) -> (B,) float64 tensor``. One whose work is
partly about the ground truth and reference alone may split that half off: ``gt_side(batch) ->
(B, D) float64 tensor`` (must not look at ``batch.pred``), ``metric(batch, gt_side)``, and
``record() -> dict`` of the settings it depends on; the scorer then caches the gt side per split
(delta_his keeps the reference histograms and HI(gt, ref) this way). Set metrics (FID,
FID infinity) extract per-image features (``extract(images) -> (B, D) float64 numpy``) that the
scorer gathers over the whole set (caching the ground truths' on disk), then ``compute(pred_features,
gt_features) -> dict`` with at least ``value``. A set metric that reports several numbers (FID
infinity at several smallest subsets) also has ``variants(n) -> (variants, skipped)`` and
``compute(pred_features, gt_features, variant)``; each variant is stored as ``<name>_<variant>``.

A batch holds B pairs of one size (the scorer groups pairs by size, so every metric computes at the
images' native resolution). Object-level batches are already cropped to the object's bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["Batch", "check_images", "check_pair", "compute_set"]


@dataclass
class Batch:
    """B pairs, on the scoring device.

    Attributes:
        pred: the method's outputs, ``(B, 3, H, W)`` uint8.
        gt: the ground truths, ``(B, 3, H, W)`` uint8 (same size as ``pred``).
        reference: the references, a list of B ``(3, h, w)`` uint8 tensors (sizes may differ).
        mask: the target objects' masks, ``(B, 1, H, W)`` bool, at object level; else None.
        reference_mask: the reference objects' masks, a list of B ``(1, h, w)`` bool, or None.
        label: class indices ``(B,)`` int64, -1 where unknown; None when the split has no labels.
        pair_ids: the pairs' ids, for error messages.
    """

    pred: torch.Tensor
    gt: torch.Tensor | None = None
    reference: list[torch.Tensor] | None = None
    mask: torch.Tensor | None = None
    reference_mask: list[torch.Tensor] | None = None
    label: torch.Tensor | None = None
    pair_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.pred.shape[0]


def check_images(images: torch.Tensor, name: str = "images", ndim: int = 4) -> None:
    """Every metric's input check: a uint8 tensor of shape ``(B, 3, H, W)`` (``ndim=3``:
    ``(3, H, W)``); TypeError or ValueError naming ``name`` and the shape otherwise."""
    layout = "(B, 3, H, W)" if ndim == 4 else "(3, H, W)"
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(images).__name__}")
    if images.ndim != ndim or images.shape[-3] != 3:
        raise ValueError(f"{name} must have shape {layout}; got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        raise TypeError(f"{name} must be uint8 in [0, 255]; got dtype {images.dtype}")


def check_pair(pred: torch.Tensor, gt: torch.Tensor) -> None:
    """:func:`check_images` on both, and equal shapes."""
    check_images(pred, "pred")
    check_images(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt shapes differ: {tuple(pred.shape)} vs {tuple(gt.shape)}")


def compute_set(metric, pred, gt) -> tuple[dict, dict[str, str]]:
    """A set metric's results on ``pred`` / ``gt`` features, one per variant (``{None: result}``
    for a metric without variants, e.g. FID; FID infinity's minimum sizes otherwise), and the
    variants it cannot compute for this many outputs (variant -> reason)."""
    variants, not_computed = metric.variants(len(pred)) if hasattr(metric, "variants") else ([None], {})
    results = {variant: (metric.compute(pred, gt, variant) if variant is not None else metric.compute(pred, gt))
               for variant in variants}
    return results, not_computed
