"""SPColor's discriminator: the released ``Discriminator_x64`` (``models/GAN_models.py``).

Input: CIELAB :math:`(B, 3, H, W)` with L in [0, 100] and raw ab (the released ``uncenter_l``
output); H, W >= 192 (six stride-2 convolutions and a 3x3 valid one). Six spectral-normalised
4x4 stride-2 convolutions (``ndf``, ``ndf``, ``2 ndf`` .. ``16 ndf``; InstanceNorm from the second
on; LeakyReLU 0.2), a spectral-normalised self-attention after the second (SAGAN: 1x1 query / key /
value convs of ``ndf`` channels, ``out = gamma * attention + x`` with ``gamma`` initialised to 0),
a spectral-normalised 3x3 valid conv to one channel and a global average: one logit per image.

Spectral norm: :func:`torch.nn.utils.parametrizations.spectral_norm` (one power iteration per
training forward, as the released ``SpectralNorm``; unlike it, no update in eval mode).

Under bf16 autocast the head (last conv and average) runs in float32 and the logits are float32;
the rest runs in bfloat16, the self-attention's softmax over the H/4 x W/4 positions included
(measured at 256 x 256, random weights, demo photographs: logits within +-17, the attended features
within 1.1% of float32's (largest difference over largest value), as the convolutions' own
bfloat16 rounding; its ``gamma`` starts at 0 and it feeds a critic, not the colours).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from reference_models.layers.checks import check_tensor
from reference_models.layers.precision import autocast_off, full_precision

__all__ = ["Discriminator", "SelfAttention"]


class SelfAttention(nn.Module):
    """SAGAN self-attention with spectral-normalised 1x1 convs (query and key keep all channels, as released)."""

    def __init__(self, channels: int):
        super().__init__()
        self.query_conv = spectral_norm(nn.Conv2d(channels, channels, 1))
        self.key_conv = spectral_norm(nn.Conv2d(channels, channels, 1))
        self.value_conv = spectral_norm(nn.Conv2d(channels, channels, 1))
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        query = self.query_conv(x).view(b, -1, h * w).permute(0, 2, 1)
        key = self.key_conv(x).view(b, -1, h * w)
        attention = torch.softmax(torch.bmm(query, key), dim=-1)
        value = self.value_conv(x).view(b, -1, h * w)
        return self.gamma * torch.bmm(value, attention.permute(0, 2, 1)).view(b, c, h, w) + x


def _down(cin: int, cout: int, norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1))]
    if norm:
        layers.append(nn.InstanceNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class Discriminator(nn.Module):
    """The released ``Discriminator_x64(in_size=3, ndf=64)``.

    Args:
        in_channels: 3 (CIELAB).
        ndf: base width (64).
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64):
        super().__init__()
        self.in_channels = in_channels
        self.layer1_new = _down(in_channels, ndf, norm=False)
        self.layer2 = _down(ndf, ndf, norm=True)
        self.attention = SelfAttention(ndf)
        self.layer3 = _down(ndf, ndf * 2, norm=True)
        self.layer4 = _down(ndf * 2, ndf * 4, norm=True)
        self.layer5 = _down(ndf * 4, ndf * 8, norm=True)
        self.layer6 = _down(ndf * 8, ndf * 16, norm=True)
        self.last_new = spectral_norm(nn.Conv2d(ndf * 16, 1, 3, 1, 0))

    def forward(self, lab: torch.Tensor) -> torch.Tensor:
        """CIELAB :math:`(B, 3, H, W)` (L in [0, 100], raw ab; H, W >= 192) -> logits :math:`(B, 1)`."""
        check_tensor(lab, "lab", f"B {self.in_channels} H W")
        if min(lab.shape[2:]) < 192:
            raise ValueError(f"lab must have a shape of (B, {self.in_channels}, H, W) with H, W >= 192; "
                             f"got {tuple(lab.shape)}")
        x = self.attention(self.layer2(self.layer1_new(lab)))
        x = self.layer6(self.layer5(self.layer4(self.layer3(x))))
        # the head in float32, also under bf16 autocast (a 3x3 conv to one channel: no cost): the
        # relativistic losses subtract these logits, whose common level they leave free
        with autocast_off(x.device):
            return self.last_new(full_precision(x)).mean(dim=(2, 3))
