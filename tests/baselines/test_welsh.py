"""Welsh et al. 2002: the vectorised core against a plain per-pixel loop, and its behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

import baselines.methods.welsh as welsh_module
from baselines import registry
from baselines.registry import PairInputs
from bench.core.color import rgb_to_gray, rgb_to_lab
from tests.helpers import colour_image


def plain_welsh_ab(target_l: np.ndarray, reference_lab: np.ndarray, rng: np.random.Generator, samples: int,
                   window: int, weight: float) -> np.ndarray:
    """The same procedure written plainly: loops over pixels and samples, explicit windows."""
    h, w = reference_lab.shape[:2]
    # 1. Luminance remapping onto the target's global statistics.
    ref_l = reference_lab[..., 0]
    ref_l = target_l.std() / ref_l.std() * (ref_l - ref_l.mean()) + target_l.mean()

    # 2. Local std from explicit windows; numpy's "symmetric" padding is scipy's "reflect".
    def std_map(image: np.ndarray) -> np.ndarray:
        r = window // 2
        padded = np.pad(image, r, mode="symmetric")
        out = np.zeros(image.shape)
        for y in range(image.shape[0]):
            for x in range(image.shape[1]):
                out[y, x] = padded[y:y + window, x:x + window].std()
        return out

    ref_std, target_std = std_map(ref_l), std_map(target_l)

    # 3. Jittered grid: one random pixel per cell, cells in row-major order.
    n = min(samples, h * w)
    g_y = min(max(math.floor(math.sqrt(n * h / w) + 0.5), 1), h)
    g_x = min(max(math.floor(n / g_y + 0.5), 1), w)
    u = rng.random((g_y, g_x, 2))
    positions = []
    for i in range(g_y):
        for j in range(g_x):
            top, bottom = i * h // g_y, (i + 1) * h // g_y
            left, right = j * w // g_x, (j + 1) * w // g_x
            y = top + min(int(u[i, j, 0] * (bottom - top)), bottom - top - 1)
            x = left + min(int(u[i, j, 1] * (right - left)), right - left - 1)
            positions.append((y, x))

    # 4-5. Nearest sample in (L, std), first one on ties; its original ab.
    ab = np.zeros((*target_l.shape, 2))
    for y in range(target_l.shape[0]):
        for x in range(target_l.shape[1]):
            best, best_distance = 0, math.inf
            for k, (sy, sx) in enumerate(positions):
                distance = (weight * (target_l[y, x] - ref_l[sy, sx]) ** 2
                            + (1 - weight) * (target_std[y, x] - ref_std[sy, sx]) ** 2)
                if distance < best_distance:
                    best, best_distance = k, distance
            ab[y, x] = reference_lab[positions[best][0], positions[best][1], 1:]
    return ab


def random_lab(seed: int, height: int, width: int) -> np.ndarray:
    """Continuous random Lab values (no exact ties between samples)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(0, 100, (height, width, 1)), rng.uniform(-80, 80, (height, width, 2))], -1)


def gray_l(rgb: np.ndarray) -> np.ndarray:
    """The CIELAB lightness of the gray target a method receives for ``rgb``."""
    return rgb_to_lab(rgb_to_gray(rgb))[..., 0]


@pytest.mark.parametrize("samples, window, weight", [(20, 5, 0.5), (200, 3, 0.25), (7, 1, 1.0), (12, 5, 0.0)])
def test_matches_plain_loop_implementation(samples, window, weight, monkeypatch):
    monkeypatch.setattr(welsh_module, "CHUNK_ELEMENTS", 50)  # several chunks, and a ragged last one
    target_l = random_lab(1, 12, 10)[..., 0]
    reference_lab = random_lab(2, 9, 11)
    fast = welsh_module.welsh_ab(target_l, reference_lab, np.random.default_rng(7), samples, window, weight)
    plain = plain_welsh_ab(target_l, reference_lab, np.random.default_rng(7), samples, window, weight)
    assert fast.shape == (12, 10, 2) and fast.dtype == np.float64
    np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-12)
    # Not a degenerate agreement: many different swatches are used.
    assert len(np.unique(fast.reshape(-1, 2), axis=0)) > 3


