"""Metrics on tensors, for notebooks: :func:`create_metric` (in the spirit of ``pyiqa.create_metric``).

The scorer works on splits and files; this is the same metric code on tensors a user already holds:

>>> import torch, bench
>>> ssim = bench.create_metric("ssim")
>>> x = torch.rand(2, 3, 32, 32)
>>> ssim(pred=x, gt=x).tolist()
[1.0, 1.0]
>>> fid = bench.create_metric("fid")                 # doctest: +SKIP
>>> fid.update(pred=outputs, gt=ground_truths)      # doctest: +SKIP
>>> float(fid.compute())                            # doctest: +SKIP
>>> fid.compute(details=True)                       # doctest: +SKIP
{'value': ..., 'n': ..., 'backbone': 'tf'}

Images are ``(B, 3, H, W)`` tensors, uint8 in [0, 255] or float in [0, 1] (rounded to uint8
first, as every metric's anchor reads 8-bit images); masks ``(B, 1, H, W)`` or ``(B, H, W)`` bool.
Settings are :class:`~bench.config.ScoreConfig` fields (an unknown one is an error).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import ScoreConfig
from .core.lazy import lazy_import
from .metrics.base import Batch, compute_set
from .metrics.registry import MetricSpec, get_metric

torch = lazy_import("torch")

__all__ = ["create_metric", "ImageMetric", "SetMetric", "to_uint8"]


def to_uint8(images: Any, name: str) -> "torch.Tensor":
    """``(B, 3, H, W)`` uint8 from uint8, or from float in [0, 1] (``round(x * 255)``)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W); got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise TypeError(f"{name} must be uint8 or float in [0, 1]; got {images.dtype}")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"{name} is float but not in [0, 1] (min {float(images.min()):.3g}, max "
                         f"{float(images.max()):.3g}); pass uint8 or scale it to [0, 1]")
    return (images.detach() * 255).round().to(torch.uint8)


def _masks(masks: Any, name: str, batch: int) -> "torch.Tensor | None":
    if masks is None:
        return None
    if not isinstance(masks, torch.Tensor) or masks.ndim not in (3, 4) or masks.shape[0] != batch:
        raise ValueError(f"{name} must be a ({batch}, 1, H, W) or ({batch}, H, W) bool tensor")
    return (masks if masks.ndim == 4 else masks[:, None]).bool()


class ImageMetric:
    """A per-image metric: ``metric(pred=..., gt=..., reference=..., mask=...)`` -> ``(B,)`` float64.

    Attributes:
        spec: the registry entry (direction, what it matches, ...).
    """

    def __init__(self, spec: MetricSpec, built, device: "torch.device"):
        self.spec, self._metric, self.device = spec, built, device

    def __call__(self, *, pred, gt=None, reference=None, mask=None, reference_mask=None, label=None):
        pred = to_uint8(pred, "pred").to(self.device)
        batch = Batch(pred=pred, pair_ids=[f"image {i}" for i in range(len(pred))])
        if gt is not None:
            batch.gt = to_uint8(gt, "gt").to(self.device)
        if reference is not None:  # a (B, 3, h, w) tensor, or B (3, h_i, w_i) tensors of any sizes
            batch.reference = [to_uint8(r[None], "reference")[0].to(self.device) for r in reference]
        batch.mask = _masks(mask, "mask", len(pred))
        if reference_mask is not None:
            batch.reference_mask = list(_masks(reference_mask, "reference_mask", len(pred)))
        if label is not None:
            batch.label = torch.as_tensor(label, dtype=torch.int64, device=self.device)
        missing = [need for need in self.spec.needs if getattr(batch, need) is None]
        if missing:
            raise ValueError(f"metric {self.spec.name} needs {', '.join(missing)}; pass them as keyword tensors")
        with torch.no_grad():
            if hasattr(self._metric, "gt_side"):
                return self._metric(batch, self._metric.gt_side(batch))
            return self._metric(batch)

    def __repr__(self) -> str:
        return f"ImageMetric({self.spec.name!r}, {self.spec.direction} is better, device={self.device})"


class SetMetric:
    """A set metric (FID, FID infinity, KID, delta CF): ``update(pred=..., gt=...)`` per batch, then ``compute()``.

    ``compute()`` returns the value itself (a float, as torchmetrics and pyiqa do, so
    ``float(fid.compute())`` works); ``compute(details=True)`` returns the whole result (``value``,
    ``n``, the backbone, FID infinity's std, ...). A metric with several variants (FID infinity at
    several smallest subsets) returns ``{variant: value}`` (or ``{variant: result}`` with details).
    """

    def __init__(self, spec: MetricSpec, built, device: "torch.device"):
        self.spec, self._metric, self.device = spec, built, device
        self.reset()

    def reset(self) -> None:
        self._pred: list[np.ndarray] = []
        self._gt: list[np.ndarray] = []

    def update(self, *, pred=None, gt=None) -> None:
        """Add a batch of outputs and/or ground truths (the two sets may have different sizes)."""
        if pred is not None:
            self._pred.append(np.asarray(self._metric.extract(to_uint8(pred, "pred").to(self.device))))
        if gt is not None:
            self._gt.append(np.asarray(self._metric.extract(to_uint8(gt, "gt").to(self.device))))

    def compute(self, details: bool = False) -> float | dict:
        """The metric's value over every batch passed to :meth:`update` (``details``: the whole result dict)."""
        if not self._pred or not self._gt:
            raise ValueError(f"{self.spec.name}: update() with pred and gt batches before compute()")
        pred, gt = np.concatenate(self._pred), np.concatenate(self._gt)
        results, _ = compute_set(self._metric, pred, gt)
        if not details:
            results = {variant: result["value"] for variant, result in results.items()}
        return results[None] if list(results) == [None] else results

    def __repr__(self) -> str:
        return f"SetMetric({self.spec.name!r}, {self.spec.direction} is better, device={self.device})"


def create_metric(name: str, device: str = "cpu", **settings) -> ImageMetric | SetMetric:
    """Metric ``name`` on tensors.

    Args:
        name: a registered metric (``bench.list_metrics()``); an unknown name is an error with the
            closest names.
        device: where its networks run (``cpu``, ``cuda``, ``auto``).
        settings: :class:`~bench.config.ScoreConfig` fields, e.g. ``lpips_r_h=0.1``.

    Returns:
        :class:`ImageMetric` (per-image metrics: a ``(B,)`` tensor per call) or :class:`SetMetric`
        (``update`` / ``compute``).
    """
    from .core.device import resolve_device

    spec = get_metric(name)
    config = ScoreConfig.from_dict(settings)
    resolved = resolve_device(device)
    built = spec.factory(config, resolved)
    return (ImageMetric if spec.output == "per_image" else SetMetric)(spec, built, resolved)
