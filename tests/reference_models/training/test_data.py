"""PairData: a pair's views, each image decoded once."""

from __future__ import annotations

import numpy as np

import reference_models.training.data as data_module
from bench.core.splits import load_split
from bench.core.synthetic import render_synthetic
from reference_models.training.data import PairData


class _Task:
    """The least a task gives PairData: a view is the pixels (the same for both roles), a sample the two views."""

    view_depends_on_role = False

    def view_record(self) -> dict:
        return {"test": 1}

    def view(self, rgb, mask, role):
        return {"rgb": rgb}

    def sample(self, target_view, reference_view, rng):
        return {"target": target_view["rgb"], "reference": reference_view["rgb"]}


def test_a_synthetic_pair_decodes_its_target_once(training_splits, monkeypatch):
    split = load_split(training_splits[0])
    index = split.table.index[split.table["reference_kind"] == "synthetic"][0]
    reads = []
    real = data_module.read_checked
    monkeypatch.setattr(data_module, "read_checked", lambda *args: reads.append(args[0]) or real(*args))
    data = PairData(split, _Task(), use_masks=False, seed=0, cache=False)
    sample = data[(int(index), 0)]
    assert len(reads) == 1  # the target, read for its view and for the synthetic reference rendered from it
    row = data.rows[int(index)]
    np.testing.assert_array_equal(sample["reference"], render_synthetic(sample["target"], int(row["tps_seed"]),
                                                                        split.recipe))
