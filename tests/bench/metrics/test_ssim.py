import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from bench.metrics.ssim import ssim
from tests.helpers import degraded_pairs, zeros


def _pairs(count: int, height: int, width: int, seed: int = 0):
    return degraded_pairs(count, height, width, seed, noise=20, cast=30)


def _skimage_ssim(pred: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
    return np.array([structural_similarity(g.permute(1, 2, 0).numpy(), p.permute(1, 2, 0).numpy(),
                                           gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                           data_range=255, channel_axis=-1)
                     for p, g in zip(pred, gt)])


@pytest.mark.parametrize("height, width", [(11, 11), (11, 30), (23, 17), (64, 64), (45, 97)])
def test_matches_skimage_batched(height, width):
    pred, gt = _pairs(3, height, width)
    values = ssim(pred, gt)
    assert values.shape == (3,) and values.dtype == torch.float64
    np.testing.assert_allclose(values.numpy(), _skimage_ssim(pred, gt), rtol=0, atol=1e-5)


@pytest.mark.parametrize("height, width", [(300, 260), (800, 90), (150, 700)])
def test_large_images_in_row_bands_match_skimage(height, width):
    """Maps larger than a chunk are filtered in bands of rows (the last one shorter): same values."""
    import bench.metrics.ssim as module

    assert height * width > module.CHUNK_PIXELS
    pred, gt = _pairs(2, height, width)
    np.testing.assert_allclose(ssim(pred, gt).numpy(), _skimage_ssim(pred, gt), rtol=0, atol=1e-5)
    torch.testing.assert_close(ssim(pred, gt), torch.cat([ssim(pred[:1], gt[:1]), ssim(pred[1:], gt[1:])]), rtol=0,
                               atol=1e-12)


def test_matches_skimage_on_unrelated_noise():
    generator = torch.Generator().manual_seed(0)
    pred, gt = (torch.randint(0, 256, (4, 3, 31, 40), generator=generator, dtype=torch.uint8) for _ in range(2))
    np.testing.assert_allclose(ssim(pred, gt).numpy(), _skimage_ssim(pred, gt), rtol=0, atol=1e-5)


def test_identity_symmetry_and_batch_independence():
    pred, gt = _pairs(3, 40, 52)
    assert torch.allclose(ssim(gt, gt), torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-12)
    assert torch.allclose(ssim(pred, gt), ssim(gt, pred), rtol=0, atol=1e-12)
    assert torch.allclose(ssim(pred[1:2], gt[1:2]), ssim(pred, gt)[1:2], rtol=0, atol=1e-12)
    assert (ssim(pred, gt) < 1).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_equals_cpu():
    pred, gt = _pairs(2, 33, 47)
    assert torch.allclose(ssim(pred.cuda(), gt.cuda()).cpu(), ssim(pred, gt), rtol=0, atol=1e-12)


@pytest.mark.parametrize("pred, gt, error, message", [
    (zeros(1, 1, 16, 16), zeros(1, 1, 16, 16), ValueError, r"\(1, 1, 16, 16\)"),
    (zeros(1, 3, 16, 16, dtype=torch.float32), zeros(1, 3, 16, 16), TypeError, "float32"),
    (zeros(1, 3, 16, 16), zeros(1, 3, 16, 17), ValueError, r"\(1, 3, 16, 17\)"),
    (zeros(1, 3, 10, 16), zeros(1, 3, 10, 16), ValueError, "11x11"),
])
def test_bad_input(pred, gt, error, message):
    with pytest.raises(error, match=message):
        ssim(pred, gt)


def test_through_the_tensor_api_equals_skimage():
    """bench.create_metric("ssim") on uint8 and on float [0, 1] tensors: skimage's numbers."""
    from bench import create_metric

    pred, gt = _pairs(2, 20, 24)
    metric = create_metric("ssim")
    np.testing.assert_allclose(metric(pred=pred, gt=gt).numpy(), _skimage_ssim(pred, gt), rtol=0, atol=1e-5)
    np.testing.assert_allclose(metric(pred=pred / 255.0, gt=gt / 255.0).numpy(), _skimage_ssim(pred, gt), rtol=0,
                               atol=1e-5)


@pytest.mark.parametrize("height, width", [(11, 11), (23, 17), (300, 260)])
def test_uniform_window_matches_skimages_default_call_as_ct2_makes_it(height, width):
    """CT2's segm/metrics.py: compare_ssim(gt, pred, data_range=225, multichannel=True), i.e. skimage's
    default 7x7 box window with sample covariance (and their data_range typo)."""
    pred, gt = _pairs(2, height, width)
    expected = [structural_similarity(g.permute(1, 2, 0).numpy(), p.permute(1, 2, 0).numpy(), data_range=225,
                                      channel_axis=-1) for p, g in zip(pred, gt)]
    values = ssim(pred, gt, window="uniform", data_range=225.0)
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-10)
    assert (values - ssim(pred, gt)).abs().min() > 1e-4  # another number than Wang et al.'s setting
    with pytest.raises(ValueError, match="gaussian, uniform"):
        ssim(pred, gt, window="box")
