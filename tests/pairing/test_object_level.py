import json

import numpy as np
import pandas as pd
import pytest

from bench.core.coco import decode_rle, load_coco
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.synthetic import warp_mask
from pairing import build_object_level, load_split


@pytest.fixture(scope="module")
def split(tiny_coco):
    images, annotations, _ = tiny_coco
    return build_object_level(images, annotations, refs=1, synthetic=2, seed=3, workers=0, progress=False)


def test_coverage_comes_from_the_decoded_mask(split, tiny_coco):
    facts = tiny_coco[2]
    targets = set(split.table["target_ann_id"].astype(int))
    # 101 (31%) qualifies and 102 (exactly 29%) does not; 103's area field says 10% but its mask
    # covers 40%; 104's area field says 60% but its mask covers 20%; the crowd (301) never counts.
    assert 102 not in targets and 104 not in targets and 301 not in targets and 203 not in targets
    assert {101, 103, 201, 202} <= targets
    assert targets <= facts["qualifying"]


def test_filtered_images_give_no_objects(split):
    assert 501 not in set(split.table["target_ann_id"].astype(int))  # on the grayscale image
    counts = split.meta["report"]["counts"]
    assert counts["target dropped: grayscale"] == 1
    assert counts["target dropped: small"] == 1
    assert counts["target dropped: near-monochrome"] == 1
    assert counts["objects skipped: crowd"] == 1


def test_references_are_same_category_objects_from_other_images(split):
    table = split.table
    retrieved = table[table.reference_kind == "same-class"]
    assert len(retrieved) == table.target_ann_id.nunique()  # refs=1
    coco_cat = dict(zip(table.target_ann_id.astype(int), table.category_id.astype(int)))
    for row in retrieved.itertuples():
        assert row.reference_id != row.target_id
        assert coco_cat[int(row.reference_ann_id)] == row.category_id


def test_a_category_without_partners_is_skipped_and_counted(split):
    assert 401 not in set(split.table["target_ann_id"].astype(int))  # the lone bird
    counts = split.meta["report"]["counts"]
    assert counts["targets skipped: category 'bird' has too few qualifying objects in other images for --refs 1"] == 1


def test_masks_are_the_objects_and_synthetic_masks_are_warped(split, tiny_coco):
    coco = load_coco(tiny_coco[1])
    for row in split.table.itertuples():
        target_mask = decode_rle(row.target_mask)
        np.testing.assert_array_equal(target_mask, coco.annToMask(coco.anns[int(row.target_ann_id)]).astype(bool))
        if row.reference_kind == "synthetic":
            assert row.reference_ann_id == row.target_ann_id and row.reference_path == ""
            np.testing.assert_array_equal(decode_rle(row.reference_mask), warp_mask(target_mask, int(row.tps_seed)))
        else:
            ref = coco.annToMask(coco.anns[int(row.reference_ann_id)]).astype(bool)
            np.testing.assert_array_equal(decode_rle(row.reference_mask), ref)


def test_deterministic_and_seed_dependent(split, tiny_coco, tmp_path):
    images, annotations, _ = tiny_coco
    again = build_object_level(images, annotations, refs=1, synthetic=2, seed=3, workers=0, progress=False)
    pd.testing.assert_frame_equal(split.table, again.table)
    assert split.split_id == again.split_id
    split.save(tmp_path / "a.parquet")
    again.save(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    other = build_object_level(images, annotations, refs=1, synthetic=2, seed=4, workers=0, progress=False)
    assert other.split_id != split.split_id


def test_num_targets_subsamples(tiny_coco):
    images, annotations, _ = tiny_coco
    sub = build_object_level(images, annotations, refs=1, synthetic=0, num_targets=3, workers=0, progress=False)
    assert sub.table.target_ann_id.nunique() <= 3
    with pytest.raises(ColorbenchError, match="--num-targets 50 but only"):
        build_object_level(images, annotations, num_targets=50, workers=0, progress=False)


def test_too_many_refs_leaves_nothing_and_says_why(tiny_coco):
    images, annotations, _ = tiny_coco
    with pytest.raises(ColorbenchError, match="would be empty.*too few qualifying objects"):
        build_object_level(images, annotations, refs=5, workers=0, progress=False)


def test_min_area_is_configurable(tiny_coco):
    images, annotations, _ = tiny_coco
    low = build_object_level(images, annotations, refs=1, synthetic=0, min_area=0.25, workers=0, progress=False)
    assert 102 in set(low.table.target_ann_id.astype(int))


def test_missing_image_is_an_error_naming_it_or_a_counted_skip(coco_copy):
    images, annotations, _ = coco_copy
    (images / "000000000003.jpg").unlink()
    with pytest.raises(ImageReadError, match="000000000003.jpg"):
        build_object_level(images, annotations, refs=1, workers=0, progress=False)
    split = build_object_level(images, annotations, refs=1, workers=0, progress=False, skip_unreadable=True)
    assert split.meta["report"]["counts"]["target dropped: unreadable"] == 1
    assert 103 not in set(split.table.target_ann_id.astype(int))


def test_size_mismatch_with_annotations_is_an_error(coco_copy):
    images, annotations, _ = coco_copy
    data = json.loads(annotations.read_text())
    data["images"][0]["width"] = 999
    annotations.write_text(json.dumps(data))
    with pytest.raises(ColorbenchError, match="000000000001.jpg is 400x256 but the annotation file says 999x256"):
        build_object_level(images, annotations, refs=1, workers=0, progress=False)


def test_saved_split_round_trips(split, tmp_path):
    path = split.save(tmp_path / "objects.parquet")
    loaded = load_split(path)
    pd.testing.assert_frame_equal(loaded.table, split.table)
    assert loaded.meta == split.meta == json.loads((tmp_path / "objects.json").read_text())
