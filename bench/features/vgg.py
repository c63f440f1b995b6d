"""VGG19 (and VGG19-BN) with named layers: ``conv1_1`` .. ``relu5_4``, ``pool1`` .. ``pool5``,
``fc6``, ``fc7`` (after their ReLU, as Caffe's in-place ReLU gives).

The weights are torchvision's ImageNet ones, resolved through :mod:`bench.core.weights` (a
missing file stops with a message naming it). Inputs are RGB in [0, 1], ``(B, 3, H, W)``; the
ImageNet normalisation happens inside.
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn

from ..core.weights import ensure_weights

__all__ = ["VGGFeatures", "vgg_layer_names", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg_layer_names(features: nn.Sequential) -> list[str]:
    """Names of the modules of a torchvision VGG ``features`` stack, in order."""
    names, block, conv = [], 1, 0
    for module in features:
        if isinstance(module, nn.Conv2d):
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif isinstance(module, nn.BatchNorm2d):
            names.append(f"bn{block}_{conv}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu{block}_{conv}")
        elif isinstance(module, nn.MaxPool2d):
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:  # pragma: no cover - torchvision's VGG has no other module types
            names.append(type(module).__name__.lower())
    return names


class VGGFeatures(nn.Module):
    """Frozen, eval-mode VGG19 returning the requested named layers.

    Args:
        layers: layer names to return, in any order (``fc6``/``fc7`` need 224 x 224 input).
        network: ``vgg19`` or ``vgg19_bn``.
    """

    def __init__(self, layers: Iterable[str], network: str = "vgg19"):
        super().__init__()
        import torchvision.models as tvm

        builders = {"vgg19": (tvm.vgg19, tvm.VGG19_Weights.IMAGENET1K_V1),
                    "vgg19_bn": (tvm.vgg19_bn, tvm.VGG19_BN_Weights.IMAGENET1K_V1)}
        if network not in builders:
            raise ValueError(f"unknown VGG network {network!r}; choose vgg19 or vgg19_bn")
        self.layers = tuple(layers)
        build, weights = builders[network]
        ensure_weights(network)  # a clear error naming the file before torchvision tries a download
        model = build(weights=weights)
        for module in model.modules():
            if isinstance(module, nn.ReLU):
                module.inplace = False  # an in-place ReLU would overwrite a returned conv output
        names = vgg_layer_names(model.features)
        unknown = [name for name in self.layers if name not in names and name not in ("fc6", "fc7")]
        if unknown or not self.layers:
            raise ValueError(f"unknown VGG layer(s) {unknown or '(none given)'}; choose from {names + ['fc6', 'fc7']}")
        needs_fc = any(name in ("fc6", "fc7") for name in self.layers)
        last = len(names) if needs_fc else max(names.index(n) for n in self.layers) + 1
        self.names = names[:last]
        self.features = model.features[:last]
        self.avgpool = model.avgpool if needs_fc else None
        self.classifier = model.classifier[:5] if needs_fc else None  # fc6, relu, dropout, fc7, relu
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the network's input (ImageNet normalisation; a subclass may differ)."""
        return (rgb - self.mean) / self.std

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        """``rgb`` in [0, 1], ``(B, 3, H, W)`` -> ``{layer: activation}``."""
        wanted = set(self.layers)
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(rgb)
        for name, module in zip(self.names, self.features):
            x = module(x)
            if name in wanted:
                out[name] = x
        if self.classifier is not None:
            x = torch.flatten(self.avgpool(x), 1)
            fc6 = self.classifier[1](self.classifier[0](x))
            out["fc6"] = fc6
            if "fc7" in wanted:
                out["fc7"] = self.classifier[4](self.classifier[3](fc6))  # dropout is identity in eval
        return {name: out[name] for name in self.layers}
