"""The colour network (released ColorVidNet layout) and the discriminator (released Discriminator_x64 layout)."""

from __future__ import annotations

import pytest
import torch

from reference_models.spcolor.colornet import ColorNet
from reference_models.spcolor.discriminator import Discriminator

# The released ColorVidNet(ic=4) state dict: convolution weights only (its norms are affine-free
# InstanceNorms), 65 tensors; a few keys and shapes to pin the layout.
RELEASED_SHAPES = {
    "conv1_1_new.0.weight": (32, 4, 3, 3),
    "conv1_1_new.2.weight": (64, 32, 3, 3),
    "conv1_2norm_ss.weight": (64, 1, 1, 1),
    "conv3_3norm_ss.weight": (256, 1, 1, 1),
    "conv5_1.weight": (512, 512, 3, 3),
    "conv8_1.1.weight": (256, 512, 3, 3),
    "conv3_3_short.weight": (256, 256, 3, 3),
    "conv10_1.1.weight": (128, 128, 3, 3),
    "conv1_2_short.weight": (128, 64, 3, 3),
    "conv10_ab.weight": (2, 128, 1, 1),
}


def test_colornet_released_layout():
    net = ColorNet()
    state = net.state_dict()
    assert len(state) == 65
    for key, shape in RELEASED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert net.conv5_1.dilation == (2, 2) and net.conv7_1.dilation == (1, 1)
    assert sum(p.numel() for p in net.parameters()) == sum(v.numel() for v in state.values())


def test_colornet_output_range_and_shape():
    torch.manual_seed(0)
    net = ColorNet(widths=(8, 16, 16, 32))
    x = torch.cat([torch.randn(2, 2, 32, 48) * 50, torch.rand(2, 1, 32, 48), torch.rand(2, 1, 32, 48) * 100 - 50], 1)
    ab = net(x)
    assert ab.shape == (2, 2, 32, 48)
    ab = ab.detach()
    assert float(ab.abs().max()) < 128.0 and float(ab.abs().max()) > 0.0
    with pytest.raises(ValueError, match="divisible by 8"):
        net(x[..., :30])
    with pytest.raises(ValueError, match=r"\(B, 4, H, W\)"):
        net(x[:, :3])


def test_discriminator_layout_and_output():
    torch.manual_seed(0)
    d = Discriminator(ndf=4)
    assert float(d.attention.gamma.detach()) == 0.0  # SAGAN: the attention starts switched off
    assert hasattr(d.layer1_new[0], "parametrizations")  # spectral norm
    lab = torch.cat([torch.rand(3, 1, 192, 192) * 100, torch.randn(3, 2, 192, 192) * 30], 1)
    logits = d(lab)
    assert logits.shape == (3, 1)
    widths = [d.layer1_new[0].out_channels, d.layer2[0].out_channels, d.layer3[0].out_channels,
              d.layer4[0].out_channels, d.layer5[0].out_channels, d.layer6[0].out_channels]
    assert widths == [4, 4, 8, 16, 32, 64]
    with pytest.raises(ValueError, match="192"):
        d(lab[..., :128, :128])


def test_discriminator_attention_is_used_once_gamma_moves():
    torch.manual_seed(1)
    d = Discriminator(ndf=4).eval()
    lab = torch.cat([torch.rand(2, 1, 192, 192) * 100, torch.randn(2, 2, 192, 192) * 30], 1)
    before = d(lab)
    with torch.no_grad():
        d.attention.gamma.fill_(1.0)
    assert not torch.allclose(before, d(lab))


def test_discriminator_head_is_float32_under_bf16_autocast():
    """The relativistic losses subtract the logits, whose level is free: under bf16 autocast the
    head (last conv and average) runs in float32 on the bfloat16 features of the layers before it."""
    torch.manual_seed(0)
    d = Discriminator(ndf=4).eval()  # eval: no power-iteration step between the two calls
    lab = torch.cat([torch.rand(2, 1, 192, 192) * 100, torch.randn(2, 2, 192, 192) * 30], 1)
    seen = []
    d.layer6.register_forward_hook(lambda module, args, out: seen.append(out))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = d(lab)
    assert seen[0].dtype == torch.bfloat16 and logits.dtype == torch.float32
    with torch.no_grad():
        expected = d.last_new(seen[0].float()).mean(dim=(2, 3))
    torch.testing.assert_close(logits.detach(), expected, rtol=1e-6, atol=1e-6)
