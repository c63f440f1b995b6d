"""COCO annotation files: one-line errors for bad files, masks decoded and encoded losslessly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.core.coco import decode_mask, decode_rle, encode_mask, load_coco
from bench.core.errors import ColorbenchError
from tests.helpers import columns_mask, polygon, rle


@pytest.mark.parametrize("content, message", [(None, "does not exist"), ("{", "not valid JSON"),
                                              ('{"images": []}', "not in COCO format"),
                                              ('{"images": [{"id": 1}], "annotations": [{"id": 1}], "categories": []}',
                                               "malformed entry")])
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "instances.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ColorbenchError, match=message) as info:
        load_coco(path)
    assert "\n" not in str(info.value) and "instances.json" in str(info.value)


def test_masks_round_trip(tmp_path):
    mask = columns_mask(10, 50, width=80, height=40)
    assert np.array_equal(decode_rle(encode_mask(mask)), mask)
    assert np.array_equal(decode_rle(json.dumps(rle(mask))), mask)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "width": 80, "height": 40}],
                                "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "iscrowd": 0,
                                                 "segmentation": polygon(0, 0, 40, 40), "area": 1.0,
                                                 "bbox": [0, 0, 40, 40]}],
                                "categories": [{"id": 1, "name": "thing"}]}))
    coco = load_coco(path)
    decoded = decode_mask(coco, coco.anns[7])
    assert decoded.shape == (40, 80) and decoded.dtype == bool and 0.4 < decoded.mean() < 0.6
