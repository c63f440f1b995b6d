import numpy as np
import torch

from bench.core.synthetic import (
    _GRID,
    SyntheticRecipe,
    _warp,
    derive_tps_seed,
    render_synthetic,
    warp_mask,
)
from tests.helpers import colour_image


def test_zero_jitter_warp_is_the_identity():
    image = colour_image(0)
    warped = _warp(torch.from_numpy(image).permute(2, 0, 1)[None].double(), _GRID)
    np.testing.assert_allclose(warped[0].permute(1, 2, 0).numpy(), image, atol=1e-8)
    still = SyntheticRecipe(jitter=0.0, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
    np.testing.assert_array_equal(render_synthetic(image, 5, still), image)


def test_same_seed_same_bytes_other_seed_other_image():
    image = colour_image(1)
    a, b = render_synthetic(image, 42), render_synthetic(image, 42)
    assert a.tobytes() == b.tobytes() and a.shape == image.shape and a.dtype == np.uint8
    assert not np.array_equal(a, render_synthetic(image, 43))
    assert not np.array_equal(a, image)


def test_mask_moves_with_the_image():
    image = np.zeros((256, 400, 3), np.uint8)
    image[60:200, 100:300] = 255
    mask = image[..., 0] > 0
    plain = SyntheticRecipe(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0, jitter=0.2)
    warped_image = render_synthetic(image, 9, plain)[..., 0] > 127
    warped = warp_mask(mask, 9, plain)
    assert (warped != mask).mean() > 0.01  # it did move
    assert (warped != warped_image).mean() < 0.002  # and the image moved the same way


def test_seeds_depend_on_key_not_order():
    assert derive_tps_seed(0, "a", 1) == derive_tps_seed(0, "a", 1)
    assert len({derive_tps_seed(0, "a", 1), derive_tps_seed(0, "a", 2), derive_tps_seed(1, "a", 1)}) == 3
    assert 0 <= derive_tps_seed(7, "x") < 2**60
