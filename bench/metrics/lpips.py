"""LPIPS (Zhang et al. 2018), v0.1: ``lpips`` (AlexNet, the default) and ``lpips_vgg`` (VGG16).

The numbers are the ``lpips`` package's (``lpips.LPIPS(net=..., version="0.1")`` called on
``x / 127.5 - 1``, tested to 1e-6): the same backbone weights (torchvision's file), the same
linear heads (the file shipped with the package), the same computation in the same order:
the scaling layer, the backbone's ReLU outputs, unit-normalised over channels, squared
differences, each head's 1 x 1 convolution, spatial means, their sum from the first layer.
:class:`LpipsNet` runs it for scoring, faster than the package's module:

* outputs and ground truths go through the backbone as one batch, in channels_last layout, each
  convolution and its ReLU one oneDNN call on CPU (:class:`~bench.features.conv.ConvReLU`);
* it reads only the backbone's convolutions from torchvision's file (memory-mapped: not the
  classifier's 200+ MB) and imports neither torchvision nor the lpips package, whose import
  pulls in ``torch._dynamo`` (seconds of start-up in every scoring process).

:func:`load_lpips` still builds the package's own module, for what needs gradients (the MSA
training loss). Both check their files with :func:`~bench.core.weights.ensure_weights` first,
so a missing file stops with one line naming it.
"""

from __future__ import annotations

import warnings

from ..core.lazy import lazy_import
from ..core.weights import ensure_weights, read_state_dict
from .base import Batch, check_images
from .registry import register_metric

torch = lazy_import("torch")
F = lazy_import("torch.nn.functional")

__all__ = ["Lpips", "LpipsNet", "load_lpips", "lpips_distance", "to_lpips_range"]

#: colorbench network name -> (lpips ``net`` argument, backbone weights, linear-head weights)
_NETS = {"alexnet": ("alex", "alexnet", "lpips_alex_linear"),
         "vgg16": ("vgg", "vgg16", "lpips_vgg_linear")}

#: The backbones as the lpips package slices torchvision's ``features``, up to its last tap: a
#: convolution (index in ``features``, stride, padding) is followed by its ReLU; ``"tap"``: an
#: output the distance uses (the ReLU before it); ``(kernel, stride)``: a max-pool.
_BACKBONES = {
    "alex": [(0, 4, 2), "tap", (3, 2), (3, 1, 2), "tap", (3, 2), (6, 1, 1), "tap", (8, 1, 1), "tap", (10, 1, 1), "tap"],
    "vgg": [(0, 1, 1), (2, 1, 1), "tap", (2, 2), (5, 1, 1), (7, 1, 1), "tap", (2, 2), (10, 1, 1), (12, 1, 1),
            (14, 1, 1), "tap", (2, 2), (17, 1, 1), (19, 1, 1), (21, 1, 1), "tap", (2, 2), (24, 1, 1), (26, 1, 1),
            (28, 1, 1), "tap"],
}
#: lpips' ``ScalingLayer`` (v0.1): ``(x - shift) / scale``.
_SHIFT = (-.030, -.088, -.188)
_SCALE = (.458, .448, .450)
#: lpips' ``normalize_tensor`` epsilon.
_EPS = 1e-10

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


class LpipsNet:
    """LPIPS v0.1 for inference: ``net(in0, in1)`` equals ``lpips.LPIPS(net=..., version="0.1")(in0, in1)``.

    Args:
        backbone: ``alexnet`` or ``vgg16``.
        device: where it runs.
    """

    version = "0.1"

    def __init__(self, backbone: str, device: torch.device | str = "cpu"):
        from ..features.conv import ConvReLU

        if backbone not in _NETS:
            raise ValueError(f"unknown LPIPS backbone {backbone!r}; choose from {list(_NETS)}")
        self.pnet_type, backbone_weights, linear_weights = _NETS[backbone]
        self.device = torch.device(device)
        features = read_state_dict(ensure_weights(backbone_weights))
        heads = read_state_dict(ensure_weights(linear_weights))
        self.layers = []
        for step in _BACKBONES[self.pnet_type]:
            if isinstance(step, tuple) and len(step) == 3:
                index, stride, padding = step
                step = ConvReLU(features[f"features.{index}.weight"], features[f"features.{index}.bias"],
                                (stride, stride), (padding, padding), self.device)
            self.layers.append(step)
        self.heads = [ConvReLU(heads[f"lin{k}.model.1.weight"], None, (1, 1), (0, 0), self.device, relu=False)
                      for k in range(self.layers.count("tap"))]
        self.shift = torch.tensor(_SHIFT, device=self.device).view(1, 3, 1, 1)
        self.scale = torch.tensor(_SCALE, device=self.device).view(1, 3, 1, 1)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for step in self.layers:
            if step == "tap":
                taps.append(x)
            elif isinstance(step, tuple):
                x = F.max_pool2d(x, kernel_size=step[0], stride=step[1])
            else:
                x = step(x)
        return taps

    def __call__(self, in0: torch.Tensor, in1: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 1, 1)`` float32 distances of two float ``(B, 3, H, W)`` batches in [-1, 1]."""
        # inference_mode as a context, not a decorator: a decorator would import torch with this
        # module (the CLI's parser imports the metric registry and must stay free of torch)
        with torch.inference_mode():
            return self._distance(in0, in1)

    def _distance(self, in0: torch.Tensor, in1: torch.Tensor) -> torch.Tensor:
        batch = len(in0)
        x = (torch.cat([in0, in1]) - self.shift) / self.scale  # both through the backbone at once
        value = None
        for feature, head in zip(self._taps(x.contiguous(memory_format=torch.channels_last)), self.heads):
            feats = [f / (torch.sqrt(torch.sum(f**2, dim=1, keepdim=True)) + _EPS) for f in feature.split(batch)]
            layer = head((feats[0] - feats[1]) ** 2).mean([2, 3], keepdim=True)
            value = layer if value is None else value + layer  # the package: 0 + res[0] + res[1] ...
        return value


def lpips_distance(model, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """LPIPS v0.1 between two uint8 batches, as ``model(pred, gt)`` of the ``lpips`` package gives.

    Args:
        model: an :class:`LpipsNet`, or a module from :func:`load_lpips` (any ``lpips.LPIPS``).
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
    device = model.device if isinstance(model, LpipsNet) else next(model.parameters()).device
    with torch.no_grad():
        distance = model(to_lpips_range(pred.to(device)), to_lpips_range(gt.to(device)))
    return distance.reshape(-1).double()


class Lpips:
    """An ``lpips`` / ``lpips_vgg`` metric: one :class:`LpipsNet` (``model``), called on a Batch."""

    def __init__(self, backbone: str, device: torch.device | str):
        self.model = LpipsNet(backbone, device)

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
