"""SLIC / MaskSLIC label maps per level, their conventions, and the content-keyed cache."""

import numpy as np
import pytest
import torch
from skimage.segmentation import slic
from skimage.transform import resize

import reference_models.layers.superpixels as sp
from bench.core.errors import ColorbenchError
from reference_models.layers.superpixels import (
    SuperpixelConfig,
    stack_levels,
    superpixel_cache_key,
    superpixel_levels,
)
from tests.reference_models.layers.helpers import count_superpixels

SMALL = SuperpixelConfig(levels=4, base_segments=64)


def blobs(side: int = 64, seed: int = 0) -> np.ndarray:
    """A gray image with smooth structure (so SLIC has edges to follow)."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 1, (5, 5))
    return resize(low, (side, side), order=3, mode="reflect").clip(0, 1) + rng.normal(0, 0.01, (side, side))


def test_the_models_defaults_are_the_released_parameters():
    from reference_models.superattention.config import MSAConfig, SAConfig

    sa, msa = SAConfig().superpixels, MSAConfig().superpixels
    assert (sa.levels, msa.levels) == (3, 4)
    for config in (sa, msa):
        assert (config.compactness, config.sigma, config.base_segments, config.max_num_iter) == (0.1, 0.0, 224, 10)
    assert [msa.n_segments(i) for i in range(4)] == [224, 112, 56, 28]


def test_shapes_and_label_conventions():
    labels = superpixel_levels(blobs(), config=SMALL)
    assert [level.shape for level in labels] == [(64, 64), (32, 32), (16, 16), (8, 8)]
    for level in labels:
        assert level.dtype == np.int64
        assert level.min() == 1  # skimage starts at 1; 0 is reserved for "outside the mask"
        assert np.array_equal(np.unique(level), np.arange(1, level.max() + 1))  # consecutive


def test_unit_matches_skimage_with_the_released_call():
    # The released utils.img_segments_only: resize by 1/2**i, then slic(..., compactness=0.1,
    # sigma=0, channel_axis=None) with n_segments = int(base / 2**i) (skimage, this environment).
    image = blobs(64, seed=3)
    labels = superpixel_levels(image, config=SMALL)
    for i in range(4):
        small = resize(image, (64 / 2**i, 64 / 2**i))
        expected = slic(small, n_segments=int(64 / 2**i), sigma=0, compactness=0.1, channel_axis=None)
        assert np.array_equal(labels[i], expected)


def test_mask_gives_zero_outside_and_superpixels_inside():
    image = blobs()
    mask = np.zeros((64, 64), bool)
    mask[8:48, 16:56] = True
    labels = superpixel_levels(image, mask, SMALL)
    for i, level in enumerate(labels):
        level_mask = resize(mask, level.shape, order=0, anti_aliasing=False)
        assert (level[~level_mask] == 0).all()
        assert (level[level_mask] >= 1).all()
    assert not np.array_equal(labels[0], superpixel_levels(image, None, SMALL)[0])


def test_mask_that_vanishes_at_a_level_gives_an_all_zero_map():
    mask = np.zeros((64, 64), bool)
    mask[9, 9] = True  # one pixel: gone after nearest-neighbour downsizing
    labels = superpixel_levels(blobs(), mask, SMALL)
    assert labels[0].max() >= 1
    assert (labels[3] == 0).all()


def test_exception():
    with pytest.raises(TypeError, match="numpy"):
        superpixel_levels(torch.zeros(64, 64), config=SMALL)
    with pytest.raises(TypeError, match="float"):
        superpixel_levels(np.zeros((64, 64), np.uint8), config=SMALL)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        superpixel_levels(np.zeros((64, 64, 3)), config=SMALL)
    with pytest.raises(ValueError, match="divisible"):
        superpixel_levels(np.zeros((60, 64)), config=SMALL)
    with pytest.raises(ValueError, match="mask"):
        superpixel_levels(blobs(), np.ones((32, 32), bool), SMALL)
    with pytest.raises(ColorbenchError, match="levelz"):
        SuperpixelConfig.from_dict({"levelz": 3})
    with pytest.raises(ValueError, match="compactness"):
        SuperpixelConfig(compactness=0)


def test_cache_hit_and_miss_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path))
    image = blobs(seed=5)
    first = superpixel_levels(image, config=SMALL, cache=True)
    assert len(list(tmp_path.glob("superpixels-*.npz"))) == 1

    calls = []
    real_slic = sp.slic
    monkeypatch.setattr(sp, "slic", lambda *a, **k: calls.append(1) or real_slic(*a, **k))
    again = superpixel_levels(image.copy(), config=SMALL, cache=True)  # same content, another array
    assert calls == [] and all(np.array_equal(a, b) and b.dtype == np.int64 for a, b in zip(first, again))

    other = image.copy()
    other[0, 0] += 0.5  # one pixel changed: another key, segmented anew
    superpixel_levels(other, config=SMALL, cache=True)
    assert len(calls) == 4
    mask = np.zeros((64, 64), bool)
    mask[:32] = True
    superpixel_levels(image, mask, SMALL, cache=True)  # the mask is part of the key
    superpixel_levels(image, config=SuperpixelConfig(levels=4, base_segments=32), cache=True)  # and the config
    assert len(calls) == 12
    assert len(list(tmp_path.glob("superpixels-*.npz"))) == 4


def test_cache_key_covers_inputs_and_settings():
    image = blobs()
    keys = {superpixel_cache_key(image, None, SMALL), superpixel_cache_key(image.astype(np.float32), None, SMALL),
            superpixel_cache_key(image, np.ones((64, 64), bool), SMALL),
            superpixel_cache_key(image, None, SuperpixelConfig(levels=4, base_segments=64, compactness=1.0))}
    assert len(keys) == 4
    assert superpixel_cache_key(image, None, SMALL) == superpixel_cache_key(image.copy(), None, SMALL)


def test_stack_levels_and_counts():
    a = superpixel_levels(blobs(seed=1), config=SMALL)
    b = superpixel_levels(blobs(seed=2), config=SMALL)
    batch = stack_levels([a, b])
    assert [t.shape for t in batch] == [(2, 64, 64), (2, 32, 32), (2, 16, 16), (2, 8, 8)]
    assert batch[0].dtype == torch.int64
    assert count_superpixels(batch[0]).tolist() == [a[0].max(), b[0].max()]
    with pytest.raises(ValueError, match="levels"):
        stack_levels([a, b[:2]])
