"""The one result schema: what the scorer writes and the leaderboard reads, validated the same way."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from bench.core.errors import ColorbenchError
from bench.results import (
    bootstrap_ci,
    bootstrap_means,
    coverage,
    load_summary,
    metric_key,
    pairs_record,
    parse_key,
    validate_summary,
)

GOOD = {"schema_version": 2, "method": "m", "split_id": "abc", "level": "image",
        "pairs": {"scored": 3, "total": 3, "sha256": "0123"},
        "metrics": {"ssim": {"value": 0.5, "ci95": [0.4, 0.6], "direction": "higher", "n": 3, "output": "per_image"},
                    "psnr": {"value": "inf", "direction": "higher", "n": 3, "output": "per_image"},
                    "fid_inf_300": {"value": 12.0, "std": 0.5, "std_ddof": 1, "min_n": 300, "direction": "lower",
                                    "n": 3, "output": "per_set", "metric": "fid_inf"}},
        "skipped": {"lpips": "missing pretrained weights alexnet-owt-7be5be79.pth"}, "meta": {}}


def edited(path: str, value):
    summary = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = summary
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return summary


def test_a_valid_summary_passes():
    assert validate_summary(copy.deepcopy(GOOD), "x.json") == GOOD


@pytest.mark.parametrize("path, value, field", [
    ("metrics.ssim.value", "0.5", "metrics.ssim.value"),  # a string value
    ("metrics", [{"ssim": 1}], "metrics"),  # a list instead of a mapping
    ("metrics.ssim.ci95", [0.4], "metrics.ssim.ci95"),  # a ci95 of the wrong length
    ("metrics.ssim.ci95", [0.6, 0.4], "metrics.ssim.ci95"),
    ("metrics.ssim.direction", "up", "metrics.ssim.direction"),  # an unknown direction
    ("metrics.ssim.value", float("nan"), "metrics.ssim.value"),  # NaN
    ("metrics.ssim.value", True, "metrics.ssim.value"),
    ("metrics.ssim.n", -1, "metrics.ssim.n"),
    ("metrics.ssim.direction", KeyError, "metrics.ssim.direction"),
    ("metrics.fid_inf_300.std", -0.1, "metrics.fid_inf_300.std"),
    ("pairs.scored", 4, "pairs.scored"),
    ("pairs", KeyError, "pairs"),
    ("method", "", "method"),
    ("skipped", ["lpips"], "skipped"),
    ("level", "pixel", "level"),
])
def test_each_bad_field_is_named(path, value, field):
    with pytest.raises(ColorbenchError, match=rf"result x\.json.*\b{field}\b"):
        validate_summary(edited(path, value), "x.json")


def test_load_names_the_file_and_refuses_bare_nan(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(GOOD).replace('"value": 0.5', '"value": NaN'))
    with pytest.raises(ColorbenchError, match=r"summary\.json.*NaN"):
        load_summary(tmp_path)
    path.write_text("{")
    with pytest.raises(ColorbenchError, match="is not valid JSON"):
        load_summary(path)
    path.write_text(json.dumps(GOOD))
    assert load_summary(tmp_path) == (path, GOOD)


def test_version_1_files_still_read_with_their_coverage():
    old = {"method": "m", "split_id": "abc", "level": "image", "metrics": {},
           "meta": {"pairs_scored": 5, "pairs_missing": 2}}
    validate_summary(old, "old.json")
    assert coverage(old) == {"scored": 5, "total": 7, "sha256": None, "partial": True}
    assert coverage(GOOD)["partial"] is False


def test_keys():
    assert metric_key("lpips", "object") == "lpips@object" and metric_key("fid_inf", "image", "300") == "fid_inf_300"
    assert parse_key("fid_inf_600@object") == ("fid_inf_600", "object") and parse_key("ssim") == ("ssim", "image")


def test_pairs_record_ignores_order():
    assert pairs_record(["b", "a"], 3) == pairs_record(["a", "b"], 3)
    assert pairs_record(["a", "b"], 3)["sha256"] != pairs_record(["a", "c"], 3)["sha256"]


def test_blocked_bootstrap_is_the_same_random_stream(monkeypatch):
    """Drawing the resamples in blocks changes memory, never the numbers."""
    import bench.results as results

    values = np.random.default_rng(1).normal(size=37)
    whole = values[np.random.default_rng(5).integers(0, 37, size=(1000, 37))].mean(axis=1)
    monkeypatch.setattr(results, "_BOOTSTRAP_BLOCK_ELEMENTS", 37 * 7)  # blocks of 7 resamples
    np.testing.assert_array_equal(bootstrap_means(values, 1000, np.random.default_rng(5)), whole)
    low, high = bootstrap_ci(values, 1000, 5)
    assert (low, high) == (np.percentile(whole, 2.5), np.percentile(whole, 97.5))
