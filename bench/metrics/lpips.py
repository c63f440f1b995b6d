"""LPIPS (Zhang et al. 2018), v0.1: ``lpips`` (AlexNet, the default) and ``lpips_vgg`` (VGG16).

The numbers are the ``lpips`` package's own: colorbench builds ``lpips.LPIPS(net=..., version="0.1")``
and only converts the inputs (uint8 -> ``x / 127.5 - 1`` in [-1, 1], the range the package expects)
and batches. The backbone comes from torchvision's cache and the linear heads ship with the package;
both are checked with :func:`~bench.core.weights.ensure_weights` first, so a missing file stops with
one line naming it.
"""

from __future__ import annotations

import warnings

from ..core.lazy import lazy_import
from ..core.weights import ensure_weights
from .base import Batch, check_images
from .registry import register_metric

torch = lazy_import("torch")

__all__ = ["Lpips", "load_lpips", "lpips_distance", "to_lpips_range"]

#: colorbench network name -> (lpips ``net`` argument, backbone weights, linear-head weights)
_NETS = {"alexnet": ("alex", "alexnet", "lpips_alex_linear"),
         "vgg16": ("vgg", "vgg16", "lpips_vgg_linear")}

#: smallest side each backbone's deepest LPIPS layer accepts (AlexNet: conv1 stride 4 and two
#: 3x3/2 max-pools; VGG16: four 2x2 max-pools before relu5_3); smaller crops are an input error.
_MIN_SIDE = {"alex": 31, "vgg": 16}


def to_lpips_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, 3, H, W)`` -> float32 in [-1, 1] (``x / 127.5 - 1``), the package's input range."""
    check_images(images, "images")
    return images.float() / 127.5 - 1.0


def load_lpips(backbone: str, device: torch.device | str = "cpu") -> torch.nn.Module:
    """``lpips.LPIPS(net=..., version="0.1")`` on ``device``, eval mode, frozen.

    Args:
        backbone: ``alexnet`` or ``vgg16``.
    """
    if backbone not in _NETS:
        raise ValueError(f"unknown LPIPS backbone {backbone!r}; choose from {list(_NETS)}")
    net, backbone_weights, linear_weights = _NETS[backbone]
    ensure_weights(backbone_weights)
    ensure_weights(linear_weights)
    import lpips

    with warnings.catch_warnings():
        # lpips calls torchvision with the deprecated ``pretrained=True``; the weights are the same.
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, version="0.1", verbose=False)
    return model.to(device).eval().requires_grad_(False)


def lpips_distance(model: torch.nn.Module, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """LPIPS v0.1 between two uint8 batches, as ``model(pred, gt)`` of the ``lpips`` package gives.

    Args:
        model: from :func:`load_lpips` (or any ``lpips.LPIPS``).
        pred, gt: uint8 ``(B, 3, H, W)``, the same shape; H, W >= 31 (AlexNet) or 16 (VGG16).

    Returns:
        ``(B,)`` float64 (computed in float32, as the package does), >= 0, 0 for identical images;
        the spatial average of the per-layer weighted squared differences of unit-normalised features.
    """
    check_images(pred, "pred")
    check_images(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    min_side = _MIN_SIDE.get(getattr(model, "pnet_type", ""), 1)
    if min(pred.shape[-2:]) < min_side:
        raise ValueError(f"LPIPS ({model.pnet_type}) needs images of at least {min_side} x {min_side}, "
                         f"got shape {tuple(pred.shape)}")
    device = next(model.parameters()).device
    with torch.no_grad():
        distance = model(to_lpips_range(pred.to(device)), to_lpips_range(gt.to(device)))
    return distance.reshape(-1).double()


class Lpips:
    """An ``lpips`` / ``lpips_vgg`` metric: one ``lpips.LPIPS`` (``model``), called on a Batch."""

    def __init__(self, backbone: str, device: torch.device | str):
        self.model = load_lpips(backbone, device)

    def __call__(self, batch: Batch) -> torch.Tensor:
        """``(B,)`` float64 LPIPS of ``batch.pred`` against ``batch.gt``."""
        return lpips_distance(self.model, batch.pred, batch.gt)


@register_metric("lpips", higher_is_better=False, needs=("gt",),
                 networks=("alexnet", "lpips_alex_linear"),
                 matches='lpips.LPIPS(net="alex", version="0.1")(x / 127.5 - 1, y / 127.5 - 1), lpips 0.1.4')
def lpips_metric(config, device):
    """LPIPS v0.1 with AlexNet (Zhang et al. 2018), output vs ground truth."""
    return Lpips("alexnet", device)


@register_metric("lpips_vgg", higher_is_better=False, needs=("gt",),
                 networks=("vgg16", "lpips_vgg_linear"), default=False,
                 matches='lpips.LPIPS(net="vgg", version="0.1")(x / 127.5 - 1, y / 127.5 - 1), lpips 0.1.4')
def lpips_vgg_metric(config, device):
    """LPIPS v0.1 with VGG16 (Zhang et al. 2018), output vs ground truth."""
    return Lpips("vgg16", device)
