"""ScoreConfig: the one place metric settings live."""

from __future__ import annotations

import pytest

from bench.config import PAPER_FID_INF_MIN_N, ScoreConfig
from bench.core.errors import ColorbenchError


def test_unknown_keys_are_refused_with_the_known_ones():
    with pytest.raises(ColorbenchError, match="unknown metric setting.*lpips_r_hh.*known: .*lpips_r_h"):
        ScoreConfig.from_dict({"lpips_r_hh": 0.1})


def test_json_lists_become_tuples_so_configs_compare_and_hash():
    config = ScoreConfig.from_dict({"lpips_r_layers": ["relu2_2"], "fid_inf_min_n": [100, 200],
                                    "fid_inf_object_min_n": [50]})
    assert config.lpips_r_layers == ("relu2_2",) and config.fid_inf_min_n == (100, 200)
    assert config == ScoreConfig(lpips_r_layers=("relu2_2",), fid_inf_min_n=(100, 200), fid_inf_object_min_n=(50,))
    assert hash(config) == hash(ScoreConfig.from_dict(config.as_dict()))


def test_settings_are_validated():
    with pytest.raises(ColorbenchError, match="lpips_r_direction"):
        ScoreConfig(lpips_r_direction="both")
    with pytest.raises(ColorbenchError, match="bootstrap_samples"):
        ScoreConfig(bootstrap_samples=0)


def test_object_splits_take_the_papers_fid_infinity_columns():
    assert ScoreConfig().for_split("object").fid_inf_min_n == PAPER_FID_INF_MIN_N == (300, 600)
    assert ScoreConfig().for_split("image") == ScoreConfig()
    assert ScoreConfig(fid_inf_object_min_n=()).for_split("object").fid_inf_min_n is None
