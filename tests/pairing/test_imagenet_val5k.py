"""The imagenet-val5k builder (CT2's and DDColor's ImageNet test set) on a tiny fake val folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.splits import load_split
from bench.pairs_io import load_sources
from pairing.builders.imagenet_val5k import SOURCE, build_imagenet_val5k
from tests.helpers import assert_one_line_error

OPTIONS = {"workers": 0, "progress": False}


def _ct2_names(count: int) -> list[str]:
    """CT2's load_filenames for split 'val', spelled as its source spells it."""
    return ["ILSVRC2012_val_" + str(val_index).zfill(8) + ".JPEG" for val_index in range(1, count + 1)]


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    """A flat val folder: ILSVRC2012_val_00000001..6.JPEG (small random JPEGs, one gray, one tiny)
    plus decoys that must never be taken."""
    root = tmp_path_factory.mktemp("val")
    rng = np.random.default_rng(0)
    for index in range(6, 0, -1):  # written in reverse: the order must come from the names, not the disk
        pixels = rng.integers(0, 256, size=(40 + index, 56, 3), dtype=np.uint8)
        if index == 2:
            pixels = pixels.mean(axis=2, keepdims=True).repeat(3, axis=2).astype(np.uint8)  # a training filter's drop
        Image.fromarray(pixels).save(root / f"ILSVRC2012_val_{index:08d}.JPEG", quality=90)
    shutil.copy(root / "ILSVRC2012_val_00000001.JPEG", root / "ILSVRC2012_val_00000000.JPEG")  # index 0: not CT2's
    shutil.copy(root / "ILSVRC2012_val_00000001.JPEG", root / "aaa_decoy.JPEG")
    return root


def test_takes_ct2s_files_in_ct2s_order_as_a_reference_free_split(val, tmp_path):
    split = build_imagenet_val5k(val, count=5, **OPTIONS)
    table = split.table
    expected = [name[:-len(".JPEG")] for name in _ct2_names(5)]
    assert list(table["target_id"]) == expected  # ids and order exactly CT2's (no 0, no 6, no decoy)
    assert list(table["pair_id"]) == expected  # outputs are <id>.png, as automatic methods name them
    assert list(table["target_path"]) == _ct2_names(5)
    assert (table["reference_kind"] == "none").all()
    for column in ("reference_id", "reference_path", "reference_sha256", "rank", "tps_seed"):
        assert table[column].isna().all(), column
    assert table["distance"].isna().all()
    assert list(table["target_height"]) == [41, 42, 43, 44, 45]  # the gray one is kept: no filters on a test set
    assert split.has_references is False
    meta = split.meta
    assert meta["builder"] == "imagenet-val5k" and meta["features"] is None
    assert meta["params"]["count"] == 5 and meta["params"]["source"] == SOURCE
    assert meta["params"]["source"] == "shuchenweng/CT2 segm/data/coco.py load_filenames"
    assert meta["unread_targets"] is None

    loaded = load_split(split.save(tmp_path / "val5k.parquet"))
    assert loaded.split_id == split.split_id and loaded.has_references is False
    assert build_imagenet_val5k(val, count=5, **OPTIONS).split_id == split.split_id  # deterministic
    assert build_imagenet_val5k(val, count=4, **OPTIONS).split_id != split.split_id

    # what a method and the scorer get for a pair: the target, and no reference
    row = next(iter(loaded.table.to_dict("records")))
    item = load_sources(row, loaded.root("images"), loaded.root("pool"), loaded.recipe, object_level=False)
    assert item["reference"] is None and item["gt"].shape == (41, 56, 3)


def test_val_sorted_into_class_folders_gives_the_same_split(val, tmp_path):
    nested = tmp_path / "val"
    for index, name in enumerate(_ct2_names(5)):
        (nested / f"n0100000{index % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copy(val / name, nested / f"n0100000{index % 2}" / name)
    flat, classes = build_imagenet_val5k(val, count=5, **OPTIONS), build_imagenet_val5k(nested, count=5, **OPTIONS)
    assert list(classes.table["target_id"]) == list(flat.table["target_id"])
    assert list(classes.table["target_sha256"]) == list(flat.table["target_sha256"])
    assert classes.table["target_path"].iloc[1] == "n01000001/ILSVRC2012_val_00000002.JPEG"


def test_a_missing_file_is_named_with_the_count_or_left_out_with_a_warning(val, tmp_path, capsys):
    partial = tmp_path / "val"
    shutil.copytree(val, partial)
    (partial / "ILSVRC2012_val_00000003.JPEG").unlink()
    (partial / "ILSVRC2012_val_00000004.JPEG").unlink()
    with pytest.raises(ImageReadError) as info:
        build_imagenet_val5k(partial, count=5, **OPTIONS)
    message = str(info.value)
    assert "ILSVRC2012_val_00000003.JPEG" in message and "2 of the first 5" in message and "\n" not in message

    split = build_imagenet_val5k(partial, count=5, skip_unreadable=True, **OPTIONS)
    warning = capsys.readouterr().err
    assert "warning: 2 of the 5" in warning and "ILSVRC2012_val_00000003, ILSVRC2012_val_00000004" in warning
    assert split.meta["unread_targets"] == {"count": 2, "listed": 5,
                                            "first": ["ILSVRC2012_val_00000003", "ILSVRC2012_val_00000004"]}
    assert list(split.table["target_id"]) == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002",
                                              "ILSVRC2012_val_00000005"]


def test_bad_count_and_folder(val, tmp_path):
    with pytest.raises(ColorbenchError, match="--count must be between 1 and 50000"):
        build_imagenet_val5k(val, count=50_001, **OPTIONS)
    with pytest.raises(ColorbenchError, match="does not exist"):
        build_imagenet_val5k(tmp_path / "nowhere", count=5, **OPTIONS)


def test_cli(val, tmp_path, cli, empty_torch_home):
    out = tmp_path / "val5k.parquet"
    result = cli("pairs", "imagenet-val5k", "--images", val, "--out", out, "--count", "5", "--workers", "0")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["num_pairs"] == sidecar["num_targets"] == 5 and "reference-free" in result.stdout
    assert sidecar["split_id"] in result.stdout
    # options of the referenced builders are refused, not silently ignored
    assert_one_line_error(cli("pairs", "imagenet-val5k", "--images", val, "--out", tmp_path / "x.parquet",
                              "--top-k", "1"), "--top-k does not apply to the imagenet-val5k builder")
    assert_one_line_error(cli("pairs", "imagenet-val5k", "--images", val, "--out", tmp_path / "x.parquet",
                              "--no-filters"), "--no-filters does not apply to the imagenet-val5k builder")
    assert_one_line_error(cli("pairs", "folder", "--images", val, "--out", tmp_path / "x.parquet", "--count", "5"),
                          "--count does not apply to the folder builder")
