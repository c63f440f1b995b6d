import shutil

import numpy as np
import pandas as pd
import pytest

from bench.core.errors import ColorbenchError, MissingWeightsError
from pairing import FilterSettings, build_folder, build_image_level
from pairing.collection import folder_collection
from pairing.describe import FeatureSettings, describe


def build(images, **options):
    options = {"features": "histogram", "workers": 0, "progress": False, **options}
    return build_image_level(images, **options)


def test_top_k_references_never_the_target_itself(tiny_coco):
    images, annotations, _ = tiny_coco
    split = build(images, annotations=annotations, top_k=3, synthetic=2)
    table = split.table
    per_target = table.groupby("target_id").reference_kind.value_counts().unstack()
    assert (per_target["retrieved"] == 3).all() and (per_target["synthetic"] == 2).all()
    retrieved = table[table.reference_kind == "retrieved"]
    assert (retrieved.reference_id != retrieved.target_id).all()
    ranks = retrieved.groupby("target_id")["distance"].apply(lambda d: bool(np.all(np.diff(d.to_numpy()) >= 0)))
    assert ranks.all()
    assert table.target_id.nunique() == 7  # 10 images, gray / small / mono dropped
    assert table.category_id.notna().any()  # COCO images get their dominant category


def test_ranking_is_exact_l2_on_the_descriptors(tiny_coco):
    images, _, _ = tiny_coco
    split = build(images, top_k=2, synthetic=0)
    folder = folder_collection(images)
    description = describe(folder, FeatureSettings("histogram"), workers=0, progress=False)
    index = description.index()
    kept = [i for i, e in enumerate(folder.entries) if e.image_id not in ("gray", "small", "mono")]
    for target_id, rows in split.table.groupby("target_id"):
        t = index[target_id]
        query = description.features[t].astype(np.float64)
        distances = {folder.entries[p].image_id: float(np.linalg.norm(query - description.features[p]))
                     for p in kept if p != t}
        expected = sorted(distances, key=lambda k: (round(distances[k], 6), k))[:2]
        assert rows.reference_id.tolist() == expected
        np.testing.assert_allclose(rows.distance.to_numpy(), [distances[k] for k in expected], rtol=1e-5)


def test_byte_identical_copy_and_near_duplicates_are_excluded(tmp_path, tiny_coco):
    images = tmp_path / "images"
    shutil.copytree(tiny_coco[0], images)
    shutil.copy(images / "000000000001.jpg", images / "copy_of_1.jpg")
    split = build(images, top_k=2, synthetic=0)
    refs = split.table.set_index("target_id").reference_id
    assert "copy_of_1" not in refs.loc[["000000000001"]].tolist()
    assert "000000000001" not in refs.loc[["copy_of_1"]].tolist()
    loose = build(images, top_k=2, synthetic=0, near_duplicate=0.0)
    assert "copy_of_1" not in loose.table.set_index("target_id").reference_id.loc[["000000000001"]].tolist()


def test_filters_are_counted_and_can_be_turned_off(tiny_coco):
    images, _, _ = tiny_coco
    split = build(images, top_k=1, synthetic=0)
    counts = split.meta["report"]["counts"]
    assert (counts["target dropped: grayscale"], counts["target dropped: small"],
            counts["target dropped: near-monochrome"]) == (1, 1, 1)
    everything = build(images, top_k=1, synthetic=0, filters=FilterSettings(enabled=False))
    assert everything.table.target_id.nunique() == 10
    smaller = build(images, top_k=1, synthetic=0, filters=FilterSettings(min_size=100))
    assert "small" in set(smaller.table.target_id)


def test_evaluation_protocol_one_pair_per_target(tiny_coco):
    split = build(tiny_coco[0], top_k=1, synthetic=0)
    assert len(split.table) == split.table.target_id.nunique() == 7


def test_k_larger_than_pool_is_an_error(tiny_coco):
    with pytest.raises(ColorbenchError, match="--top-k 7 but the reference pool has only 6"):
        build(tiny_coco[0], top_k=7)


def test_separate_pool_and_seeded_subset(tiny_coco, tmp_path):
    images, _, _ = tiny_coco
    pool = tmp_path / "pool"
    pool.mkdir()
    for name in ["000000000001.jpg", "000000000002.png", "000000000003.jpg"]:
        shutil.copy(images / name, pool / name.replace("0000000000", "p"))
    split = build(images, pool_images=pool, top_k=2, synthetic=1, num_targets=4, seed=1)
    assert split.table.target_id.nunique() == 4
    retrieved = split.table[split.table.reference_kind == "retrieved"]
    assert set(retrieved.reference_id) <= {"p01", "p02", "p03"}
    # the pool holds byte-identical copies of three targets: never their own reference
    copies = {"000000000001": "p01", "000000000002": "p02", "000000000003": "p03"}
    assert set(retrieved.target_id) & set(copies)
    for row in retrieved.itertuples():
        assert row.reference_id != copies.get(row.target_id)
    assert split.meta["params"]["same_pool"] is False and split.meta["roots"]["pool"] == str(pool.resolve())
    again = build(images, pool_images=pool, top_k=2, synthetic=1, num_targets=4, seed=1)
    assert again.split_id == split.split_id
    assert build(images, pool_images=pool, top_k=2, synthetic=1, num_targets=4, seed=2).table.target_id.tolist() != \
        split.table.target_id.tolist()


