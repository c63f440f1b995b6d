import importlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.core.coco import decode_rle
from bench.core.color import rgb_to_gray
from bench.core.errors import ColorbenchError
from bench.core.images import read_rgb
from bench.core.synthetic import render_synthetic
from pairing import build_image_level, build_object_level, materialize


@pytest.fixture(scope="module")
def image_split(tiny_coco):
    return build_image_level(tiny_coco[0], features="histogram", top_k=1, synthetic=1, workers=0, progress=False)


def test_image_level_round_trip(image_split, tiny_coco, tmp_path):
    csv_path = materialize(image_split, tmp_path / "out", progress=False)
    listing = pd.read_csv(csv_path)
    assert listing.pair_id.tolist() == image_split.table.pair_id.tolist()
    for row in image_split.table.itertuples():
        original = read_rgb(tiny_coco[0] / row.target_path)
        np.testing.assert_array_equal(read_rgb(tmp_path / "out" / "gt" / f"{row.pair_id}.png"), original)
        target = read_rgb(tmp_path / "out" / "targets" / f"{row.pair_id}.png")
        np.testing.assert_array_equal(target, rgb_to_gray(original))
        reference = read_rgb(tmp_path / "out" / "references" / f"{row.pair_id}.png")
        if row.reference_kind == "synthetic":
            np.testing.assert_array_equal(reference, render_synthetic(original, int(row.tps_seed)))
        else:
            np.testing.assert_array_equal(reference, read_rgb(tiny_coco[0] / row.reference_path))


def test_synthetic_references_rerender_to_identical_bytes(image_split, tmp_path):
    materialize(image_split, tmp_path / "a", progress=False)
    materialize(image_split, tmp_path / "b", progress=False)
    for path in sorted((tmp_path / "a" / "references").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / "references" / path.name).read_bytes()


def test_object_level_masks(tiny_coco, tmp_path):
    split = build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, workers=0, progress=False)
    materialize(split, tmp_path / "obj", progress=False)
    for row in split.table.itertuples():
        target_mask = read_rgb(tmp_path / "obj" / "masks" / f"{row.pair_id}_target.png")[..., 0] > 127
        reference_mask = read_rgb(tmp_path / "obj" / "masks" / f"{row.pair_id}_reference.png")[..., 0] > 127
        np.testing.assert_array_equal(target_mask, decode_rle(row.target_mask))
        np.testing.assert_array_equal(reference_mask, decode_rle(row.reference_mask))
        reference = read_rgb(tmp_path / "obj" / "references" / f"{row.pair_id}.png")
        assert reference.shape[:2] == reference_mask.shape


def test_resume_skips_written_pairs(image_split, tmp_path, monkeypatch):
    materialize(image_split, tmp_path / "out", progress=False)
    module = importlib.import_module("pairing.materialize")  # the package exports a function of that name
    monkeypatch.setattr(module, "_write_pair", lambda *a, **k: pytest.fail("resume rewrote a complete pair"))
    materialize(image_split, tmp_path / "out", resume=True, progress=False)
    first = image_split.table.pair_id.iloc[0]
    (tmp_path / "out" / "gt" / f"{first}.png").unlink()
    with pytest.raises(pytest.fail.Exception):
        materialize(image_split, tmp_path / "out", resume=True, progress=False)


def test_changed_image_is_detected(coco_copy, tmp_path):
    images, _, _ = coco_copy
    split = build_image_level(images, features="histogram", top_k=1, synthetic=0, workers=0, progress=False)
    target = split.table.target_path.iloc[0]
    Image.open(images / target).rotate(180).save(images / target)
    with pytest.raises(ColorbenchError, match="changed since the split was built"):
        materialize(split, tmp_path / "out", progress=False)


def test_moved_images_are_found_with_images_root(image_split, tiny_coco, tmp_path):
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(tiny_coco[0], moved)
    materialize(image_split, tmp_path / "out", images_root=moved, pool_root=moved, progress=False)
    assert len(list((tmp_path / "out" / "gt").iterdir())) == len(image_split.table)
