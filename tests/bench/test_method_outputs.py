"""The one writer of a method's outputs: atomic PNGs at the target's size, the manifest, resume,
overwrite, and runs never mixed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.core.errors import ColorbenchError
from bench.core.images import read_rgb
from bench.method_outputs import MANIFEST, MethodOutputs


@pytest.fixture(scope="module")
def split(tiny_coco):
    from pairing import build_image_level

    return build_image_level(tiny_coco[0], features="histogram", top_k=1, synthetic=0, workers=0, progress=False)


def _image(split, pair_id):
    row = split.table.set_index("pair_id").loc[pair_id]
    return np.full((int(row.target_height), int(row.target_width), 3), 7, np.uint8)


def test_writes_checks_and_records(split, tmp_path):
    first, second = split.table.pair_id.iloc[:2]
    with MethodOutputs(tmp_path / "out", split, {"method": "m", "seed": 1}) as outputs:
        assert outputs.todo == split.table.pair_id.tolist() and not outputs.done
        outputs.write(first, _image(split, first))
        with pytest.raises(ColorbenchError, match=rf"m returned uint8 \(2, 2, 3\) for pair {second}; expected"):
            outputs.write(second, np.zeros((2, 2, 3), np.uint8), "m")
    assert read_rgb(tmp_path / "out" / f"{first}.png")[0, 0].tolist() == [7, 7, 7]
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["method"] == "m" and manifest["split_id"] == split.split_id


def test_resume_overwrite_and_mixing(split, tmp_path):
    first = split.table.pair_id.iloc[0]
    with MethodOutputs(tmp_path / "out", split, {"method": "m"}) as outputs:
        outputs.write(first, _image(split, first))
    with pytest.raises(ColorbenchError, match="already holds 1 outputs .*--resume.*--overwrite"):
        MethodOutputs(tmp_path / "out", split, {"method": "m"}).__enter__()
    with MethodOutputs(tmp_path / "out", split, {"method": "m"}, resume=True) as outputs:
        assert outputs.done == {first} and first not in outputs.todo
    with pytest.raises(ColorbenchError, match="outputs of another run"):
        MethodOutputs(tmp_path / "out", split, {"method": "other"}, resume=True).__enter__()
    with MethodOutputs(tmp_path / "out", split, {"method": "other"}, overwrite=True) as outputs:
        assert not outputs.done and not (tmp_path / "out" / f"{first}.png").exists()


def test_one_run_per_folder(split, tmp_path):
    with MethodOutputs(tmp_path / "out", split, {"method": "m"}):
        with pytest.raises(ColorbenchError, match="in use by another colorbench baseline run"):
            MethodOutputs(tmp_path / "out", split, {"method": "m"}, what="baseline run").__enter__()
