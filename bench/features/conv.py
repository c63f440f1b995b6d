"""``relu(conv2d(x))`` for the frozen networks the metrics run (FID's Inception, LPIPS's backbones).

On CPU, oneDNN computes a convolution and its ReLU in one call, with the weight reordered into its
own blocked layout once, when the network is loaded (``torch.ops.mkldnn._convolution_pointwise``
with a weight from ``_reorder_convolution_weight``, the kernels torch.compile's CPU backend emits
for frozen convolutions). An eager ``conv2d`` reorders the weight at every call and the ReLU is
another pass over the output. The values are those of ``conv2d`` then ``relu``: the same oneDNN
convolution, the ReLU applied to its output as it is written (tested per network). Elsewhere (a
GPU, a torch without oneDNN) it is ``conv2d`` then an in-place ReLU. Inference only: no autograd.
Inputs should be channels_last float32 (the fast layout of oneDNN and cuDNN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ConvReLU", "fused_conv_relu_available"]


def fused_conv_relu_available(device: torch.device) -> bool:
    """Whether ``device`` is the CPU and this torch has oneDNN's fused convolution with prepacked weights."""
    return (device.type == "cpu" and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
            and hasattr(torch.ops.mkldnn, "_reorder_convolution_weight"))


class ConvReLU:
    """``relu(conv2d(x, weight, bias, stride, padding))`` of a frozen float32 convolution.

    Args:
        weight, bias: ``(out, in, kh, kw)`` and ``(out,)``.
        stride, padding: as ``conv2d``'s, per side: ``(sh, sw)``, ``(ph, pw)``.
        device: where it runs; on CPU with oneDNN it is one fused call (see the module docstring).
        input_size: the ``(B, C, H, W)`` inputs will mostly have, for oneDNN's choice of weight
            layout (any other size is computed as correctly, possibly with a reorder per call);
            ``None``: oneDNN's default choice.
        relu: ``False`` for a plain convolution.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, stride: tuple[int, int],
                 padding: tuple[int, int], device: torch.device | str, input_size: list[int] | None = None,
                 relu: bool = True):
        self.device = torch.device(device)
        self.stride, self.padding, self.relu = list(stride), list(padding), relu
        self.out_channels = weight.shape[0]
        weight = weight.detach().float()
        self.bias = None if bias is None else bias.detach().float().to(self.device)
        self.fused = fused_conv_relu_available(self.device)
        if self.fused:
            self.weight = torch.ops.mkldnn._reorder_convolution_weight(weight.contiguous(), self.padding, self.stride,
                                                                       [1, 1], 1, input_size)
        else:
            self.weight = weight.to(self.device, memory_format=torch.channels_last)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, self.padding, self.stride,
                                                           [1, 1], 1, "relu" if self.relu else "none", [None], "")
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        return F.relu_(y) if self.relu else y
