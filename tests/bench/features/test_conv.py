"""ConvReLU: oneDNN's fused convolution + ReLU with prepacked weights equals conv2d then relu."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench.features.conv import ConvReLU, fused_conv_relu_available


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("kernel, stride, padding, size", [((3, 3), 1, (1, 1), (4, 16, 20, 23)),
                                                            ((1, 7), 1, (0, 3), (2, 16, 17, 17)),
                                                            ((11, 11), 4, (2, 2), (3, 16, 64, 50)),
                                                            ((3, 3), 2, (0, 0), (1, 16, 35, 35))])
def test_equals_conv2d_then_relu(kernel, stride, padding, size, relu):
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(24, size[1], *kernel, generator=generator)
    bias = torch.randn(24, generator=generator)
    x = torch.randn(size, generator=generator).contiguous(memory_format=torch.channels_last)
    expected = F.conv2d(x, weight, bias, stride, padding)
    expected = F.relu(expected) if relu else expected
    # laid out for another batch size and side than the input's: still the same values
    layer = ConvReLU(weight, bias, (stride, stride), padding, "cpu", input_size=[8, size[1], 40, 40], relu=relu)
    assert layer.fused == fused_conv_relu_available(torch.device("cpu"))
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ConvReLU(weight, None, (stride, stride), padding, "cpu", relu=relu)(x),
                                   F.relu(F.conv2d(x, weight, None, stride, padding)) if relu else
                                   F.conv2d(x, weight, None, stride, padding), rtol=1e-5, atol=1e-5)
