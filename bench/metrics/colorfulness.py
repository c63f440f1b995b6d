"""Colourfulness of Hasler & Süsstrunk (2003), per image, batched in torch.

"Measuring colourfulness in natural images" (SPIE 5007), the metric ``M^(3)`` of their Table 2,
on RGB values in 0..255 (float64)::

    rg = R - G,   yb = (R + G) / 2 - B
    sigma_rgyb = sqrt(sigma_rg^2 + sigma_yb^2),   mu_rgyb = sqrt(mu_rg^2 + mu_yb^2)
    M = sigma_rgyb + 0.3 * mu_rgyb

with means and population standard deviations (divided by N) over the image's pixels. A gray
image (R = G = B everywhere) gives 0. Two metrics use it:

* ``colorfulness`` (no reference): ``M(pred)``, higher is more colourful;
* ``colorfulness_diff`` (paired): ``|M(pred) - M(gt)|``, how far the output's colourfulness is from
  the ground truth's, lower is better.
"""

from __future__ import annotations

from ..core.lazy import lazy_import
from .base import check_images
from .registry import register_metric

torch = lazy_import("torch")

__all__ = ["colorfulness", "colorfulness_diff"]

#: Weight of the mean term (Hasler & Süsstrunk's fit to their psychophysical data).
MEAN_WEIGHT = 0.3


def colorfulness(images: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk's colourfulness ``M`` of each image (see the module docstring).

    Args:
        images: ``(B, 3, H, W)`` uint8 RGB.

    Returns:
        ``(B,)`` float64 >= 0 on the images' device; 0 for a gray image.
    """
    check_images(images, "images")
    r, g, b = images.to(torch.float64).flatten(2).unbind(dim=1)
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = torch.sqrt(rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0))
    mu = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return sigma + MEAN_WEIGHT * mu


def colorfulness_diff(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """``|M(pred) - M(gt)|`` of each pair.

    Args:
        pred: outputs, ``(B, 3, H, W)`` uint8.
        gt: ground truths, ``(B, 3, h, w)`` uint8 (the sizes need not match; M is a global statistic).

    Returns:
        ``(B,)`` float64 >= 0 on the inputs' device; 0 for identical images.
    """
    check_images(pred, "pred")
    check_images(gt, "gt")
    if pred.shape[0] != gt.shape[0]:
        raise ValueError(f"pred and gt batch sizes differ: {tuple(pred.shape)} vs {tuple(gt.shape)}")
    return (colorfulness(pred) - colorfulness(gt)).abs()


@register_metric("colorfulness", higher_is_better=True,
                 matches="Hasler & Süsstrunk 2003, M = sigma_rgyb + 0.3 * mu_rgyb on 0..255 RGB "
                         "(tested against a direct numpy implementation)")
def colorfulness_metric(config, device):
    """Colourfulness of the output (Hasler & Süsstrunk 2003); 0 for a gray image."""
    return lambda batch: colorfulness(batch.pred)


@register_metric("colorfulness_diff", higher_is_better=False, needs=("gt",),
                 matches="|M(pred) - M(gt)| with Hasler & Süsstrunk 2003's M "
                         "(tested against a direct numpy implementation)")
def colorfulness_diff_metric(config, device):
    """Absolute difference between the output's and the ground truth's colourfulness (Hasler & Süsstrunk)."""
    return lambda batch: colorfulness_diff(batch.pred, batch.gt)
