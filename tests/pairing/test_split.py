import re

import pytest

from bench.core.errors import ColorbenchError
from pairing.knn import round_distances
from pairing.split import compute_split_id, load_split, make_table, sanitize_id


@pytest.mark.parametrize("raw, safe", [
    ("n01440764/ILSVRC2012_val_00000293", "n01440764__ILSVRC2012_val_00000293"),
    ("../../etc/passwd", "etc__passwd"),
    ("a b/c?d", "a_b__c_d"),
    (".hidden", "hidden"),
    ("000000397133", "000000397133"),
])
def test_sanitize_id(raw, safe):
    assert sanitize_id(raw) == safe


def test_sanitize_refuses_nothing_left():
    with pytest.raises(ColorbenchError):
        sanitize_id("../..")


def test_duplicate_pair_ids_are_refused():
    with pytest.raises(ColorbenchError, match="share the id"):
        make_table([{"pair_id": "x"}, {"pair_id": "x"}])


def test_split_id_depends_on_content_and_params():
    table = make_table([{"pair_id": "a-r1", "distance": 0.5}, {"pair_id": "a-s1", "tps_seed": 7}])
    base = compute_split_id(table, {"seed": 0})
    assert base == compute_split_id(make_table([{"pair_id": "a-r1", "distance": 0.5}, {"pair_id": "a-s1", "tps_seed": 7}]),
                                    {"seed": 0})
    assert base != compute_split_id(table, {"seed": 1})
    assert base != compute_split_id(make_table([{"pair_id": "a-r1", "distance": 0.25}]), {"seed": 0})


def test_distances_are_rounded_so_float_noise_does_not_change_the_id():
    assert round_distances([0.1234567891, 0.1234567894]).tolist() == [0.123457, 0.123457]
    assert round_distances([float("inf")]).tolist() == [float("inf")]


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(ColorbenchError, match="does not exist"):
        load_split(tmp_path / "none.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ColorbenchError, match="not a readable Parquet file"):
        load_split(tmp_path / "bad.parquet")
    import pandas as pd

    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(ColorbenchError, match="not written by colorbench pairs"):
        load_split(tmp_path / "other.parquet")


@pytest.mark.parametrize("bad_id, message", [("../evil", "not a safe file name ('../evil')"),
                                             (".hidden", "not a safe file name ('.hidden')"),
                                             ("a-r1", "has the pair id 'a-r1' twice")])
def test_hand_edited_pair_ids_are_refused_on_load(tmp_path, bad_id, message, cli):
    """Pair ids become file names: a split edited by hand cannot point outside the output folder."""
    from pairing.split import Split
    from tests.helpers import assert_one_line_error

    table = make_table([{"pair_id": "a-r1", "distance": 0.5}, {"pair_id": "b-r1", "distance": 0.25}])
    path = Split(table, {"split_id": "x", "level": "image", "roots": {}}).save(tmp_path / "good.parquet")
    assert load_split(path).table["pair_id"].tolist() == ["a-r1", "b-r1"]
    table.loc[1, "pair_id"] = bad_id
    path = Split(table, {"split_id": "x", "level": "image", "roots": {}}).save(tmp_path / "edited.parquet")
    with pytest.raises(ColorbenchError, match=re.escape(message)):
        load_split(path)
    assert_one_line_error(cli("baseline", "gray", "--split", path, "--out", tmp_path / "out"), "edited.parquet",
                          "rebuild")
    assert not (tmp_path / "out").exists()
