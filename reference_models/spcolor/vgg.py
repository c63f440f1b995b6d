"""The VGG19 that SPColor's correspondence and losses read: relu2_2, relu3_2, relu4_2, relu5_2.

Weights: torchvision's ImageNet VGG19 through the weights registry (``"vgg19"``,
``vgg19-dcbb9e9d.pth``), frozen, in eval mode (:class:`bench.features.vgg.VGGFeatures`).

**Difference from the released code.** SPColor (after Zhang et al. 2019) uses the base project's
``vgg19_conv.pth``, a port of the original Caffe VGG19: it expects **BGR** input, minus the Caffe
mean ``(0.40760392, 0.45795686, 0.48501961)`` (B, G, R in [0, 1]), times 255; torchvision's
expects RGB ``(x - mean) / std`` with the ImageNet mean and std. The two are different trainings
of the same architecture, so features (and the scale the loss weights were tuned for) differ.
:meth:`SPColorVGG.load_caffe` loads ``vgg19_conv.pth`` (keys ``conv1_1.weight`` .., renamed by
:func:`caffe_vgg19_key_map`) and switches to the released preprocessing (``input_convention="caffe"``),
so the released VGG is reproduced exactly (the fidelity comparison does). Gray targets enter as
``L / 100`` replicated to three channels (:func:`gray_vgg_input`), as the released ``gray2rgb_batch``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch

from bench.core.errors import ColorbenchError
from bench.features.vgg import VGGFeatures
from reference_models.layers.checks import check_tensor
from reference_models.spcolor.correspondence import CORRESPONDENCE_LAYERS

__all__ = ["CAFFE_MEAN_BGR", "INPUT_CONVENTIONS", "SPColorVGG", "caffe_vgg19_key_map", "gray_vgg_input",
           "load_caffe_vgg19"]

#: ``input_convention`` values: torchvision's ImageNet normalisation, or the released Caffe one.
INPUT_CONVENTIONS = ("torchvision", "caffe")
#: The Caffe VGG mean (B, G, R) in [0, 1] (the released ``vgg_preprocess``).
CAFFE_MEAN_BGR = (0.40760392, 0.45795686, 0.48501961)
#: (block, convs) of VGG19's five blocks.
_BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))


def caffe_vgg19_key_map() -> dict[str, str]:
    """``conv{b}_{i}.{weight,bias}`` (the released ``VGG19_pytorch``) -> ``features.{n}.{..}`` (torchvision)."""
    mapping, index = {}, 0
    for block, convs in _BLOCKS:
        for conv in range(1, convs + 1):
            for kind in ("weight", "bias"):
                mapping[f"conv{block}_{conv}.{kind}"] = f"features.{index}.{kind}"
            index += 2  # conv, relu
        index += 1  # pool
    return mapping


def load_caffe_vgg19(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """``vgg19_conv.pth`` (the base project's release) as a state dict for :class:`SPColorVGG`.

    Read with :func:`~bench.core.weights.read_state_dict` (``weights_only``): a plain dict of tensors.

    Raises:
        ColorbenchError: the file is missing or lacks a convolution of VGG19.
    """
    from bench.core.weights import read_state_dict

    try:
        state = read_state_dict(path)
    except FileNotFoundError:
        raise ColorbenchError(f"VGG19 file {path} not found; it is vgg19_conv.pth from the checkpoint zip of "
                              "zhangmozhe/Deep-Exemplar-based-Video-Colorization") from None
    mapping = caffe_vgg19_key_map()
    missing = [key for key in mapping if key not in state]
    if missing:
        raise ColorbenchError(f"{path} is not the released vgg19_conv.pth: it lacks {', '.join(missing[:4])}")
    return {mapping[key]: value for key, value in state.items() if key in mapping}


def gray_vgg_input(lightness: torch.Tensor) -> torch.Tensor:
    """CIELAB L in [0, 100], :math:`(B, 1, H, W)` -> ``L / 100`` replicated, :math:`(B, 3, H, W)` in [0, 1]."""
    if lightness.ndim != 4 or lightness.shape[1] != 1:
        raise ValueError(f"lightness must have a shape of (B, 1, H, W); got {tuple(lightness.shape)}")
    return (lightness / 100.0).expand(-1, 3, -1, -1)


class SPColorVGG(VGGFeatures):
    """Frozen VGG19 returning ``{layer: (B, C, h, w)}`` for RGB in [0, 1], :math:`(B, 3, H, W)`.

    Args:
        layers: named layers to return (default: relu2_2, relu3_2, relu4_2, relu5_2, which serve
            the correspondence, the similarity-masked perceptual loss (relu5_2) and the contextual
            loss (relu3_2 .. relu5_2)).
        input_convention: ``"torchvision"`` (default) or ``"caffe"`` (the released preprocessing;
            load the matching weights with :meth:`load_caffe`).
    """

    def __init__(self, layers: Iterable[str] = CORRESPONDENCE_LAYERS, input_convention: str = "torchvision"):
        if input_convention not in INPUT_CONVENTIONS:
            raise ValueError(f"input_convention must be one of {INPUT_CONVENTIONS}; got {input_convention!r}")
        super().__init__(layers, network="vgg19")
        self.input_convention = input_convention

    def load_caffe(self, path: str | os.PathLike) -> SPColorVGG:
        """Load the released ``vgg19_conv.pth`` (the layers this module keeps) and switch to the
        ``"caffe"`` input convention; returns ``self``."""
        own = {f"features.{key}" for key in self.features.state_dict()}
        # load_caffe_vgg19 has checked that every convolution of VGG19 is in the file
        state = {key: value for key, value in load_caffe_vgg19(path).items() if key in own}
        self.load_state_dict(state, strict=False)
        self.input_convention = "caffe"
        return self

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the network's input under :attr:`input_convention`."""
        if self.input_convention == "caffe":
            # built in the input's dtype: the released constants, not a float32 rounding of them
            mean = torch.tensor(CAFFE_MEAN_BGR, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
            return (rgb.flip(1) - mean) * 255.0
        return (rgb - self.mean) / self.std

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        """``rgb`` :math:`(B, 3, H, W)` in [0, 1] -> ``{layer: activation}`` (after the ReLU)."""
        return super().forward(check_tensor(rgb, "rgb", "B 3 H W"))
