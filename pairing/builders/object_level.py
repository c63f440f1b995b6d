"""Object-level splits (MSA protocol): large COCO objects paired with same-category objects.

Per category, the non-crowd objects whose DECODED mask covers more than ``min_area`` of the
image (the ``area`` field is not used: it is the polygon's area and disagrees with the mask) are
the qualifying objects. Each is a target (or a seeded ``num_targets`` subset of them are); its
references are ``refs`` qualifying objects of the same category from OTHER images, drawn with a
seed, plus ``synthetic`` TPS references of the target whose mask is warped alike. A target whose
category has fewer than ``refs`` qualifying objects in other images is skipped and counted.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.core import distributed
from bench.core.coco import decode_mask, decode_rle, encode_mask
from bench.core.errors import ColorbenchError
from bench.core.synthetic import DEFAULT_RECIPE, SyntheticRecipe, derive_tps_seed, warp_mask

from ..assemble import finish_split, new_meta, same_class_row, synthetic_row, target_fields
from ..collection import FilterSettings, coco_collection
from ..describe import FeatureSettings, describe
from ..registry import register_builder
from .common import Report, kept_entries, seeded_subset

if TYPE_CHECKING:
    from bench.core.splits import Split

__all__ = ["build_object_level", "MIN_AREA"]

#: The MSA paper's object size threshold: share of the image the object's mask must exceed.
MIN_AREA = 0.30


@dataclass(frozen=True)
class _Object:
    ann_id: int
    category_id: int
    entry_index: int
    coverage: float
    rle: str


@register_builder("object-level", level="object", description=(
    "MSA's object-level split: per COCO category, non-crowd objects whose DECODED mask covers more than --min-area "
    "(0.30) of the image; --refs (3) same-category objects from other images plus --synthetic (2) TPS references "
    "(mask warped alike); SPColor's filters (grayscale, small, near-monochrome) are on by colorbench's choice, the MSA "
    "paper mentions none (--no-filters: off)"))
def build_object_level(images: str | os.PathLike, annotations: str | os.PathLike, num_targets: int | None = None,
                       refs: int = 3, synthetic: int = 2, min_area: float = MIN_AREA,
                       filters: FilterSettings = FilterSettings(), recipe: SyntheticRecipe = DEFAULT_RECIPE,
                       seed: int = 0, batch_size: int = 32, workers: int | None = None,
                       skip_unreadable: bool = False, progress: bool = True) -> Split:
    """Build an object-level split; see the module docstring. Returns the :class:`Split` (under
    ``torchrun``, on the main process; the others decode their share of the images and return None)."""
    if annotations is None:
        raise ColorbenchError("object-level splits need --annotations (a COCO instances file)")
    if refs < 0 or synthetic < 0 or refs + synthetic == 0:
        raise ColorbenchError("--refs and --synthetic must be >= 0 and not both 0")
    if not 0.0 <= min_area < 1.0:
        raise ColorbenchError(f"--min-area is a share of the image in [0, 1); got {min_area}")
    collection = coco_collection(annotations, images)
    report = Report()
    description = describe(collection, FeatureSettings(None), batch_size=batch_size, workers=workers,
                           progress=progress)
    if not distributed.world().is_main:
        return None  # under torchrun: this process's share of the decoding is cached; rank 0 assembles
    kept = kept_entries(collection, description, filters, report, "target", skip_unreadable)
    objects = _qualifying_objects(collection, description, kept, min_area, report)

    by_category: dict[int, list[_Object]] = defaultdict(list)
    for obj in objects:
        by_category[obj.category_id].append(obj)
    targets = seeded_subset(objects, num_targets, seed, "objects")
    rows = []
    for target in targets:
        entry = collection.entries[target.entry_index]
        others = [o for o in by_category[target.category_id] if o.entry_index != target.entry_index]
        name = collection.coco.cats.get(target.category_id, {}).get("name", str(target.category_id))
        if len(others) < refs:
            report.add(f"targets skipped: category '{name}' has too few qualifying objects in other images for "
                       f"--refs {refs}",
                       f"{entry.image_id}/{target.ann_id}")
            continue
        index = target.entry_index
        fields = target_fields("object", entry.image_id, entry.path, description.width[index],
                               description.height[index], description.sha256[index], category_id=target.category_id,
                               label=entry.label, ann_id=target.ann_id, mask=target.rle)
        picks = np.random.default_rng(derive_tps_seed(seed, "refs", target.ann_id)).choice(len(others), refs,
                                                                                           replace=False)
        for rank, pick in enumerate(picks, start=1):
            ref = others[pick]
            ref_entry = collection.entries[ref.entry_index]
            rows.append(same_class_row(fields, rank, ref_entry.image_id, ref_entry.path,
                                       description.sha256[ref.entry_index], ann_id=ref.ann_id, mask=ref.rle))
        mask = decode_rle(target.rle) if synthetic else None
        for n in range(1, synthetic + 1):
            tps_seed = derive_tps_seed(seed, entry.image_id, target.ann_id, n)
            rows.append(synthetic_row(fields, n, tps_seed, json.dumps(encode_mask(warp_mask(mask, tps_seed, recipe)))))
    if not rows:
        raise ColorbenchError(f"the object-level split would be empty ({report.summary()}); lower --refs or "
                              f"--min-area, or use a larger annotation set")
    report.add("targets", n=len({row["target_ann_id"] for row in rows}))
    params = {"num_targets": num_targets, "refs": refs, "synthetic": synthetic, "min_area": min_area,
              "filters": asdict(filters), "recipe": recipe.record(), "seed": seed}
    meta = new_meta("object-level", "object", params, {"images": collection.root, "pool": collection.root},
                    report.as_dict(), annotations_sha256=collection.annotations_sha256)
    return finish_split(rows, meta)


def _qualifying_objects(collection, description, kept, min_area, report) -> list[_Object]:
    coco = collection.coco
    objects = []
    for index in kept:
        entry = collection.entries[index]
        info = coco.imgs[entry.coco_id]
        width, height = int(description.width[index]), int(description.height[index])
        if (info.get("width"), info.get("height")) != (width, height):
            raise ColorbenchError(f"image {collection.file(entry)} is {width}x{height} but the annotation file says "
                                  f"{info.get('width')}x{info.get('height')} (image id {entry.coco_id}); fix the file")
        for ann in coco.imgToAnns.get(entry.coco_id, []):
            if ann.get("iscrowd", 0):
                report.add("objects skipped: crowd", str(ann["id"]))
                continue
            mask = decode_mask(coco, ann)
            coverage = float(mask.mean())
            if coverage <= min_area:
                report.add("objects skipped: not above --min-area", str(ann["id"]))
                continue
            objects.append(_Object(int(ann["id"]), int(ann["category_id"]), index, coverage,
                                   json.dumps(encode_mask(mask))))
    report.add("objects qualifying", n=len(objects))
    objects.sort(key=lambda o: o.ann_id)
    return objects

