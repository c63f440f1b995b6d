import math
import warnings

import numpy as np
import pytest
import skimage.color
import torch
from skimage.metrics import peak_signal_noise_ratio

from bench.metrics.psnr import psnr, psnr_ab
from tests.helpers import degraded_pairs, hwc, zeros


def _pairs(count: int, height: int, width: int, seed: int = 0):
    return degraded_pairs(count, height, width, seed, noise=10, cast=20)


@pytest.mark.parametrize("height, width", [(1, 1), (23, 17), (48, 64)])
def test_psnr_matches_skimage(height, width):
    pred, gt = _pairs(3, height, width)
    values = psnr(pred, gt)
    assert values.shape == (3,) and values.dtype == torch.float64
    expected = [peak_signal_noise_ratio(hwc(g), hwc(p), data_range=255) for p, g in zip(pred, gt)]
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-10)


def test_psnr_ab_matches_skimage_lab():
    pred, gt = _pairs(3, 29, 41)
    ab_pred, ab_gt = ([skimage.color.rgb2lab(hwc(x))[..., 1:] for x in images] for images in (pred, gt))
    expected = [peak_signal_noise_ratio(g, p, data_range=255) for p, g in zip(ab_pred, ab_gt)]
    values = psnr_ab(pred, gt)
    assert values.shape == (3,) and values.dtype == torch.float64
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-9)


def test_psnr_ab_ignores_lightness_and_scales_with_data_range():
    pred, gt = _pairs(2, 16, 16)
    gray = torch.full_like(gt, 90)
    lighter = torch.full_like(gt, 200)
    # Grays differ only in L (up to ~1e-3 in ab: the D65 white and the sRGB matrix disagree slightly).
    assert (psnr(gray, lighter) < 10).all() and (psnr_ab(gray, lighter) > 90).all()
    assert torch.allclose(psnr_ab(pred, gt, data_range=100.0), psnr_ab(pred, gt) + 20 * math.log10(100 / 255),
                          rtol=0, atol=1e-10)


def test_identical_images_give_inf_like_skimage():
    pred, gt = _pairs(2, 12, 12)
    pred[1] = gt[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # skimage divides by zero
        assert math.isinf(peak_signal_noise_ratio(hwc(gt[1]), hwc(pred[1]), data_range=255))
    for metric in (psnr, psnr_ab):
        values = metric(pred, gt)
        assert math.isfinite(values[0]) and values[1] == math.inf


def test_symmetry_and_known_value():
    pred, gt = _pairs(2, 20, 30)
    assert torch.equal(psnr(pred, gt), psnr(gt, pred))
    assert torch.allclose(psnr_ab(pred, gt), psnr_ab(gt, pred), rtol=0, atol=1e-12)
    # Every value off by 1: MSE 1, PSNR = 20 log10(255).
    assert torch.allclose(psnr(gt[:1] // 2 + 1, gt[:1] // 2), torch.tensor([20 * math.log10(255)], dtype=torch.float64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_equals_cpu():
    pred, gt = _pairs(2, 33, 47)
    for metric in (psnr, psnr_ab):
        assert torch.allclose(metric(pred.cuda(), gt.cuda()).cpu(), metric(pred, gt), rtol=0, atol=1e-9)


@pytest.mark.parametrize("metric", [psnr, psnr_ab])
@pytest.mark.parametrize("pred, gt, error, message", [
    (zeros(1, 4, 8, 8), zeros(1, 4, 8, 8), ValueError, r"\(1, 4, 8, 8\)"),
    (zeros(3, 8, 8), zeros(3, 8, 8), ValueError, r"\(3, 8, 8\)"),
    (zeros(1, 3, 8, 8, dtype=torch.int64), zeros(1, 3, 8, 8, dtype=torch.int64), TypeError, "int64"),
    (zeros(1, 3, 8, 8), zeros(2, 3, 8, 8), ValueError, r"\(2, 3, 8, 8\)"),
])
def test_bad_input(metric, pred, gt, error, message):
    with pytest.raises(error, match=message):
        metric(pred, gt)


def test_through_the_tensor_api_equals_skimage():
    from bench import create_metric

    pred, gt = _pairs(2, 12, 14)
    expected = [peak_signal_noise_ratio(hwc(g), hwc(p), data_range=255) for p, g in zip(pred, gt)]
    np.testing.assert_allclose(create_metric("psnr")(pred=pred, gt=gt).numpy(), expected, rtol=1e-10)
    torch.testing.assert_close(create_metric("psnr_ab")(pred=pred, gt=gt), psnr_ab(pred, gt))
