"""torchvision's Inception v3 run as DDColor's / CT2's INCEPTION_V3_FID: equal to a direct implementation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.core.errors import MissingWeightsError
from bench.features.inception_torchvision import TorchvisionInceptionPool3


def _direct_pool(path, images: torch.Tensor, input_range: str) -> np.ndarray:
    """The source's recipe written out: torchvision's modules in an nn.Sequential, its normalisation."""
    import torchvision

    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.eval()
    blocks = torch.nn.Sequential(
        net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, torch.nn.MaxPool2d(kernel_size=3, stride=2),
        net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, torch.nn.MaxPool2d(kernel_size=3, stride=2),
        net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c, net.Mixed_6d,
        net.Mixed_6e, net.Mixed_7a, net.Mixed_7b, net.Mixed_7c, torch.nn.AdaptiveAvgPool2d((1, 1)))
    x = images.float() / 255
    if input_range == "minus_one_one":
        x = (x - 0.5) / 0.5
    with torch.no_grad():
        x = F.interpolate(x, size=(299, 299), mode="bilinear")
        x = x.clone() * 0.5 + 0.5
        for c, (mean, std) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))):
            x[:, c] = x[:, c] * (std / 0.5) + (mean - 0.5) / 0.5
        return blocks(x).flatten(1).double().numpy()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return (torch.rand(3, 3, 120, 170, generator=torch.Generator().manual_seed(3)) * 255).to(torch.uint8)


@pytest.mark.parametrize("input_range", ["minus_one_one", "zero_one"])
def test_pool_features_equal_the_direct_torchvision_recipe(random_weights, images, input_range):
    (path,) = random_weights("inception_v3_torchvision")
    assert path.name == "inception_v3_google-0cc3c7bd.pth"
    ours = TorchvisionInceptionPool3("cpu", input_range=input_range, batch_size=2)(images)
    theirs = _direct_pool(path, images, input_range)
    assert ours.shape == (3, 2048) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    assert np.abs(ours[1:] - ours[0]).max() > 1e-3 * np.abs(ours).max()  # images give different features


def test_the_two_input_ranges_give_different_features_and_records(random_weights, images):
    random_weights("inception_v3_torchvision")
    ct2, ddcolor = (TorchvisionInceptionPool3("cpu", input_range=r) for r in ("minus_one_one", "zero_one"))
    assert np.abs(ct2(images) - ddcolor(images)).max() > 1e-2 * np.abs(ct2(images)).max()
    assert ct2.record() != ddcolor.record()
    assert ct2.record()["input_range"] == "minus_one_one" and ddcolor.record()["input_range"] == "zero_one"
    assert ct2.record()["file"] == "inception_v3_google-0cc3c7bd.pth"
    assert TorchvisionInceptionPool3.describe_weights("zero_one") == ddcolor.record()
    with pytest.raises(TypeError, match="uint8"):
        ct2(images.float())


def test_missing_weights_give_the_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError) as info:
        TorchvisionInceptionPool3("cpu")
    message = str(info.value)
    assert "inception_v3_google-0cc3c7bd.pth" in message
    assert "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth" in message
    assert "\n" not in message


def test_importing_the_module_imports_no_torchvision():
    code = ("import sys\nimport bench.features.inception_torchvision\n"
            "print(sorted(m for m in ('torchvision', 'torch._dynamo') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
