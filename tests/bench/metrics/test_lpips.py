"""lpips / lpips_vgg (colorbench's LpipsNet) against the lpips package called directly.

The AlexNet / VGG16 backbones are random stand-ins (the linear heads are the real ones shipped with
the package): the numbers test that LpipsNet computes what the package computes from the same
files, the input conversion and batching, never the metric's values.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import bench.features.conv as conv
from bench.config import ScoreConfig
from bench.core.errors import MissingWeightsError
from bench.metrics.base import Batch
from bench.metrics.lpips import (
    LpipsNet,
    load_lpips,
    lpips_distance,
    lpips_metric,
    lpips_vgg_metric,
    to_lpips_range,
)
from bench.testing import calibration_batch
from tests.helpers import degraded_pairs

CONFIG = ScoreConfig()


@pytest.fixture(scope="module")
def images():
    photos = calibration_batch(64)
    return photos[:3], photos[3:6]


@pytest.fixture(scope="module")
def alex_metric(build_offline):
    return build_offline(["alexnet"], lambda: lpips_metric(CONFIG, "cpu"))


def _package_model(build_offline, net: str):
    import lpips

    def build():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return lpips.LPIPS(net=net, version="0.1", verbose=False)

    return build_offline([], build)


def _package_lpips(model, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """The package's documented use: model(im0, im1) on images through lpips.im2tensor ([-1, 1])."""
    import lpips

    im0 = torch.cat([lpips.im2tensor(p.permute(1, 2, 0).numpy()) for p in pred])
    im1 = torch.cat([lpips.im2tensor(g.permute(1, 2, 0).numpy()) for g in gt])
    with torch.no_grad():
        return model(im0, im1).flatten()


def test_alexnet_matches_package(alex_metric, images, build_offline):
    pred, gt = images
    got = alex_metric(Batch(pred=pred, gt=gt))
    assert got.dtype == torch.float64 and got.shape == (3,)
    want = _package_lpips(_package_model(build_offline, "alex"), pred, gt)
    torch.testing.assert_close(got, want.double(), rtol=0, atol=1e-6)
    assert (got > 0).all()


def test_vgg_matches_package(images, build_offline):
    metric = build_offline(["vgg16"], lambda: lpips_vgg_metric(CONFIG, "cpu"))
    pred, gt = images
    got = metric(Batch(pred=pred[:2], gt=gt[:2]))
    assert (metric.model.pnet_type, metric.model.version) == ("vgg", "0.1")
    want = _package_lpips(_package_model(build_offline, "vgg"), pred[:2], gt[:2])
    torch.testing.assert_close(got, want.double(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("size", [(64, 64), (45, 97), (31, 31)])
def test_fused_and_plain_convolutions_agree(alex_metric, build_offline, monkeypatch, size):
    """The CPU path (oneDNN's fused convolution + ReLU, prepacked weights) equals conv2d + relu
    (the path of GPUs) and the package, at sizes unlike each other."""
    pred, gt = degraded_pairs(2, *size)
    monkeypatch.setattr(conv, "fused_conv_relu_available", lambda device: False)
    plain = build_offline(["alexnet"], lambda: LpipsNet("alexnet"))
    assert not any(getattr(layer, "fused", False) for layer in plain.layers)
    got = alex_metric(Batch(pred=pred, gt=gt))
    torch.testing.assert_close(got, lpips_distance(plain, pred, gt), rtol=0, atol=1e-6)
    torch.testing.assert_close(got, lpips_distance(build_offline([], lambda: load_lpips("alexnet")), pred, gt),
                               rtol=0, atol=1e-6)


def test_identity_is_zero(alex_metric, images):
    pred, _ = images
    assert alex_metric(Batch(pred=pred, gt=pred.clone())).abs().max() == 0


def test_batched_equals_one_by_one(alex_metric, images):
    pred, gt = images
    batched = alex_metric(Batch(pred=pred, gt=gt))
    single = torch.cat([alex_metric(Batch(pred=pred[i:i + 1], gt=gt[i:i + 1])) for i in range(len(pred))])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-6)


def test_input_range():
    x = to_lpips_range(torch.tensor([0, 255, 128], dtype=torch.uint8).view(1, 3, 1, 1))
    assert x.dtype == torch.float32
    torch.testing.assert_close(x.flatten(), torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]))


def test_bad_input(alex_metric):
    model = alex_metric.model
    ok = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"\(1, 3, 32, 31\)"):
        lpips_distance(model, ok, torch.zeros(1, 3, 32, 31, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"at least 31 x 31.*\(1, 3, 30, 30\)"):
        small = torch.zeros(1, 3, 30, 30, dtype=torch.uint8)
        lpips_distance(model, small, small)
    with pytest.raises(TypeError, match="uint8"):
        lpips_distance(model, ok.float(), ok.float())
    with pytest.raises(ValueError, match=r"\(3, 32, 32\)"):
        lpips_distance(model, ok[0], ok[0])


def test_missing_backbone_is_one_line(empty_torch_home):
    with pytest.raises(MissingWeightsError, match="alexnet-owt-7be5be79.pth"):
        lpips_metric(CONFIG, "cpu")


def test_through_the_tensor_api_equals_the_lpips_package(random_weights):
    import lpips

    from bench import create_metric

    random_weights("alexnet")
    pred, gt = degraded_pairs(2, 40, 48)
    reference = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    with torch.no_grad():
        expected = reference(pred.float() / 127.5 - 1, gt.float() / 127.5 - 1).flatten().double()
    torch.testing.assert_close(create_metric("lpips")(pred=pred, gt=gt), expected, rtol=0, atol=1e-6)