def test_vgg19_ranking_with_the_real_loading_code(tiny_coco, random_weights):
    random_weights("vgg19")
    images, _, _ = tiny_coco
    split = build_image_level(images, top_k=2, synthetic=0, workers=0, progress=False, batch_size=4)
    features = split.meta["features"]
    assert features["name"] == "vgg19" and features["layer"] == "relu5_4"
    assert features["weights"]["file"] == "vgg19-dcbb9e9d.pth" and len(features["weights"]["sha256"]) == 64
    assert split.table.distance.notna().all() and (split.table.distance > 0).all()
    fc6 = build_image_level(images, top_k=1, synthetic=0, layer="fc6", workers=0, progress=False)
    assert fc6.meta["features"]["layer"] == "fc6" and fc6.split_id != split.split_id


def test_missing_vgg19_names_the_file(tiny_coco, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(MissingWeightsError, match="vgg19-dcbb9e9d.pth"):
        build_image_level(tiny_coco[0], top_k=1, workers=0, progress=False)


def test_features_are_cached_by_content(tiny_coco, monkeypatch):
    images, _, _ = tiny_coco
    first = build(images, top_k=2, synthetic=1)
    import pairing.describe as features

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached collection must not be decoded again")

    monkeypatch.setattr(features, "data_loader", no_decoding)
    second = build(images, top_k=2, synthetic=1)
    pd.testing.assert_frame_equal(first.table, second.table)
    assert first.split_id == second.split_id


def test_changed_image_content_is_not_served_from_cache(coco_copy):
    images, _, _ = coco_copy
    before = build(images, top_k=1, synthetic=0)
    from PIL import Image

    from tests.helpers import colour_image

    Image.fromarray(colour_image(99)).save(images / "000000000002.png")
    after = build(images, top_k=1, synthetic=0)
    assert before.split_id != after.split_id
    assert before.table.set_index("target_id").target_sha256["000000000002"] != \
        after.table.set_index("target_id").target_sha256["000000000002"]


def test_folder_builder_is_image_level_among_its_own(tiny_coco):
    split = build_folder(tiny_coco[0], features="histogram", top_k=1, synthetic=1, workers=0, progress=False)
    assert split.meta["builder"] == "folder" and split.level == "image"
    with pytest.raises(ColorbenchError, match="use image-level"):
        build_folder(tiny_coco[0], pool_images=tiny_coco[0])


def test_unicode_file_names_pair_and_colliding_ids_are_told_apart(tmp_path):
    """A folder of CJK names (both became id "_" before) and two files that sanitise alike."""
    from PIL import Image

    from tests.helpers import colour_image

    for i, name in enumerate(["写真.png", "犬.png", "a b.png", "a?b.png"]):
        Image.fromarray(colour_image(i)).save(tmp_path / name)
    split = build_folder(tmp_path, features="histogram", top_k=1, synthetic=0, workers=0, progress=False)
    ids = sorted(split.table.target_id)
    assert ids[2:] == ["写真", "犬"]
    assert ids[0].startswith("a_b-") and ids[1].startswith("a_b-") and ids[0] != ids[1]
    again = build_folder(tmp_path, features="histogram", top_k=1, synthetic=0, workers=0, progress=False)
    assert again.split_id == split.split_id  # deterministic


def test_each_dropped_image_is_counted_once(tmp_path):
    """An image both small and gray counts once, under its first reason: the counts add up."""
    from PIL import Image

    from tests.helpers import colour_image

    for i in range(3):
        Image.fromarray(colour_image(i)).save(tmp_path / f"ok{i}.png")
    small_gray = colour_image(9, 200, 150).mean(axis=2, keepdims=True).repeat(3, axis=2).astype(np.uint8)
    Image.fromarray(small_gray).save(tmp_path / "small_gray.png")
    split = build_folder(tmp_path, features="histogram", top_k=1, synthetic=0, workers=0, progress=False)
    dropped = {k: v for k, v in split.meta["report"]["counts"].items() if k.startswith("target dropped")}
    assert dropped == {"target dropped: small": 1}


def test_a_folder_holding_a_jpg_and_a_png_of_one_name_gives_each_its_own_id(tmp_path):
    from bench.core.splits import unique_ids

    for name in ("a.jpg", "a.png", "b.png"):
        (tmp_path / name).write_bytes(b"")
    ids = [entry.image_id for entry in folder_collection(tmp_path).entries]
    assert ids == unique_ids(["a.jpg", "a.png", "b.png"]) and ids[2] == "b" and len(set(ids)) == 3


def test_references_0_is_a_reference_free_split_that_needs_no_vgg19(tiny_coco, empty_torch_home):
    images = tiny_coco[0]
    # the default features are vgg19, and this TORCH_HOME holds no weights: no ranking may run
    split = build(images, references=0, features="vgg19")
    table = split.table
    assert len(table) == table.target_id.nunique() == 7  # one row per target (the filters still apply)
    assert list(table.pair_id) == list(table.target_id)
    assert (table.reference_kind == "none").all() and not split.has_references
    for column in ("reference_id", "reference_path", "reference_sha256", "rank"):
        assert table[column].isna().all(), column
    assert split.meta["features"] is None
    assert (split.meta["params"]["top_k"], split.meta["params"]["synthetic"]) == (0, 0)
    referenced = build(images, top_k=1, synthetic=0)
    assert referenced.has_references and split.split_id != referenced.split_id
    assert set(referenced.table.target_id) == set(table.target_id)


def test_references_n_is_n_retrieved_and_no_synthetic(tiny_coco):
    short = build(tiny_coco[0], references=2)
    assert short.table.equals(build(tiny_coco[0], top_k=2, synthetic=0).table)
    with pytest.raises(ColorbenchError, match="drop --top-k and --synthetic"):
        build(tiny_coco[0], references=0, top_k=1)


def test_no_references_only_when_asked_for(tiny_coco):
    with pytest.raises(ColorbenchError, match="pass --references 0 instead"):
        build(tiny_coco[0], top_k=0, synthetic=0)
