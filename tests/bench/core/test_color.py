import numpy as np
import pytest
import skimage.color
import torch

from bench.core.color import (
    LAB_SCALINGS,
    denormalize_lab,
    lab_to_rgb,
    lab_to_uint8_rgb,
    normalize_lab,
    rgb_to_gray,
    rgb_to_lab,
)


@pytest.fixture
def rgb_float():
    return np.random.default_rng(0).random((4, 37, 53, 3))


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2)


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.permute(0, 2, 3, 1).cpu().double().numpy()


def test_numpy_rgb_to_lab_matches_skimage(rgb_float):
    np.testing.assert_allclose(rgb_to_lab(rgb_float), skimage.color.rgb2lab(rgb_float), atol=1e-4)


def test_numpy_uint8_input_is_scaled_like_skimage():
    rgb = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_lab(rgb), skimage.color.rgb2lab(rgb), atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_batched_rgb_to_lab_matches_skimage(rgb_float, dtype):
    lab = rgb_to_lab(_to_tensor(rgb_float).to(dtype))
    assert lab.shape == (4, 3, 37, 53) and lab.dtype == dtype
    expected = np.stack([skimage.color.rgb2lab(image) for image in rgb_float])
    np.testing.assert_allclose(_to_numpy(lab), expected, atol=1e-4)


def test_torch_uint8_tensor_is_accepted():
    rgb = np.random.default_rng(2).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(0, 3, 1, 2))
    np.testing.assert_allclose(_to_numpy(lab)[0], skimage.color.rgb2lab(rgb[0]), atol=1e-4)


def _random_lab(shape, seed=3):
    rng = np.random.default_rng(seed)
    # Includes out-of-gamut colours: both paths must clip the same way.
    return np.stack([rng.uniform(0, 100, shape), rng.uniform(-110, 110, shape), rng.uniform(-110, 110, shape)], -1)


@pytest.mark.filterwarnings("ignore:Conversion from CIE-LAB")
def test_torch_conversions_under_bf16_autocast_keep_the_images_dtype():
    """kornia's colour matrices are einsum / conv2d, which a bf16 autocast (model training) would run
    in bfloat16 even for float32 images: on these colours RGB was off by 0.078 and Lab by 2.6."""
    rgb = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    lab = rgb_to_lab(rgb)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed_lab, mixed_rgb = rgb_to_lab(rgb), lab_to_rgb(lab)
    assert torch.equal(mixed_lab, lab) and torch.equal(mixed_rgb, lab_to_rgb(lab))


def test_lab_to_rgb_numpy_and_torch_match_skimage():
    lab = _random_lab((2, 24, 31))
    expected = np.stack([skimage.color.lab2rgb(x) for x in lab])
    np.testing.assert_allclose(lab_to_rgb(lab), expected, atol=1e-4)
    np.testing.assert_allclose(_to_numpy(lab_to_rgb(_to_tensor(lab).float())), expected, atol=1e-4)


def test_round_trip_recovers_uint8_rgb():
    rgb = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(lab_to_uint8_rgb(rgb_to_lab(rgb)), rgb)


def test_gray_has_equal_channels_and_keeps_lightness():
    rgb = np.random.default_rng(5).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    gray = rgb_to_gray(rgb)
    assert gray.dtype == np.uint8 and gray.shape == rgb.shape
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    # One uint8 level of gray moves L by at most ~0.5, so L survives quantisation to that.
    assert np.abs(rgb_to_lab(gray)[..., 0] - rgb_to_lab(rgb)[..., 0]).max() < 0.5
    # a and b of a neutral sRGB gray are zero up to skimage's white-point rounding.
    assert np.abs(rgb_to_lab(gray)[..., 1:]).max() < 0.01


@pytest.mark.parametrize("scheme", sorted(LAB_SCALINGS))
def test_scaling_round_trip(scheme):
    lab = torch.from_numpy(_random_lab((2, 5, 6))).permute(0, 3, 1, 2).float()
    l_net, ab_net = normalize_lab(lab, scheme)
    assert l_net.shape == (2, 1, 5, 6) and ab_net.shape == (2, 2, 5, 6)
    torch.testing.assert_close(denormalize_lab(l_net, ab_net, scheme), lab)


def test_msa_scaling_values():
    lab = torch.tensor([100.0, 127.0, -127.0]).view(1, 3, 1, 1)
    l_net, ab_net = normalize_lab(lab, "msa")
    assert l_net.item() == pytest.approx(1.0)
    assert ab_net.flatten().tolist() == pytest.approx([1.0, -1.0])


def test_spcolor_scaling_values():
    lab = torch.tensor([50.0, 20.0, -30.0]).view(1, 3, 1, 1)
    l_net, ab_net = normalize_lab(lab, "spcolor")
    assert l_net.item() == 0.0 and ab_net.flatten().tolist() == [20.0, -30.0]


def test_gray_equals_the_neutral_gray_of_the_lab_lightness():
    """The fast path (luminance through the sRGB curve) equals the definition via CIELAB L."""
    rgb = np.random.default_rng(6).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    lightness = skimage.color.rgb2lab(rgb)[..., 0]
    t = (lightness + 16.0) / 116.0
    y = np.where(t > 0.2068966, t**3, (t - 16.0 / 116.0) / 7.787)
    srgb = np.where(y > 0.0031308, 1.055 * np.power(y, 1 / 2.4) - 0.055, 12.92 * y)
    expected = np.clip(np.rint(srgb * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(rgb_to_gray(rgb)[..., 0], expected)
    np.testing.assert_array_equal(rgb_to_gray(rgb / 255.0), rgb_to_gray(rgb))


def test_bad_shapes_and_types_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        rgb_to_lab(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(\*, 3, H, W\)"):
        rgb_to_lab(torch.zeros(1, 4, 4, 3))
    with pytest.raises(TypeError, match="dtype"):
        rgb_to_lab(np.zeros((4, 4, 3), dtype=np.int32))
    with pytest.raises(ValueError, match="unknown Lab scaling"):
        normalize_lab(torch.zeros(1, 3, 2, 2), "nope")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.gpu
def test_torch_path_runs_on_gpu(rgb_float):
    lab = rgb_to_lab(_to_tensor(rgb_float).float().cuda())
    assert lab.is_cuda
    np.testing.assert_allclose(_to_numpy(lab), skimage.color.rgb2lab(rgb_float), atol=1e-4)