def test_same_seed_same_output_other_seed_other_output():
    reference_lab = rgb_to_lab(colour_image(3, 48, 40))
    target_l = gray_l(colour_image(4, 40, 32))
    first = welsh_module.welsh_ab(target_l, reference_lab, np.random.default_rng(0))
    again = welsh_module.welsh_ab(target_l, reference_lab, np.random.default_rng(0))
    other = welsh_module.welsh_ab(target_l, reference_lab, np.random.default_rng(1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_uniform_reference_gives_its_colour_everywhere():
    reference_lab = rgb_to_lab(np.full((20, 30, 3), (200, 60, 30), np.uint8))
    target_l = gray_l(colour_image(5, 25, 18))
    ab = welsh_module.welsh_ab(target_l, reference_lab, np.random.default_rng(0))
    np.testing.assert_allclose(ab, np.broadcast_to(reference_lab[0, 0, 1:], ab.shape), rtol=0, atol=1e-12)


def test_dark_pixels_get_the_dark_colour_and_light_pixels_the_light_one():
    reference = np.zeros((40, 60, 3), np.uint8)
    reference[:, :30] = (110, 10, 10)  # dark red: L ~ 23, a ~ +40
    reference[:, 30:] = (160, 200, 255)  # light blue: L ~ 80, b ~ -30
    target_l = np.full((30, 50), 80.0)
    target_l[:14] = 25.0  # dark top, light bottom, in a different layout from the reference
    target_l[20:, :10] = 25.0
    dark = target_l < 50
    ab = welsh_module.welsh_ab(target_l, rgb_to_lab(reference), np.random.default_rng(0))
    assert (ab[dark, 0] > 20).all()
    assert (ab[~dark, 1] < -15).all()


def test_constant_target_takes_one_colour():
    reference_lab = rgb_to_lab(colour_image(6, 30, 20))
    ab = welsh_module.welsh_ab(np.full((16, 12), 42.0), reference_lab, np.random.default_rng(3))
    # Every distance is exactly 0, so every pixel takes the first sample.
    ys, xs = welsh_module.jittered_samples(20, 30, 200, np.random.default_rng(3))
    np.testing.assert_array_equal(ab, np.broadcast_to(reference_lab[ys[0], xs[0], 1:], ab.shape))


def test_tiny_images():
    reference_lab = random_lab(8, 2, 3)  # 6 pixels < 200 samples: every pixel is a sample
    target_l = random_lab(9, 5, 4)[..., 0]
    ab = welsh_module.welsh_ab(target_l, reference_lab, np.random.default_rng(0))
    colours = {tuple(c) for c in reference_lab[..., 1:].reshape(-1, 2)}
    assert ab.shape == (5, 4, 2) and {tuple(c) for c in ab.reshape(-1, 2)} <= colours
    one = welsh_module.welsh_ab(np.array([[30.0]]), random_lab(10, 1, 1), np.random.default_rng(0))
    np.testing.assert_array_equal(one, random_lab(10, 1, 1)[..., 1:])


@pytest.mark.parametrize("height, width, samples, expected", [(256, 256, 200, (14, 14)), (1, 1000, 200, (1, 200)),
                                                              (3, 2, 200, (3, 2)), (100, 400, 200, (7, 29))])
def test_grid_shape(height, width, samples, expected):
    assert welsh_module.grid_shape(height, width, samples) == expected


def test_jittered_samples_one_per_cell():
    ys, xs = welsh_module.jittered_samples(50, 70, 200, np.random.default_rng(0))
    g_y, g_x = welsh_module.grid_shape(50, 70, 200)
    assert len(ys) == g_y * g_x
    cell_rows = np.searchsorted((np.arange(g_y + 1) * 50) // g_y, ys, side="right") - 1
    cell_cols = np.searchsorted((np.arange(g_x + 1) * 70) // g_x, xs, side="right") - 1
    np.testing.assert_array_equal(cell_rows * g_x + cell_cols, np.arange(g_y * g_x))


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="odd window"):
        welsh_module.welsh_ab(np.zeros((4, 4)), random_lab(0, 4, 4), np.random.default_rng(0), window=4)
    with pytest.raises(ValueError, match="reference_lab"):
        welsh_module.welsh_ab(np.zeros((4, 4)), np.zeros((4, 4)), np.random.default_rng(0))


def test_registered_baseline_returns_uint8_rgb_at_target_size():
    spec = registry.get_baseline("welsh")
    assert spec.fn is welsh_module.welsh and spec.needs == ("reference",)
    target, reference = colour_image(11, 36, 28), colour_image(12, 50, 40)
    gray = rgb_to_gray(target)
    pair = PairInputs(pair_id="p0", target_gray=gray, reference=reference)
    out = welsh_module.welsh(pair, np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == (28, 36, 3)
    assert np.abs(np.diff(out.astype(int), axis=-1)).max() > 20  # coloured, not gray
    # The target's lightness is kept (up to uint8 rounding and gamut clipping).
    assert np.median(np.abs(rgb_to_lab(out)[..., 0] - pair.target_l)) < 1.0
