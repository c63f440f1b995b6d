"""SPColor's colorization network: the released ``ColorVidNet`` (Zhang et al. 2019's colour net).

Input :math:`(B, 4, H, W)` ``[a_warp, b_warp, S, L - 50]`` (warped ab in raw CIELAB units, the
similarity ``S`` in [0, 1], the centred lightness), output :math:`(B, 2, H, W)` ab in
``(-128, 128)`` (``tanh x 128``). H, W divisible by 8.

Layout (widths ``w1..w4`` = 64/128/256/512): conv blocks of 3x3 convs with ReLU, an
``InstanceNorm2d`` (no affine) *after* each block's last ReLU, and a stride-2 depthwise 1x1 conv
to go down (``*_ss``): block 1 (``conv1_1_new``: ``4 -> w1/2 -> w1``, then ``conv1_2``), block 2
(2 convs, ``w2``), block 3 (3 convs, ``w3``), block 4 (3 convs, ``w4``), blocks 5 and 6 (3 convs
each, dilation 2), block 7 (3 convs); up: nearest x2 + 3x3 conv, plus a 3x3 shortcut from the
matching encoder norm, ReLU (``conv8_*`` -> ``w3``, ``conv9_*`` -> ``w2``, ``conv10_*`` -> ``w2``,
whose shortcut comes from block 1), then ``conv10_2`` with LeakyReLU(0.2) and a 1x1 conv to 2.

Module names are the released ones (its transposed convolutions already replaced by nearest +
conv, its BatchNorms by InstanceNorms, as the released constructor does), so a released
``colornet_iter_*.pth`` state dict loads strictly.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_models.layers.checks import check_tensor

__all__ = ["ColorNet"]


def _conv(cin: int, cout: int, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, dilation, dilation)


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1))


class ColorNet(nn.Module):
    """The released ``ColorVidNet(ic=4)``.

    Args:
        in_channels: 4 (``a_warp, b_warp, S, L - 50``).
        widths: ``(w1, w2, w3, w4)``; the released (64, 128, 256, 512).
    """

    def __init__(self, in_channels: int = 4, widths: tuple[int, int, int, int] = (64, 128, 256, 512)):
        super().__init__()
        if len(widths) != 4 or min(widths) < 2:
            raise ValueError(f"widths must be 4 channel counts >= 2; got {widths}")
        w1, w2, w3, w4 = widths
        self.in_channels = in_channels
        self.conv1_1_new = nn.Sequential(nn.Conv2d(in_channels, w1 // 2, 3, 1, 1), nn.ReLU(),
                                         nn.Conv2d(w1 // 2, w1, 3, 1, 1))
        self.conv1_2 = _conv(w1, w1)
        self.conv1_2norm = nn.InstanceNorm2d(w1)
        self.conv1_2norm_ss = nn.Conv2d(w1, w1, 1, 2, bias=False, groups=w1)
        self.conv2_1 = _conv(w1, w2)
        self.conv2_2 = _conv(w2, w2)
        self.conv2_2norm = nn.InstanceNorm2d(w2)
        self.conv2_2norm_ss = nn.Conv2d(w2, w2, 1, 2, bias=False, groups=w2)
        self.conv3_1 = _conv(w2, w3)
        self.conv3_2 = _conv(w3, w3)
        self.conv3_3 = _conv(w3, w3)
        self.conv3_3norm = nn.InstanceNorm2d(w3)
        self.conv3_3norm_ss = nn.Conv2d(w3, w3, 1, 2, bias=False, groups=w3)
        self.conv4_1 = _conv(w3, w4)
        self.conv4_2 = _conv(w4, w4)
        self.conv4_3 = _conv(w4, w4)
        self.conv4_3norm = nn.InstanceNorm2d(w4)
        self.conv5_1 = _conv(w4, w4, 2)
        self.conv5_2 = _conv(w4, w4, 2)
        self.conv5_3 = _conv(w4, w4, 2)
        self.conv5_3norm = nn.InstanceNorm2d(w4)
        self.conv6_1 = _conv(w4, w4, 2)
        self.conv6_2 = _conv(w4, w4, 2)
        self.conv6_3 = _conv(w4, w4, 2)
        self.conv6_3norm = nn.InstanceNorm2d(w4)
        self.conv7_1 = _conv(w4, w4)
        self.conv7_2 = _conv(w4, w4)
        self.conv7_3 = _conv(w4, w4)
        self.conv7_3norm = nn.InstanceNorm2d(w4)
        self.conv8_1 = _up(w4, w3)
        self.conv3_3_short = _conv(w3, w3)
        self.conv8_2 = _conv(w3, w3)
        self.conv8_3 = _conv(w3, w3)
        self.conv8_3norm = nn.InstanceNorm2d(w3)
        self.conv9_1 = _up(w3, w2)
        self.conv2_2_short = _conv(w2, w2)
        self.conv9_2 = _conv(w2, w2)
        self.conv9_2norm = nn.InstanceNorm2d(w2)
        self.conv10_1 = _up(w2, w2)
        self.conv1_2_short = _conv(w1, w2)
        self.conv10_2 = _conv(w2, w2)
        self.conv10_ab = nn.Conv2d(w2, 2, 1, 1)
        self.relu = nn.ReLU()
        self.leaky = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[a_warp, b_warp, S, L - 50]`` :math:`(B, 4, H, W)` -> ab :math:`(B, 2, H, W)` in (-128, 128)."""
        check_tensor(x, "x", f"B {self.in_channels} H W")
        if x.shape[2] % 8 or x.shape[3] % 8:
            raise ValueError(f"x must have a shape of (B, {self.in_channels}, H, W) with H, W divisible by 8; "
                             f"got {tuple(x.shape)}")
        r = self.relu
        c1 = self.conv1_2norm(r(self.conv1_2(r(self.conv1_1_new(x)))))
        c2 = self.conv2_2norm(r(self.conv2_2(r(self.conv2_1(self.conv1_2norm_ss(c1))))))
        c3 = self.conv3_3norm(r(self.conv3_3(r(self.conv3_2(r(self.conv3_1(self.conv2_2norm_ss(c2))))))))
        c4 = self.conv4_3norm(r(self.conv4_3(r(self.conv4_2(r(self.conv4_1(self.conv3_3norm_ss(c3))))))))
        c5 = self.conv5_3norm(r(self.conv5_3(r(self.conv5_2(r(self.conv5_1(c4)))))))
        c6 = self.conv6_3norm(r(self.conv6_3(r(self.conv6_2(r(self.conv6_1(c5)))))))
        c7 = self.conv7_3norm(r(self.conv7_3(r(self.conv7_2(r(self.conv7_1(c6)))))))
        c8 = r(self.conv8_1(c7) + self.conv3_3_short(c3))
        c8 = self.conv8_3norm(r(self.conv8_3(r(self.conv8_2(c8)))))
        c9 = r(self.conv9_1(c8) + self.conv2_2_short(c2))
        c9 = self.conv9_2norm(r(self.conv9_2(c9)))
        c10 = r(self.conv10_1(c9) + self.conv1_2_short(c1))
        return torch.tanh(self.conv10_ab(self.leaky(self.conv10_2(c10)))) * 128.0
