import datasets
import numpy as np
import pandas as pd
import pytest

from pairing import (
    ReferenceSampler,
    build_image_level,
    build_object_level,
    to_hf_dataset,
)


@pytest.fixture(scope="module")
def split(tiny_coco):
    return build_image_level(tiny_coco[0], features="histogram", top_k=3, synthetic=2, workers=0, progress=False)


def test_one_reference_per_target_per_epoch(split):
    sampler = ReferenceSampler(split, seed=0)
    rows = list(sampler)
    assert len(rows) == len(sampler) == split.table.target_id.nunique()
    assert split.table.iloc[rows].target_id.is_unique


def test_synthetic_share_follows_p_synthetic(split):
    kinds = []
    sampler = ReferenceSampler(split, p_synthetic=0.25, seed=1)
    for epoch in range(400):
        sampler.set_epoch(epoch)
        kinds += split.table.iloc[list(sampler)].reference_kind.tolist()
    share = np.mean(np.array(kinds) == "synthetic")
    assert abs(share - 0.25) < 0.03
    never = ReferenceSampler(split, p_synthetic=0.0)
    always = ReferenceSampler(split, p_synthetic=1.0)
    assert set(split.table.iloc[list(never)].reference_kind) == {"retrieved"}
    assert set(split.table.iloc[list(always)].reference_kind) == {"synthetic"}


def test_deterministic_per_epoch(split):
    a, b = ReferenceSampler(split, seed=5), ReferenceSampler(split, seed=5)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)
    with pytest.raises(ValueError):
        ReferenceSampler(split, p_synthetic=1.5)


def test_object_level_samples_per_object(tiny_coco):
    objects = build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, workers=0, progress=False)
    rows = list(ReferenceSampler(objects))
    assert len(rows) == objects.table.target_ann_id.nunique()


def test_loads_with_datasets_and_converts(split, tmp_path):
    path = split.save(tmp_path / "split.parquet")
    loaded = datasets.load_dataset("parquet", data_files=str(path), split="train",
                                   cache_dir=str(tmp_path / "hf_cache"))
    assert loaded.num_rows == len(split.table)
    assert loaded["pair_id"] == split.table.pair_id.tolist()
    assert loaded.column_names == list(split.table.columns)
    hf = to_hf_dataset(split)
    assert hf.to_pandas().pair_id.tolist() == split.table.pair_id.tolist()
    assert split.split_id in hf.info.description
    pd.testing.assert_series_equal(hf.to_pandas().distance, split.table.distance, check_names=False)


def test_a_reference_free_split_is_refused_for_exemplar_training(tiny_coco):
    from bench.core.errors import ColorbenchError

    free = build_image_level(tiny_coco[0], references=0, workers=0, progress=False)
    with pytest.raises(ColorbenchError, match=rf"split {free.split_id} has no references \(built with --references 0\)"
                                              "; train exemplar-based models on a split with references"):
        ReferenceSampler(free)
    assert len(to_hf_dataset(free)) == 7  # it still publishes: targets only
