"""The per-sample training preprocessing (what a DataLoader worker computes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference_models.spcolor.config import preset
from reference_models.spcolor.data import (
    add_luminance_noise,
    make_training_sample,
    resize_and_center_crop,
    self_reference_view,
    to_lab_tensor,
)
from tests.helpers import colour_image

TINY = preset("tiny")  # 64 x 64


def test_sample_keys_shapes_and_ranges():
    rng = np.random.default_rng(0)
    sample = make_training_sample(colour_image(1, 120, 90), colour_image(2, 100, 160), rng, TINY)
    assert set(sample) == {"target_lab", "target_l_input", "reference_lab", "reference_rgb", "self_reference"}
    for key in ("target_lab", "reference_lab"):
        assert sample[key].shape == (3, 64, 64) and sample[key].dtype == torch.float32
        assert 0 <= float(sample[key][0].min()) and float(sample[key][0].max()) <= 100
    assert sample["target_l_input"].shape == (1, 64, 64)
    assert sample["reference_rgb"].shape == (3, 64, 64) and 0 <= float(sample["reference_rgb"].min())
    assert float(sample["reference_rgb"].max()) <= 1
    assert sample["self_reference"].dtype == torch.bool and sample["self_reference"].ndim == 0
    torch.testing.assert_close(to_lab_tensor((sample["reference_rgb"].permute(1, 2, 0) * 255).round().byte().numpy()),
                               sample["reference_lab"])


def test_sample_is_deterministic_for_the_generator():
    target, reference = colour_image(3, 80, 80), colour_image(4, 80, 80)
    a = make_training_sample(target, reference, np.random.default_rng(5), TINY)
    b = make_training_sample(target, reference, np.random.default_rng(5), TINY)
    c = make_training_sample(target, reference, np.random.default_rng(6), TINY)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["target_l_input"], c["target_l_input"])


def test_luminance_noise_is_gaussian_with_std_2():
    lightness = torch.full((1, 64, 64), 50.0)
    noisy = add_luminance_noise(lightness, np.random.default_rng(0), 2.0)
    noise = noisy - lightness
    assert abs(float(noise.mean())) < 0.1 and 1.9 < float(noise.std()) < 2.1
    sample = make_training_sample(colour_image(5, 64, 64), colour_image(6, 64, 64), np.random.default_rng(1), TINY)
    assert 1.8 < float((sample["target_l_input"] - sample["target_lab"][:1]).std()) < 2.2
    quiet = make_training_sample(colour_image(5, 64, 64), colour_image(6, 64, 64), np.random.default_rng(1),
                                 preset("tiny", luminance_noise=0.0))
    assert torch.equal(quiet["target_l_input"], quiet["target_lab"][:1])


def test_self_reference_is_the_targets_own_image():
    target = colour_image(7, 96, 96)  # square: the whole-image crop equals the centre crop
    config = preset("tiny", self_reference_probability=1.0, self_reference_flip=0.0, self_reference_scale=(1.0, 1.0))
    sample = make_training_sample(target, colour_image(8, 96, 96), np.random.default_rng(0), config)
    assert bool(sample["self_reference"])
    assert torch.equal(sample["reference_lab"], sample["target_lab"])
    flipped = make_training_sample(target, colour_image(8, 96, 96), np.random.default_rng(0),
                                   preset("tiny", self_reference_probability=1.0, self_reference_flip=1.0,
                                          self_reference_scale=(1.0, 1.0)))
    assert torch.equal(flipped["reference_lab"], sample["target_lab"].flip(-1))
    never = make_training_sample(target, colour_image(8, 96, 96), np.random.default_rng(0),
                                 preset("tiny", self_reference_probability=0.0))
    assert not bool(never["self_reference"]) and not torch.equal(never["reference_lab"], never["target_lab"])


def test_self_reference_probability():
    rng = np.random.default_rng(0)
    small = preset("tiny", image_size=16)
    flags = [bool(make_training_sample(colour_image(9, 16, 16), colour_image(10, 16, 16), rng, small)["self_reference"])
             for _ in range(200)]
    assert 0.12 < np.mean(flags) < 0.28  # 0.2, +- 2.8 standard deviations


def test_resize_and_center_crop():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 75:125] = 255  # a central white band, half of the centre crop
    out = resize_and_center_crop(image, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[:, 24:40].min() > 200 and out[:, :10].max() < 50 and out[:, -10:].max() < 50
    with pytest.raises(TypeError, match="uint8"):
        resize_and_center_crop(image.astype(np.float32), 64)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        resize_and_center_crop(image[..., 0], 64)


def test_self_reference_view_falls_back_to_a_centred_crop():
    wide = colour_image(11, 200, 80)  # aspect 2.5: no 98% crop has a ratio within 0.8-1.2
    out = self_reference_view(wide, np.random.default_rng(0), size=32, flip=0.0)
    assert out.shape == (32, 32, 3)
    centred = wide[:, (200 - 96) // 2:(200 - 96) // 2 + 96]  # height 80, width 80 * 1.2 = 96
    expected = self_reference_view(np.ascontiguousarray(centred), np.random.default_rng(1), size=32, flip=0.0,
                                   scale=(1.0, 1.0), ratio=(1.2, 1.2))
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1
