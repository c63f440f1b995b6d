"""Test-wide isolation: a temporary TORCH_HOME, offline mode, and random stand-in weights.

Every test runs with ``TORCH_HOME`` pointing at a session-wide temporary folder and with
downloads forbidden, so no test can touch the user's cache or the network. Tests that need a
network ask for it with the ``random_weights`` fixture, which writes randomly initialised
(BatchNorm-calibrated) weights under the exact file names the libraries expect; the real
loading code then runs unchanged. Numbers from these weights are never results.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from bench.core.weights import OFFLINE_ENV
from bench.testing import write_random_weights
from tests.helpers import (
    HEIGHT,
    WIDTH,
    colour_image,
    columns_mask,
    polygon,
    rle,
    run_colorbench,
    uncompressed_rle,
)


@pytest.fixture(scope="session")
def torch_home(tmp_path_factory):
    """The session's temporary TORCH_HOME folder (weights are added on demand)."""
    return tmp_path_factory.mktemp("torch_home")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, torch_home):
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def build_offline(torch_home):
    """``build_offline(names, build)``: write the random stand-ins for ``names``, then call
    ``build()`` under the session's offline TORCH_HOME. For module-scoped fixtures that load a
    network once per file; they cannot use the per-test environment above."""

    def build_with(names, build):
        write_random_weights(torch_home, names)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TORCH_HOME", str(torch_home))
            patch.setenv(OFFLINE_ENV, "1")
            return build()

    return build_with


@pytest.fixture
def random_weights(torch_home):
    """Call with network names (see ``bench.core.weights.WEIGHTS``) to have their random
    stand-ins present in the temporary TORCH_HOME; returns the file paths."""

    def ensure(*names: str):
        return write_random_weights(torch_home, names)

    return ensure



@pytest.fixture
def cli():
    """``cli(*args)`` runs the colorbench command in a subprocess and returns the result."""
    return run_colorbench


@pytest.fixture
def empty_torch_home(monkeypatch, tmp_path):
    """A TORCH_HOME of this test's own, holding no weights at all (the session one may)."""
    home = tmp_path / "empty_torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


# Small COCO-format data made by the tests: masks at exactly 29% and 31% coverage, crowd
# annotations, polygon and RLE masks, an ``area`` field that disagrees with the mask, and images
# that the filters must drop (grayscale, small, near-monochrome).


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory):
    """``(images_dir, annotations_path, facts)`` for a 10-image COCO-format set."""
    root = tmp_path_factory.mktemp("tiny_coco")
    images_dir = root / "images"
    images_dir.mkdir()
    images, annotations = [], []

    def add_image(image_id: int, name: str, pixels: np.ndarray) -> None:
        Image.fromarray(pixels).save(images_dir / name)
        images.append({"id": image_id, "file_name": name, "width": pixels.shape[1], "height": pixels.shape[0]})

    def add_ann(ann_id, image_id, category, segmentation, area, iscrowd=0):
        annotations.append({"id": ann_id, "image_id": image_id, "category_id": category, "segmentation": segmentation,
                            "area": area, "bbox": [0, 0, 1, 1], "iscrowd": iscrowd})

    for i in range(1, 8):
        add_image(i, f"{i:012d}.jpg" if i % 2 else f"{i:012d}.png", colour_image(i))
    # cats (17): image 1 at exactly 31% (RLE), image 2 at exactly 29% (RLE, must NOT qualify),
    # image 3 at 40% by polygon but an `area` field claiming 10%, image 4 at 20% by mask but an
    # `area` claiming 60% (must NOT qualify).
    add_ann(101, 1, 17, rle(columns_mask(10, 124)), 31744.0)
    add_ann(102, 2, 17, rle(columns_mask(50, 116)), 29696.0)
    add_ann(103, 3, 17, polygon(0, 0, 160, 256), 10240.0)
    add_ann(104, 4, 17, uncompressed_rle(columns_mask(0, 80)), 61440.0)
    # dogs (18): two large polygon objects in images 5 and 6, one small one in image 7.
    add_ann(201, 5, 18, polygon(100, 0, 340, 256), 61440.0)
    add_ann(202, 6, 18, polygon(0, 28, 300, 228), 60000.0)
    add_ann(203, 7, 18, polygon(0, 0, 40, 40), 1600.0)
    # a crowd of people (1) covering 70% of image 7: crowds never qualify.
    add_ann(301, 7, 1, uncompressed_rle(columns_mask(100, 280)), 71680.0, iscrowd=1)
    # a lone bird (16) at 50%: its category has no other image.
    add_ann(401, 6, 16, rle(columns_mask(300, 100) | columns_mask(0, 105)), 51200.0)
    # images the filters drop
    gray = colour_image(8).mean(axis=2, keepdims=True).repeat(3, axis=2).astype(np.uint8)
    add_image(8, "gray.png", gray)
    add_image(9, "small.png", colour_image(9, 200, 150))
    mono = np.full((HEIGHT, WIDTH, 3), (200, 30, 30), np.uint8)
    mono[:40, :40] = (10, 200, 10)
    add_image(10, "mono.png", mono)
    add_ann(501, 8, 17, rle(columns_mask(0, 200)), 51200.0)

    coco = {"info": {"description": "colorbench test set"}, "licenses": [], "images": images,
            "annotations": annotations, "categories": [{"id": 1, "name": "person", "supercategory": "person"},
                                                       {"id": 16, "name": "bird", "supercategory": "animal"},
                                                       {"id": 17, "name": "cat", "supercategory": "animal"},
                                                       {"id": 18, "name": "dog", "supercategory": "animal"}]}
    annotations_path = root / "instances.json"
    annotations_path.write_text(json.dumps(coco))
    facts = {"qualifying": {101, 103, 201, 202, 401}, "filtered": {"gray": "grayscale", "small": "small",
                                                                    "mono": "near-monochrome"}}
    return images_dir, annotations_path, facts


@pytest.fixture
def coco_copy(tiny_coco, tmp_path):
    """A private, modifiable copy of the tiny COCO set."""
    images_dir, annotations_path, facts = tiny_coco
    shutil.copytree(images_dir, tmp_path / "images")
    shutil.copy(annotations_path, tmp_path / "instances.json")
    return tmp_path / "images", tmp_path / "instances.json", facts
