"""The bundled demo set: real photographs, valid COCO masks that follow the objects."""

import numpy as np
import pytest
from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

from bench.core.coco import decode_mask, load_coco
from bench.core.images import list_images, read_rgb
from bench.demo_data import demo_annotations_path, demo_images_dir

# Index = COCO category id, as torchvision's COCO detectors list them.
COCO_NAMES = FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]


@pytest.fixture(scope="module")
def coco():
    return load_coco(demo_annotations_path())


def test_every_image_is_listed_decodes_and_matches_its_size(coco):
    files = {p.name for p in list_images(demo_images_dir())}
    listed = {info["file_name"] for info in coco.dataset["images"]}
    assert files == listed and len(files) >= 7
    for info in coco.dataset["images"]:
        rgb = read_rgb(demo_images_dir() / info["file_name"])
        assert rgb.shape == (info["height"], info["width"], 3)
        assert min(rgb.shape[:2]) >= 256  # passes the default small-image filter
        assert np.ptp(rgb.astype(int), axis=2).mean() > 5  # real colour, not gray


def test_categories_are_real_coco_categories(coco):
    for category in coco.dataset["categories"]:
        assert COCO_NAMES[category["id"]] == category["name"]


def test_masks_follow_outlines_not_boxes(coco):
    assert len(coco.dataset["annotations"]) >= 6
    for ann in coco.dataset["annotations"]:
        mask = decode_mask(coco, ann)
        image = coco.imgs[ann["image_id"]]
        assert mask.shape == (image["height"], image["width"]) and mask.any()
        assert ann["iscrowd"] == 0
        rows, cols = np.nonzero(mask)
        box_area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert mask.sum() / box_area < 0.9, f"annotation {ann['id']} fills its box: a box, not an outline"
        x, y, w, h = ann["bbox"]
        assert abs(x - cols.min()) <= 1 and abs(y - rows.min()) <= 1
        assert abs(ann["area"] - mask.sum()) / mask.sum() < 0.02


def test_object_level_splits_can_be_built(coco):
    """At least one category has large (> 30%) objects in two different images."""
    images_per_category: dict[int, set] = {}
    for ann in coco.dataset["annotations"]:
        if decode_mask(coco, ann).mean() > 0.30:
            images_per_category.setdefault(ann["category_id"], set()).add(ann["image_id"])
    assert max(len(ids) for ids in images_per_category.values()) >= 2
