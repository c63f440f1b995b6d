"""Colourfulness of Hasler & Süsstrunk (2003), per image, batched in torch.

"Measuring colourfulness in natural images" (SPIE 5007), the metric ``M^(3)`` of their Table 2,
on RGB values in 0..255 (float64)::

    rg = R - G,   yb = (R + G) / 2 - B
    sigma_rgyb = sqrt(sigma_rg^2 + sigma_yb^2),   mu_rgyb = sqrt(mu_rg^2 + mu_yb^2)
    M = sigma_rgyb + 0.3 * mu_rgyb

with means and population standard deviations (divided by N) over the image's pixels. A gray
image (R = G = B everywhere) gives 0.

``form="abs"`` takes ``|R - G|`` and ``|(R + G) / 2 - B|`` before the statistics instead: the
form of a popular tutorial's code that DDColor (``basicsr/metrics/colorfulness.py``
``calculate_cf``) and CT2 (``segm/eval_colorfullness.py``) run. It is another number (the absolute
values fold the opponent axes: an image whose red-green or yellow-blue difference changes sign gets
a larger mean term and a smaller spread; the forms agree only where neither changes sign), so a
table says which form it uses (``colorfulness_form``). Three metrics use it:

* ``colorfulness`` (no reference): ``M(pred)``, higher is more colourful;
* ``colorfulness_diff`` (paired): the mean over pairs of ``|M(pred) - M(gt)|``, how far each
  output's colourfulness is from its ground truth's, lower is better;
* ``colorfulness_set_diff`` (set level): ``|mean M(outputs) - mean M(ground truths)|``, the
  "delta CF" DDColor and CT2 report. Over- and under-colourful outputs cancel in it, so it is at
  most ``colorfulness_diff`` and often far below it.
"""

from __future__ import annotations

import numpy as np

from ..core.lazy import lazy_import
from .base import check_images
from .registry import register_metric

torch = lazy_import("torch")

__all__ = ["COLORFULNESS_FEATURES", "colorfulness", "colorfulness_diff", "colorfulness_set_diff"]

#: Weight of the mean term (Hasler & Süsstrunk's fit to their psychophysical data).
MEAN_WEIGHT = 0.3
#: The per-image features colorfulness_set_diff gathers (one value per image and form).
COLORFULNESS_FEATURES = "colorfulness"
FORMS = ("hasler", "abs")


def colorfulness(images: torch.Tensor, form: str = "hasler") -> torch.Tensor:
    """Colourfulness ``M`` of each image (see the module docstring).

    Args:
        images: ``(B, 3, H, W)`` uint8 RGB.
        form: ``hasler`` (signed opponent differences) or ``abs`` (DDColor's and CT2's code).

    Returns:
        ``(B,)`` float64 >= 0 on the images' device; 0 for a gray image.
    """
    check_images(images, "images")
    if form not in FORMS:
        raise ValueError(f"colorfulness form must be one of {', '.join(FORMS)}; got {form!r}")
    r, g, b = images.to(torch.float64).flatten(2).unbind(dim=1)
    rg = r - g
    yb = 0.5 * (r + g) - b
    if form == "abs":
        rg, yb = rg.abs(), yb.abs()
    sigma = torch.sqrt(rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0))
    mu = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return sigma + MEAN_WEIGHT * mu


def colorfulness_diff(pred: torch.Tensor, gt: torch.Tensor, form: str = "hasler") -> torch.Tensor:
    """``|M(pred) - M(gt)|`` of each pair.

    Args:
        pred: outputs, ``(B, 3, H, W)`` uint8.
        gt: ground truths, ``(B, 3, h, w)`` uint8 (the sizes need not match; M is a global statistic).
        form: see :func:`colorfulness`.

    Returns:
        ``(B,)`` float64 >= 0 on the inputs' device; 0 for identical images.
    """
    check_images(pred, "pred")
    check_images(gt, "gt")
    if pred.shape[0] != gt.shape[0]:
        raise ValueError(f"pred and gt batch sizes differ: {tuple(pred.shape)} vs {tuple(gt.shape)}")
    return (colorfulness(pred, form) - colorfulness(gt, form)).abs()


def colorfulness_set_diff(pred_values, gt_values) -> float:
    """``|mean M(outputs) - mean M(ground truths)|`` from per-image colourfulness values (any lengths >= 1)."""
    pred_values, gt_values = np.asarray(pred_values, np.float64).ravel(), np.asarray(gt_values, np.float64).ravel()
    if not len(pred_values) or not len(gt_values):
        raise ValueError("colorfulness_set_diff needs at least one output and one ground truth")
    return float(abs(pred_values.mean() - gt_values.mean()))


_FORMS_MATCH = ("form hasler: Hasler & Süsstrunk 2003, M = sigma_rgyb + 0.3 * mu_rgyb on 0..255 RGB (MSA, SPColor); "
                "form abs: DDColor basicsr/metrics/colorfulness.py calculate_cf = CT2 segm/eval_colorfullness.py "
                "image_colorfulness (|R - G|, |(R + G) / 2 - B|); both tested against direct numpy code, abs also "
                "against DDColor's function run side by side")


@register_metric("colorfulness", higher_is_better=True, matches=_FORMS_MATCH)
def colorfulness_metric(config, device):
    """Colourfulness of the output (Hasler & Süsstrunk 2003, or the abs form); 0 for a gray image."""
    return lambda batch: colorfulness(batch.pred, config.colorfulness_form)


@register_metric("colorfulness_diff", higher_is_better=False, needs=("gt",),
                 matches="mean over pairs of |M(pred) - M(gt)|; " + _FORMS_MATCH)
def colorfulness_diff_metric(config, device):
    """Per-pair absolute difference between the output's and the ground truth's colourfulness, averaged."""
    return lambda batch: colorfulness_diff(batch.pred, batch.gt, config.colorfulness_form)


class ColorfulnessSet:
    """colorfulness_set_diff as a set metric: per-image M as 1-d features, the difference of means per set."""

    def __init__(self, form: str):
        self.form = form

    def extract(self, images: torch.Tensor) -> np.ndarray:
        return colorfulness(images, self.form).cpu().numpy()[:, None]

    def compute(self, pred_features: np.ndarray, gt_features: np.ndarray) -> dict:
        return {"value": colorfulness_set_diff(pred_features, gt_features), "n": len(pred_features),
                "pred_mean": float(np.mean(pred_features)), "gt_mean": float(np.mean(gt_features))}

    def record(self) -> dict:
        return {"name": COLORFULNESS_FEATURES, "form": self.form}


@register_metric("colorfulness_set_diff", higher_is_better=False, needs=("gt",), output="per_set",
                 features=COLORFULNESS_FEATURES, default=False,
                 matches="|mean CF(outputs) - mean CF(ground truths)|, the delta CF of DDColor's and CT2's papers; "
                         + _FORMS_MATCH)
def colorfulness_set_diff_metric(config, device):
    """Set-level delta colourfulness: |mean M(outputs) - mean M(ground truths)| (DDColor's and CT2's delta CF)."""
    return ColorfulnessSet(config.colorfulness_form)
