"""The rows every builder writes: same columns, same ids, checksums always present."""

from __future__ import annotations

import math

import pytest

from bench.core.errors import ColorbenchError
from pairing.assemble import make_table, retrieved_row, same_class_row, synthetic_row, target_fields


def test_image_level_rows():
    target = target_fields("image", "cat", "cat.jpg", 640, 480, "a" * 64, label=3)
    rows = [retrieved_row(target, 1, "dog", "dog.jpg", "b" * 64, 0.5), synthetic_row(target, 1, 1234)]
    assert [row["pair_id"] for row in rows] == ["cat-r1", "cat-s1"]
    assert rows[0]["reference_sha256"] == "b" * 64 and rows[1]["reference_sha256"] == "a" * 64
    assert rows[1]["reference_path"] == "" and rows[1]["tps_seed"] == 1234 and math.isnan(rows[1]["distance"])
    table = make_table(rows)
    assert table["target_sha256"].notna().all() and table["reference_sha256"].notna().all()
    assert table["label"].tolist() == [3, 3]


def test_object_level_rows_carry_their_objects():
    target = target_fields("object", "cat", "cat.jpg", 64, 48, "a" * 64, category_id=17, ann_id=5, mask="{m}")
    same = same_class_row(target, 1, "other", "other.jpg", "c" * 64, ann_id=9, mask="{r}")
    synth = synthetic_row(target, 2, 77, mask="{w}")
    assert (same["pair_id"], synth["pair_id"]) == ("cat-a5-r1", "cat-a5-s2")
    assert (same["reference_ann_id"], same["reference_mask"], same["reference_kind"]) == (9, "{r}", "same-class")
    assert (synth["reference_ann_id"], synth["reference_mask"], synth["target_mask"]) == (5, "{w}", "{m}")


def test_a_row_without_a_checksum_and_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="SHA-256"):
        target_fields("image", "cat", "cat.jpg", 1, 1, "")
    target = target_fields("image", "cat", "cat.jpg", 1, 1, "a" * 64)
    with pytest.raises(ColorbenchError, match="share the id 'cat-s1'"):
        make_table([synthetic_row(target, 1, 1), synthetic_row(target, 1, 2)])
