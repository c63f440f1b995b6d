"""Tiny training set-ups: the tests' small COCO set as splits, and a tiny MSA that trains in seconds."""

from __future__ import annotations

import json

import pytest

from reference_models.superattention.config import MSAConfig

#: MSA's tiny variant, as a config file's model table
TINY_MSA = json.loads(json.dumps(MSAConfig.tiny().as_dict()))
#: batch 2, no workers, checkpoints and log rows every step, no LPIPS network (its own tests cover it)
TINY = {"batch_size": 2, "workers": 0, "checkpoint_every": 1, "log_every": 1, "model": TINY_MSA,
        "task": {"loss": {"lpips_weight": 0}}}


@pytest.fixture(scope="session")
def training_splits(tiny_coco, tmp_path_factory):
    """``(image_split_path, object_split_path)`` on the tests' small COCO set."""
    from pairing import build_image_level, build_object_level

    folder = tmp_path_factory.mktemp("training-splits")
    image = build_image_level(tiny_coco[0], features="histogram", top_k=1, synthetic=1, workers=0, progress=False)
    objects = build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, workers=0, progress=False)
    return image.save(folder / "image.parquet"), objects.save(folder / "object.parquet")


@pytest.fixture
def tiny_config(tmp_path):
    """A config file of the tiny training set-up."""
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path
