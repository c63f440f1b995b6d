"""Pool features of torchvision's ImageNet Inception v3, as DDColor's and CT2's "FID" computes them.

DDColor (``piddnad/DDColor``, ``basicsr/metrics/custom_fid.py``, used by ``ColorModel.nondist_validation``
in ``basicsr/models/color_model.py``) and CT2 (``shuchenweng/CT2``, ``segm/metrics.py``,
``calculate_fid``) both define the same ``INCEPTION_V3_FID``: torchvision's ``inception_v3()`` with the
ImageNet weights (``inception_v3_google-1a9a5a14.pth``; torchvision's current
``inception_v3_google-0cc3c7bd.pth`` holds the same tensors re-saved), run from ``Conv2d_1a_3x3``
through ``Mixed_7c`` and a global average pool to 2048 features, after

1. ``F.interpolate(x, size=(299, 299), mode="bilinear")`` (``align_corners=False``, no antialias),
2. ``x = x * 0.5 + 0.5`` (their comment: "[-1.0, 1.0] --> [0, 1.0]"),
3. per channel ``x[:, c] = x[:, c] * (std_c / 0.5) + (mean_c - 0.5) / 0.5`` with ImageNet's mean
   ``(0.485, 0.456, 0.406)`` and std ``(0.229, 0.224, 0.225)``.

:class:`TorchvisionInceptionPool3` runs exactly that on uint8 images, in that order.

The quirk: the two papers hand this network different input ranges. CT2's ``vip_dataset`` feeds
``ToTensor()`` then ``Normalize((0.5,) * 3, (0.5,) * 3)``, images in [-1, 1], which step 2 maps to
[0, 1] as intended (``input_range="minus_one_one"``). DDColor feeds ``visuals["result"]`` /
``visuals["gt"]``, the RGB output of ``tensor_lab2rgb`` in [0, 1], which step 2 maps to [0.5, 1]
(``input_range="zero_one"``). The two give different features and FIDs for the same images, so the
range is part of :meth:`TorchvisionInceptionPool3.record` (feature caches keyed by it miss when it
differs).

Importing this module imports neither torchvision nor ``torch._dynamo``; the network is built when
the class is instantiated.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core.weights import ensure_weights, file_sha256, read_state_dict
from .inception import batched_features

__all__ = ["INPUT_RANGES", "POOL_DIM", "TorchvisionInceptionPool3"]

#: Size of the pool features.
POOL_DIM = 2048
#: The network's input side.
INPUT_SIDE = 299
#: ``input_range`` -> the source whose convention it reproduces.
INPUT_RANGES = {"minus_one_one": "CT2 (ToTensor + Normalize(0.5, 0.5): [-1, 1])",
                "zero_one": "DDColor (tensor_lab2rgb output: [0, 1])"}
#: The weights' registry name.
NETWORK = "inception_v3_torchvision"
#: ImageNet statistics in ``INCEPTION_V3_FID.forward``'s per-channel formula.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
#: ``INCEPTION_V3_FID``'s blocks 0-3, torchvision ``Inception3`` attribute names, in order.
_LAYERS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
           "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
           "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool")


def _check_range(input_range: str) -> str:
    from ..core.errors import ColorbenchError

    if input_range not in INPUT_RANGES:
        raise ColorbenchError(f"unknown input_range {input_range!r}; known: {', '.join(INPUT_RANGES)}")
    return input_range


class TorchvisionInceptionPool3:
    """Frozen torchvision Inception v3 (ImageNet) returning ``INCEPTION_V3_FID``'s 2048-d pool
    features as float64 numpy.

    Args:
        device: where the network runs.
        input_range: how uint8 images become the network's input: ``"minus_one_one"`` (``u8 / 255``,
            then ``(x - 0.5) / 0.5``, as CT2 feeds it) or ``"zero_one"`` (``u8 / 255``, as DDColor
            feeds it).
        batch_size: images per forward pass; only memory and speed depend on it.
    """

    def __init__(self, device: torch.device | str = "cpu", input_range: str = "minus_one_one",
                 batch_size: int = 64):
        self.input_range = _check_range(input_range)
        # torchvision's own cache file (a missing one is named in one line), read as tensors only
        self.weights = ensure_weights(NETWORK)
        self.device = torch.device(device)
        self.batch_size = batch_size
        from torchvision.models import inception_v3

        model = inception_v3(weights=None, aux_logits=True, init_weights=False)
        model.load_state_dict(read_state_dict(self.weights))
        model = model.to(device=self.device, dtype=torch.float32).eval().requires_grad_(False)
        self._layers = torch.nn.Sequential(*(getattr(model, name) for name in _LAYERS))
        self._scale = torch.tensor([s / 0.5 for s in _STD], dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._shift = torch.tensor([(m - 0.5) / 0.5 for m in _MEAN], dtype=torch.float32,
                                   device=self.device).view(1, 3, 1, 1)

    def record(self) -> dict:
        """What the features depend on (for cache keys): the network, its file and checksum, the input range."""
        return self.describe_weights(self.input_range)

    @staticmethod
    def describe_weights(input_range: str | None = None) -> dict:
        """:meth:`record` without loading the network (``input_range`` is added when given)."""
        from importlib.metadata import version

        weights = ensure_weights(NETWORK)
        described = {"network": NETWORK, "features": f"pool{POOL_DIM}", "torchvision": version("torchvision"),
                     "file": weights.name, "sha256": file_sha256(weights)}
        return described if input_range is None else {**described, "input_range": _check_range(input_range)}

    def network_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, 3, H, W)`` -> the float32 ``(B, 3, 299, 299)`` the first convolution reads."""
        x = images.to(torch.float32).div(255)  # ToTensor
        if self.input_range == "minus_one_one":
            x = x.sub(0.5).div(0.5)  # Normalize((0.5,) * 3, (0.5,) * 3)
        # INCEPTION_V3_FID.forward: resize, then [-1, 1] -> [0, 1], then ImageNet's statistics
        x = F.interpolate(x, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear")
        x = x * 0.5 + 0.5
        return x * self._scale + self._shift

    def _pool(self, images: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self._layers(self.network_input(images)), 1)

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """uint8 ``(B, 3, H, W)`` -> ``(B, 2048)`` float64 pool features."""
        return batched_features(images, self._pool, self.device, self.batch_size, POOL_DIM)
