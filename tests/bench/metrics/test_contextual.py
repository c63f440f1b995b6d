"""lpips_r (contextual similarity, Mechrez et al. 2018) against a loop-based transcription of the paper.

VGG19 weights are random stand-ins (BatchNorm-free, so raw random): the numbers test the formula
and its plumbing, never the metric's values. Images are resized to 64 to keep the test fast.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.config import ScoreConfig
from bench.core.errors import MissingWeightsError
from bench.metrics import contextual
from bench.metrics.base import Batch
from bench.metrics.contextual import (
    contextual_distance,
    contextual_similarity,
    lpips_r_from_features,
    lpips_r_metric,
    resize_short_side,
)
from bench.testing import calibration_batch

SIDE = 64
CONFIG = ScoreConfig(lpips_r_side=SIDE)


def cx_loop(x: np.ndarray, y: np.ndarray, h: float, direction: str = "reference") -> float:
    """The paper's formulas, one position at a time. ``x`` (C, N) output, ``y`` (C, M) reference.
    ``direction="output"``: Zhang et al. 2019's forward direction (max over the reference, mean
    over the output)."""
    n, m = x.shape[1], y.shape[1]
    mu = y.mean(axis=1)
    xs = [(x[:, i] - mu) / np.linalg.norm(x[:, i] - mu) for i in range(n)]
    ys = [(y[:, j] - mu) / np.linalg.norm(y[:, j] - mu) for j in range(m)]
    cx = np.empty((n, m))
    for i in range(n):
        d = np.array([1.0 - float(xs[i] @ ys[j]) for j in range(m)])
        d_rel = d / (d.min() + 1e-5)
        w = np.exp((1.0 - d_rel) / h)
        cx[i] = w / w.sum()
    if direction == "output":
        return float(np.mean([max(cx[i, j] for j in range(m)) for i in range(n)]))
    return float(np.mean([max(cx[i, j] for i in range(n)) for j in range(m)]))


@pytest.fixture(scope="module")
def images():
    photos = calibration_batch(96)
    return photos[:3], photos[3:6]  # outputs, references (different photographs)


@pytest.fixture(scope="module")
def metric(build_offline):
    """One metric (one VGG19 load) for the whole module, under the session's offline TORCH_HOME."""
    return build_offline(["vgg19"], lambda: lpips_r_metric(CONFIG, "cpu"))


@pytest.fixture(scope="module")
def features(metric, images):
    pred, ref = images
    with torch.no_grad():
        return metric.vgg(resize_short_side(pred, SIDE)), metric.vgg(resize_short_side(ref, SIDE))


@pytest.mark.parametrize("direction", ["reference", "output"])
def test_core_matches_loop_reference(features, direction):
    pred_feats, ref_feats = features
    for layer in CONFIG.lpips_r_layers:
        x, y = pred_feats[layer], ref_feats[layer]
        got = contextual_distance(x, y, h=CONFIG.lpips_r_h, direction=direction)
        assert got.dtype == torch.float64 and got.shape == (3,)
        want = [-math.log(cx_loop(x[b].flatten(1).double().numpy(), y[b].flatten(1).double().numpy(), CONFIG.lpips_r_h,
                                  direction)) for b in range(3)]
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


def test_directions_differ(features):
    """The two conventions are different numbers on non-identical images (so the setting matters)."""
    x, y = features[0]["relu4_2"], features[1]["relu4_2"]
    assert not torch.allclose(contextual_distance(x, y, direction="reference"),
                              contextual_distance(x, y, direction="output"))


def test_layer_reduction_sum_is_mechrez_code(features):
    mean = lpips_r_from_features(*features, h=CONFIG.lpips_r_h)
    total = lpips_r_from_features(*features, h=CONFIG.lpips_r_h, reduction="sum")
    torch.testing.assert_close(total, mean * len(CONFIG.lpips_r_layers))


def test_settings_reach_the_metric_and_are_validated(build_offline, images):
    pred, ref = images
    config = ScoreConfig(lpips_r_side=SIDE, lpips_r_direction="output", lpips_r_layer_reduction="sum")
    metric = build_offline(["vgg19"], lambda: lpips_r_metric(config, "cpu"))
    features = metric.vgg(resize_short_side(pred, SIDE)), metric.vgg(resize_short_side(ref, SIDE))
    want = lpips_r_from_features(*features, h=config.lpips_r_h, direction="output", reduction="sum")
    torch.testing.assert_close(metric(Batch(pred=pred, reference=list(ref))), want, rtol=1e-5, atol=1e-6)
    from bench.core.errors import ColorbenchError

    with pytest.raises(ColorbenchError, match="lpips_r_direction must be one of reference, output"):
        ScoreConfig(lpips_r_direction="forward")
    with pytest.raises(ColorbenchError, match="lpips_r_layer_reduction"):
        ScoreConfig.from_dict({"lpips_r_layer_reduction": "max"})


