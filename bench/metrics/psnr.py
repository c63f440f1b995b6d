"""PSNR on RGB and on the ab channels of CIELAB, per image, batched in torch.

``PSNR = 10 * log10(R^2 / MSE)`` with the MSE over all pixels and channels of one image (float64).

* ``psnr``: RGB uint8 values, ``R = 255``; equals
  ``skimage.metrics.peak_signal_noise_ratio(gt, pred, data_range=255)``.
* ``psnr_ab``: the a and b channels of CIELAB (sRGB, D65, computed in float64 by
  :func:`bench.core.color.rgb_to_lab`'s torch path, which agrees with ``skimage.color.rgb2lab`` to
  ~1e-13), ``R = 255`` by default (``config.psnr_ab_data_range``): the span of the customary 8-bit
  ab encoding [-128, 127], so that psnr and psnr_ab use the same peak on a 0..255 scale and the
  value does not depend on which images a set contains. The actual sRGB gamut spans less
  (a in about [-86, 98], b in about [-108, 95]); the range only shifts every value by the same
  ``20 * log10(R / 255)`` dB, so rankings never depend on it.

Identical images have MSE 0 and PSNR ``+inf`` (as skimage gives). That value is kept, not capped:
any cap (100 dB, say) is arbitrary and would enter the mean as if it were a measurement. The mean
over a set that contains an exact copy is therefore ``+inf`` too; that happens only when a method
reproduces a ground truth bit for bit, which the scorer should report rather than hide.
"""

from __future__ import annotations

from ..core.color import rgb_to_lab
from ..core.lazy import lazy_import
from .base import check_pair
from .registry import register_metric

torch = lazy_import("torch")

__all__ = ["AB_DATA_RANGE", "DATA_RANGE", "psnr", "psnr_ab"]

DATA_RANGE = 255.0
#: Default peak of psnr_ab: the span of ab in its usual 8-bit encoding, [-128, 127].
AB_DATA_RANGE = 255.0


def _psnr(pred: torch.Tensor, gt: torch.Tensor, data_range: float) -> torch.Tensor:
    """PSNR of float64 ``(B, C, H, W)`` signals; MSE 0 gives +inf (division by zero, kept on purpose)."""
    mse = (pred - gt).square().mean(dim=(1, 2, 3))
    return 10 * torch.log10(data_range**2 / mse)


def psnr(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """PSNR of each pair on RGB, peak 255.

    Args:
        pred: outputs, ``(B, 3, H, W)`` uint8.
        gt: ground truths, same shape and dtype.

    Returns:
        ``(B,)`` float64 in dB on the inputs' device; ``+inf`` for identical images.
    """
    check_pair(pred, gt)
    return _psnr(pred.to(torch.float64), gt.to(torch.float64), DATA_RANGE)


def _ab(images: torch.Tensor) -> torch.Tensor:
    """The a and b channels, ``(B, 2, H, W)`` float64, of uint8 RGB ``(B, 3, H, W)``."""
    return rgb_to_lab(images.to(torch.float64) / 255.0)[:, 1:]


def psnr_ab(pred: torch.Tensor, gt: torch.Tensor, data_range: float = AB_DATA_RANGE) -> torch.Tensor:
    """PSNR of each pair on the ab channels of CIELAB (MSE over a and b), peak ``data_range``.

    Args:
        pred: outputs, ``(B, 3, H, W)`` uint8.
        gt: ground truths, same shape and dtype.
        data_range: the peak ``R`` in ab units (255 = the [-128, 127] span, see the module docstring).

    Returns:
        ``(B,)`` float64 in dB on the inputs' device; ``+inf`` when the ab channels are identical.
    """
    check_pair(pred, gt)
    return _psnr(_ab(pred), _ab(gt), data_range)


@register_metric("psnr", higher_is_better=True, needs=("gt",),
                 matches="skimage.metrics.peak_signal_noise_ratio(gt, pred, data_range=255)")
def psnr_metric(config, device):
    """PSNR to the ground truth on RGB (dB, peak 255; +inf for an exact copy)."""
    return lambda batch: psnr(batch.pred, batch.gt)


@register_metric("psnr_ab", higher_is_better=True, needs=("gt",),
                 matches="skimage.metrics.peak_signal_noise_ratio(ab_gt, ab_pred, data_range=255) on the ab "
                         "channels of skimage.color.rgb2lab")
def psnr_ab_metric(config, device):
    """PSNR to the ground truth on the CIELAB ab channels (dB, peak 255 = the [-128, 127] span)."""
    data_range = config.psnr_ab_data_range
    return lambda batch: psnr_ab(batch.pred, batch.gt, data_range)
