"""Each baseline's functional core against a direct computation of its formula."""

import numpy as np
import pytest
import skimage.color

from baselines.methods.luminance_rank import luminance_rank_ab
from baselines.methods.reinhard import reinhard_ab, transfer_channels
from baselines.registry import PairInputs, compose, get_baseline, list_baselines
from bench.core.color import rgb_to_gray, rgb_to_lab
from bench.core.errors import ColorbenchError
from tests.helpers import colour_image


def _pair(seed=0, size=(40, 32), ref_size=(36, 44), masks=False, gt=False):
    target = colour_image(seed, *size)
    reference = colour_image(seed + 50, *ref_size)
    gray = rgb_to_gray(target)
    target_mask = reference_mask = None
    if masks:
        target_mask = np.zeros(gray.shape[:2], bool)
        target_mask[5:20, 4:30] = True
        reference_mask = np.zeros(reference.shape[:2], bool)
        reference_mask[10:30, 8:20] = True
    pair = PairInputs("p", gray, reference, target_mask, reference_mask, target if gt else None)
    np.testing.assert_array_equal(pair.target_l, rgb_to_lab(gray)[..., 0])
    np.testing.assert_array_equal(pair.reference_lab, rgb_to_lab(reference))
    return pair


def test_registry_lists_every_baseline_and_names_misses():
    assert {"gray", "oracle", "reinhard", "reinhard-masked", "welsh", "luminance-rank"} <= set(list_baselines())
    with pytest.raises(ColorbenchError, match="did you mean reinhard"):
        get_baseline("reinhart")


def test_compose_keeps_the_lightness():
    pair = _pair()
    rgb = compose(pair.target_l, np.array([20.0, -10.0]))
    lab = skimage.color.rgb2lab(rgb)
    assert rgb.dtype == np.uint8 and rgb.shape == pair.target_gray.shape
    mid = (pair.target_l > 25) & (pair.target_l < 75)  # in gamut with this ab: no clipping
    assert mid.sum() > 100 and np.abs(lab[..., 0] - pair.target_l)[mid].max() < 1.0  # up to 8-bit rounding
    assert np.abs(lab[mid][:, 1:].mean(axis=0) - [20, -10]).max() < 1.0


def test_gray_and_oracle_return_their_inputs():
    pair = _pair(gt=True)
    rng = np.random.default_rng(0)
    assert np.array_equal(get_baseline("gray").fn(pair, rng), pair.target_gray)
    assert np.array_equal(get_baseline("oracle").fn(pair, rng), pair.gt)
    assert get_baseline("oracle").needs == ("gt",) and "gt" not in get_baseline("reinhard").needs


def test_transfer_channels_is_reinhards_formula():
    rng = np.random.default_rng(1)
    target, reference = rng.normal(3, 2, (500, 3)), rng.normal(-1, 5, (300, 3))
    expected = (target - target.mean(0)) / target.std(0) * reference.std(0) + reference.mean(0)
    np.testing.assert_allclose(transfer_channels(target, reference), expected, rtol=0, atol=1e-12)
    out = transfer_channels(target, reference)
    np.testing.assert_allclose(out.mean(0), reference.mean(0), atol=1e-12)
    np.testing.assert_allclose(out.std(0), reference.std(0), atol=1e-12)


def test_reinhard_on_a_gray_target_is_the_reference_mean_chroma():
    pair = _pair()
    out = get_baseline("reinhard").fn(pair, np.random.default_rng(0))
    direct = compose(pair.target_l, pair.reference_lab[..., 1:].reshape(-1, 2).mean(axis=0))
    assert np.array_equal(out, direct)
    assert np.abs(skimage.color.rgb2lab(out)[..., 1:].std(axis=(0, 1))).max() < 3  # one tint, up to rounding


def test_reinhard_masked_transfers_object_to_object_and_rest_to_rest():
    pair = _pair(masks=True)
    ab = reinhard_ab(np.zeros((*pair.target_l.shape, 2)), pair.reference_lab[..., 1:], pair.target_mask,
                     pair.reference_mask)
    ref_ab = pair.reference_lab[..., 1:]
    np.testing.assert_allclose(ab[pair.target_mask], np.broadcast_to(ref_ab[pair.reference_mask].mean(0),
                                                                     (pair.target_mask.sum(), 2)), atol=1e-12)
    np.testing.assert_allclose(ab[~pair.target_mask], np.broadcast_to(ref_ab[~pair.reference_mask].mean(0),
                                                                      ((~pair.target_mask).sum(), 2)), atol=1e-12)
    assert np.abs(ref_ab[pair.reference_mask].mean(0) - ref_ab[~pair.reference_mask].mean(0)).max() > 1  # not vacuous
    # a reference object filling its image: the rest takes the whole reference
    full = np.ones(pair.reference.shape[:2], bool)
    ab = reinhard_ab(np.zeros((*pair.target_l.shape, 2)), ref_ab, pair.target_mask, full)
    np.testing.assert_allclose(ab[~pair.target_mask][0], ref_ab.reshape(-1, 2).mean(0), atol=1e-12)


def test_luminance_rank_matches_a_direct_quantile_loop():
    pair = _pair(size=(9, 7), ref_size=(11, 6))
    bins = 5
    ab = luminance_rank_ab(pair.target_l, pair.reference_lab, bins=bins)
    ref = pair.reference_lab.reshape(-1, 3)

    def quantile(value, values):
        return (np.sum(values < value) + np.sum(values <= value)) / (2 * len(values))

    ref_bins = [min(int(quantile(v, ref[:, 0]) * bins), bins - 1) for v in ref[:, 0]]
    means = {b: ref[[i for i, rb in enumerate(ref_bins) if rb == b], 1:].mean(0) for b in set(ref_bins)}
    for (y, x), value in np.ndenumerate(pair.target_l):
        b = min(int(quantile(value, pair.target_l.ravel()) * bins), bins - 1)
        nearest = min(means, key=lambda k: (abs(k - b), k))
        np.testing.assert_allclose(ab[y, x], means[nearest], atol=1e-12)


def test_luminance_rank_gives_dark_regions_dark_colours():
    reference = np.zeros((20, 20, 3), np.uint8)
    reference[:, :10] = (120, 10, 10)  # dark red
    reference[:, 10:] = (150, 200, 255)  # light blue
    target = np.zeros((10, 10, 3), np.uint8)
    target[:5] = 40
    target[5:] = 210
    gray = rgb_to_gray(target)
    ab = luminance_rank_ab(rgb_to_lab(gray)[..., 0], rgb_to_lab(reference))
    assert (ab[:5, :, 0] > 20).all() and (ab[5:, :, 1] < -20).all()
