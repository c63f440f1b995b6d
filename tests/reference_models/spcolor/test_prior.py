"""Semantic priors: the gray image a prior sees, and the k-means prior (VGG19 with random stand-in weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.color import rgb_to_gray, rgb_to_lab
from bench.core.errors import ColorbenchError
from bench.testing import calibration_batch
from reference_models.spcolor.prior import (
    KMeansPrior,
    PriorOutput,
    SemanticPrior,
    as_gray_rgb,
    check_prior_output,
    cluster_probabilities,
    gray_from_l,
    spherical_kmeans,
)
from reference_models.spcolor.vgg import SPColorVGG


@pytest.fixture(scope="module")
def vgg(build_offline):
    return build_offline(["vgg19"], lambda: SPColorVGG(KMeansPrior.LAYERS))


@pytest.fixture(scope="module")
def photos():
    return calibration_batch(64)[:4].float() / 255.0  # four of the bundled photographs, (4, 3, 64, 64)


@pytest.fixture(scope="module")
def fitted(vgg, photos):
    return KMeansPrior(4, vgg=vgg, input_size=64, out_size=16).fit(photos)


def test_gray_from_l_is_the_toolkits_gray_image():
    image = (np.random.default_rng(0).uniform(0, 255, (16, 16, 3))).astype(np.uint8)
    lightness = torch.from_numpy(rgb_to_lab(image)[..., 0]).float()[None, None]
    gray = gray_from_l(lightness)
    assert gray.shape == (1, 3, 16, 16)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])
    expected = torch.from_numpy(rgb_to_gray(image)[..., 0]).float() / 255.0
    assert float((gray[0, 0] - expected).abs().max()) <= 1.0 / 255.0  # bench's gray is rounded to uint8


def test_as_gray_rgb_drops_colour_keeps_lightness():
    g = torch.Generator().manual_seed(0)
    colour = torch.rand(2, 3, 8, 8, generator=g)
    gray = as_gray_rgb(colour)
    assert torch.equal(gray[:, 0], gray[:, 2])
    torch.testing.assert_close(rgb_to_lab(gray)[:, 0], rgb_to_lab(colour)[:, 0], atol=1e-3, rtol=0)
    torch.testing.assert_close(rgb_to_lab(gray)[:, 1:], torch.zeros(2, 2, 8, 8), atol=1e-2, rtol=0)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        as_gray_rgb(torch.rand(2, 2, 8, 8))


def test_spherical_kmeans_finds_separated_clusters_deterministically():
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(4, 8)
    points = (centres[torch.arange(400) % 4] + 0.05 * torch.randn(400, 8, generator=g))
    a = spherical_kmeans(points, 4, torch.Generator().manual_seed(3))
    b = spherical_kmeans(points, 4, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert float((a @ centres.T).amax(0).min()) > 0.99  # every true centre is found


def test_kmeans_prior_is_deterministic_for_a_seed(vgg, photos):
    first = KMeansPrior(5, vgg=vgg, input_size=64, out_size=16, seed=7).fit(photos)
    again = KMeansPrior(5, vgg=vgg, input_size=64, out_size=16, seed=7).fit(photos)
    other = KMeansPrior(5, vgg=vgg, input_size=64, out_size=16, seed=8).fit(photos)
    assert torch.equal(first.centroids, again.centroids)
    assert not torch.equal(first.centroids, other.centroids)
    out, out_again = first(photos[:3]), again(photos[:3])
    assert torch.equal(out.classes, out_again.classes) and torch.equal(out.confidence, out_again.confidence)
    assert isinstance(first, SemanticPrior)
    assert out.classes.shape == (3, 16, 16) and out.classes.dtype == torch.int64
    assert int(out.classes.min()) >= 0 and int(out.classes.max()) < 5
    assert float(out.confidence.min()) >= 1 / 5 and float(out.confidence.max()) <= 1.0  # max of a softmax over 5
    assert len(torch.unique(out.classes)) > 1


def test_kmeans_prior_sees_lightness_only(fitted, photos):
    prior = fitted
    lightness = rgb_to_lab(photos[:2])[:, :1]
    from_colour, from_lightness = prior(photos[:2]), prior(lightness)
    assert torch.equal(from_colour.classes, from_lightness.classes)  # a colour image == its L (both made gray)
    assert torch.equal(from_colour.confidence, from_lightness.confidence)


def test_kmeans_prior_centroids_round_trip_and_unfitted_error(vgg, fitted, photos):
    with pytest.raises(ColorbenchError, match="fit"):
        KMeansPrior(4, vgg=vgg, input_size=64, out_size=16)(photos[:1])
    prior = fitted
    state = {k: v for k, v in prior.state_dict().items() if not k.startswith("vgg.")}
    loaded = KMeansPrior(4, vgg=vgg, input_size=64, out_size=16)
    loaded.load_state_dict(state, strict=False)
    assert loaded.fitted and torch.equal(loaded.centroids, prior.centroids)
    assert torch.equal(loaded(photos[:2]).classes, prior(photos[:2]).classes)


def test_check_prior_output_exceptions():
    good = PriorOutput(torch.zeros(2, 4, 4, dtype=torch.long), torch.ones(2, 4, 4))
    assert check_prior_output(good, 2, 3) is good
    with pytest.raises(TypeError, match="int64"):
        check_prior_output(PriorOutput(good.classes.int(), good.confidence), 2, 3)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        check_prior_output(PriorOutput(good.classes + 3, good.confidence), 2, 3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_prior_output(PriorOutput(good.classes, good.confidence * 2), 2, 3)
    with pytest.raises(ValueError, match=r"classes must have shape \(3, h, w\)"):
        check_prior_output(good, 3, 3)


def test_cluster_lookup_under_bf16_autocast_is_the_float32_lookup():
    """Features arrive in bfloat16 from a backbone under autocast; the cosines to the centres are
    taken in float32: in bfloat16 (steps of 2^-8 near 1) near-ties changed 8% of the classes of a
    k-means prior on the demo photographs (random VGG19 weights)."""
    g = torch.Generator().manual_seed(0)
    centroids = torch.randn(22, 64, generator=g)
    # every position near a centre, so that its class has a small margin over the next one
    features = (centroids[torch.randint(0, 22, (2, 16, 16), generator=g)] + 3.0 * torch.randn(2, 16, 16, 64,
                                                                                             generator=g))
    features = features.permute(0, 3, 1, 2).bfloat16()
    expected = cluster_probabilities(features.float(), centroids, 10.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = cluster_probabilities(features, centroids, 10.0)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, expected, rtol=0, atol=1e-6)
    assert torch.equal(mixed.argmax(1), expected.argmax(1))