def test_resize_keeps_the_aspect_ratio():
    wide = (torch.rand(1, 3, 90, 300) * 255).to(torch.uint8)
    assert resize_short_side(wide, 30).shape == (1, 3, 30, 100)
    tall = (torch.rand(2, 3, 200, 50) * 255).to(torch.uint8)
    assert resize_short_side(tall, 224).shape == (2, 3, 896, 224)


def test_metric_is_the_layer_mean_of_the_core(metric, features, images):
    pred, ref = images
    got = metric(Batch(pred=pred, reference=list(ref)))
    want = lpips_r_from_features(*features, h=CONFIG.lpips_r_h)
    per_layer = [contextual_distance(features[0][k], features[1][k]) for k in CONFIG.lpips_r_layers]
    expected_mean = torch.stack(per_layer).mean(0)
    torch.testing.assert_close(want, expected_mean)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_identity_is_near_zero_and_range(metric, images):
    pred, ref = images
    same = metric(Batch(pred=pred, reference=list(pred)))
    # 0 up to feature positions with an exact duplicate elsewhere (flat areas), which split CX_jj
    assert (same >= 0).all() and (same < 1e-2).all(), same
    other = metric(Batch(pred=pred, reference=list(ref)))
    max_value = math.log((SIDE // 4) ** 2)  # CX >= 1/M, M = positions of relu3_2 (the larger layer)
    assert (other >= 0).all() and (other <= max_value).all() and (other > same).all(), other


def test_different_sizes(metric):
    photos = calibration_batch(80)
    pred = photos[:2, :, :48, :64]
    refs = [photos[2, :, :80, :60], photos[3, :, :40, :40]]
    values = metric(Batch(pred=pred.contiguous(), reference=refs))
    assert values.shape == (2,) and values.dtype == torch.float64 and torch.isfinite(values).all()


def test_blocked_computation_matches(features, monkeypatch):
    x, y = features[0]["relu3_2"], features[1]["relu3_2"]
    whole = contextual_similarity(x, y)
    monkeypatch.setattr(contextual, "_BLOCK_ELEMENTS", 1)  # one image per block
    torch.testing.assert_close(contextual_similarity(x, y), whole, rtol=0, atol=1e-12)


def test_small_h_is_finite(features):
    x, y = features[0]["relu4_2"], features[1]["relu4_2"]
    cx = contextual_similarity(x, y, h=1e-3)  # exp((1 - d~)/h) alone would overflow float64
    assert torch.isfinite(cx).all() and (cx > 0).all() and (cx <= 1).all()


def test_flat_reference_is_finite():
    x = torch.rand(1, 8, 4, 4)
    flat = torch.ones(1, 8, 4, 4)  # every feature equals the mean: zero vectors after centring
    assert torch.isclose(contextual_distance(x, flat), torch.tensor([math.log(16.0)], dtype=torch.float64)).all()


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(3, 4, 4\)"):
        contextual_similarity(torch.rand(3, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="channels"):
        contextual_similarity(torch.rand(1, 3, 4, 4), torch.rand(1, 5, 4, 4))
    with pytest.raises(ValueError, match="h must be"):
        contextual_similarity(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), h=0.0)
    with pytest.raises(TypeError, match="uint8"):
        resize_short_side(torch.rand(1, 3, 8, 8), 4)


def test_missing_weights_is_one_line(empty_torch_home):
    with pytest.raises(MissingWeightsError, match="vgg19-dcbb9e9d.pth"):
        lpips_r_metric(CONFIG, "cpu")


def test_through_the_tensor_api_equals_the_loop_transcription(metric, images, build_offline):
    from bench import create_metric

    pred, ref = images
    api = build_offline(["vgg19"], lambda: create_metric("lpips_r", lpips_r_side=SIDE))
    with torch.no_grad():
        pred_feats, ref_feats = metric.vgg(resize_short_side(pred, SIDE)), metric.vgg(resize_short_side(ref, SIDE))
    expected = np.mean([[-math.log(cx_loop(pred_feats[k][b].flatten(1).double().numpy(),
                                           ref_feats[k][b].flatten(1).double().numpy(), CONFIG.lpips_r_h))
                         for b in range(3)] for k in CONFIG.lpips_r_layers], axis=0)
    np.testing.assert_allclose(api(pred=pred, reference=ref).numpy(), expected, rtol=1e-5, atol=1e-5)
