"""torch-fidelity's Inception run our way: the TF1 resize bit-exact, pool3 equal to its forward."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import bench.features.conv as conv
from bench.features.inception import InceptionPool3, tf1_bilinear_resize


@pytest.mark.parametrize("shape", [(2, 3, 256, 256), (1, 3, 100, 431), (1, 3, 299, 299), (2, 3, 600, 50)])
def test_resize_is_bit_exact_to_torch_fidelity(shape):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = (torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 255).round()
    expected = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    for images in (x, x.to(torch.uint8)):
        resized = tf1_bilinear_resize(images)
        assert torch.equal(resized, expected)
        assert resized.dtype == torch.float32 and resized.is_contiguous(memory_format=torch.channels_last)


def _extractor_pool3(images: torch.Tensor) -> np.ndarray:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    reference = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).eval()
    with torch.no_grad():
        return reference(images)[0].double().numpy()


def test_pool3_equals_the_extractors_forward(random_weights):
    random_weights("inception_fid")
    images = (torch.rand(4, 3, 120, 170, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
    ours = InceptionPool3("cpu")(images)
    theirs = _extractor_pool3(images)
    assert ours.shape == (4, 2048) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * np.abs(theirs).max())
    assert np.abs(ours[1:] - ours[0]).max() > 1e-3 * np.abs(ours).max()  # images give different features
    with pytest.raises(TypeError, match="uint8"):
        InceptionPool3("cpu")(images.float())


def test_fused_and_plain_convolutions_agree_at_any_batch_size(random_weights, monkeypatch):
    """oneDNN's fused convolution + ReLU with prepacked weights (the CPU path), at batch sizes other
    than the one its weights were laid out for, equals conv2d + relu (the path of GPUs)."""
    random_weights("inception_fid")
    images = (torch.rand(5, 3, 64, 80, generator=torch.Generator().manual_seed(2)) * 255).to(torch.uint8)
    fused = InceptionPool3("cpu", batch_size=3)  # chunks of 3 and 2
    assert all(c.fused for c in fused._convs.values()) == conv.fused_conv_relu_available(torch.device("cpu"))
    monkeypatch.setattr(conv, "fused_conv_relu_available", lambda device: False)
    plain = InceptionPool3("cpu")
    assert not any(c.fused for c in plain._convs.values())
    ours, reference = fused(images), plain(images)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5 * np.abs(reference).max())
    np.testing.assert_allclose(np.concatenate([fused(images[:1]), fused(images[1:])]), ours, rtol=0,
                               atol=1e-5 * np.abs(reference).max())


def test_scoring_networks_import_neither_torchvision_nor_dynamo(random_weights):
    """Importing torchvision (for the lpips package or torch-fidelity) imports torch._dynamo: seconds
    of start-up in every scoring process. The Inception and LPIPS of a scoring run need neither."""
    random_weights("inception_fid", "alexnet")
    code = ("import sys, torch\n"
            "from bench.features.inception import InceptionPool3\n"
            "from bench.metrics.lpips import LpipsNet\n"
            "x = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)\n"
            "InceptionPool3('cpu')(x)\n"
            "LpipsNet('alexnet')(x.float(), x.float())\n"
            "print(sorted(m for m in ('torchvision', 'torch._dynamo', 'torch_fidelity', 'lpips') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
