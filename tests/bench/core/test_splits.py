import re

import pytest

from bench.core.errors import ColorbenchError
from bench.core.splits import compute_split_id, load_split, sanitize_id
from pairing.assemble import make_table
from pairing.knn import round_distances


@pytest.mark.parametrize("raw, safe", [
    ("n01440764/ILSVRC2012_val_00000293", "n01440764__ILSVRC2012_val_00000293"),
    ("写真", "写真"),  # letters of any script are safe file names
    ("犬 (1)", "犬_1_"),
    ("cafe\u0301", "café"),  # NFD (as macOS stores names) and NFC give one id
    ("../../etc/passwd", "etc__passwd"),
    ("a b/c?d", "a_b__c_d"),
    (".hidden", "hidden"),
    ("000000397133", "000000397133"),
])
def test_sanitize_id(raw, safe):
    assert sanitize_id(raw) == safe


def test_colliding_ids_get_a_deterministic_suffix():
    from bench.core.splits import unique_ids

    ids = unique_ids(["a b", "a?b", "b", "写真"])  # the first two both sanitise to a_b
    assert ids[2:] == ["b", "写真"]
    assert ids[0].startswith("a_b-") and ids[1].startswith("a_b-") and ids[0] != ids[1]
    assert len(ids[0]) == len("a_b-") + 8
    assert unique_ids(["a?b", "b", "a b"]) == [ids[1], "b", ids[0]]  # the same names, any order: the same ids
    with pytest.raises(ColorbenchError, match="listed twice"):
        unique_ids(["x", "x"])


def test_ids_drop_the_suffix_and_tell_apart_names_differing_only_in_it():
    from bench.core.splits import unique_ids

    assert unique_ids(["dir/photo.jpg", "x.tar.gz", "plain"]) == ["dir__photo", "x.tar", "plain"]
    ids = unique_ids(["a.jpg", "a.png"])
    assert ids[0].startswith("a-") and ids[1].startswith("a-") and ids[0] != ids[1]


def test_sanitize_refuses_nothing_left():
    with pytest.raises(ColorbenchError):
        sanitize_id("../..")


def test_duplicate_pair_ids_are_refused():
    with pytest.raises(ColorbenchError, match="share the id"):
        make_table([{"pair_id": "x"}, {"pair_id": "x"}])


def test_split_id_depends_on_content_and_params():
    table = make_table([{"pair_id": "a-r1", "distance": 0.5}, {"pair_id": "a-s1", "tps_seed": 7}])
    base = compute_split_id(table, {"seed": 0})
    same = make_table([{"pair_id": "a-r1", "distance": 0.5}, {"pair_id": "a-s1", "tps_seed": 7}])
    assert base == compute_split_id(same, {"seed": 0})
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
    from tests.helpers import assert_one_line_error

    table = make_table([{"pair_id": "a-r1", "distance": 0.5}, {"pair_id": "b-r1", "distance": 0.25}])
    path = _saved(table, tmp_path / "good.parquet")
    assert load_split(path).table["pair_id"].tolist() == ["a-r1", "b-r1"]
    table.loc[1, "pair_id"] = bad_id
    path = _saved(table, tmp_path / "edited.parquet")
    with pytest.raises(ColorbenchError, match=re.escape(message)):
        load_split(path)
    assert_one_line_error(cli("baseline", "gray", "--split", path, "--out", tmp_path / "out"), "edited.parquet",
                          "rebuild")
    assert not (tmp_path / "out").exists()


def _saved(table, path):
    """A split of ``table`` with a split_id consistent with it (as a builder would stamp it)."""
    from bench.core.splits import Split, hashed_meta
    from pairing.assemble import new_meta

    meta = new_meta("folder", "image", {}, {"images": ".", "pool": "."}, {})
    return Split(table, {**meta, "split_id": compute_split_id(table, hashed_meta(meta))}).save(path)


def test_an_edited_table_is_refused_never_passed_off_under_its_old_id(tmp_path, cli):
    """Editing a saved split's table (here: a distance) without rebuilding changes what its id stands for."""
    import pyarrow.parquet as pq

    from tests.helpers import assert_one_line_error

    path = _saved(make_table([{"pair_id": "a-r1", "distance": 0.5}, {"pair_id": "b-r1", "distance": 0.25}]),
                  tmp_path / "split.parquet")
    original = load_split(path)
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.loc[0, "distance"] = 0.1
    edited = pa_table = __import__("pyarrow").Table.from_pandas(frame, schema=table.schema, preserve_index=False)
    pq.write_table(pa_table.replace_schema_metadata(table.schema.metadata), path)
    assert edited.num_rows == 2
    with pytest.raises(ColorbenchError, match=rf"split file .*split.parquet was changed after it was built .*says "
                                              rf"{original.split_id}"):
        load_split(path)
    assert_one_line_error(cli("baseline", "gray", "--split", path, "--out", tmp_path / "out"), "split.parquet",
                          "changed after it was built")


@pytest.mark.parametrize("column", ["target_path", "reference_path"])
def test_paths_outside_the_root_are_refused_on_load(tmp_path, column):
    """A target_path of ../../../etc/passwd is never read: the error says it is outside its root."""
    path = _saved(make_table([{"pair_id": "a-r1", "target_path": "a.png", "reference_path": "b.png"}]),
                  tmp_path / "split.parquet")
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.loc[0, column] = "../../../etc/passwd"
    pq.write_table(__import__("pyarrow").Table.from_pandas(frame, schema=table.schema, preserve_index=False)
                   .replace_schema_metadata(table.schema.metadata), path)
    with pytest.raises(ColorbenchError, match=rf"pair a-r1 has {column} '../../../etc/passwd', which is not inside "
                                              "its root"):
        load_split(path)


def test_has_references_and_a_mixed_table_is_refused(tmp_path):
    from bench.core.splits import NO_REFERENCE, REFERENCE_KINDS

    assert NO_REFERENCE == "none" and NO_REFERENCE in REFERENCE_KINDS
    free_rows = [{"pair_id": "a", "target_id": "a", "reference_kind": "none"},
                 {"pair_id": "b", "target_id": "b", "reference_kind": "none"}]
    free = load_split(_saved(make_table(free_rows), tmp_path / "free.parquet"))
    assert free.has_references is False
    assert free.table["reference_path"].isna().all() and free.table["rank"].isna().all()  # nulls round-trip
    assert free.no_references_note() == f"split {free.split_id} has no references (built by folder)"
    referenced = load_split(_saved(make_table([{"pair_id": "a-r1", "reference_kind": "retrieved", "rank": 1}]),
                                   tmp_path / "referenced.parquet"))
    assert referenced.has_references is True
    mixed = make_table([*free_rows[:1], {"pair_id": "b-r1", "target_id": "b", "reference_kind": "retrieved"}])
    with pytest.raises(ColorbenchError, match=r"mixed.parquet mixes reference-free rows \(pair a\) with referenced"):
        load_split(_saved(mixed, tmp_path / "mixed.parquet"))
