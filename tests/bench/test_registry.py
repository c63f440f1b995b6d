"""The metric registry: names, defaults, metadata, misses."""

import pytest

from bench.core.errors import ColorbenchError
from bench.registry import get_metric, list_metrics


def test_default_set_leaves_out_variants_that_run_when_named():
    everything, default = list_metrics(), list_metrics(default_only=True)
    assert "lpips_vgg" in everything and "lpips_vgg" not in default
    assert set(default) == set(everything) - {"lpips_vgg"}
    assert not get_metric("lpips_vgg").default and get_metric("lpips").default


def test_every_metric_declares_what_the_scorer_and_leaderboard_need():
    for name in list_metrics():
        spec = get_metric(name)
        assert spec.direction in ("higher", "lower") and spec.matches and spec.description
        assert (spec.features is not None) == (spec.output == "per_set")


def test_a_miss_suggests_the_closest_names():
    with pytest.raises(ColorbenchError, match="did you mean lpips"):
        get_metric("lpip")
