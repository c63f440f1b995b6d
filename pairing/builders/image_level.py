"""Image-level splits (MSA protocol): VGG19-ranked references plus TPS synthetic ones.

For each target: the ``top_k`` pool images nearest in L2 between ranking descriptors of the
gray images (the target itself, byte-identical copies and near-duplicates excluded, see
:data:`pairing.knn.NEAR_DUPLICATE`), then ``synthetic`` references rendered from the target.
``--top-k 1 --synthetic 0`` is the usual one-pair-per-target test protocol.

``references`` (``--references N``) is the number of references per target in one option: N
retrieved ones and no synthetic ones; ``0`` builds a *reference-free* split for automatic
colorization: one row per target (:func:`pairing.assemble.target_only_row`), no ranking at all,
so no VGG19 weights are needed.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from bench.core import distributed
from bench.core.errors import ColorbenchError
from bench.core.synthetic import DEFAULT_RECIPE, SyntheticRecipe, derive_tps_seed

from ..assemble import finish_split, new_meta, retrieved_row, synthetic_row, target_fields, target_only_row
from ..collection import Collection, FilterSettings, coco_collection, folder_collection
from ..describe import FeatureSettings, describe
from ..knn import NEAR_DUPLICATE, content_codes, knn
from ..registry import register_builder
from .common import Report, kept_entries, seeded_subset

if TYPE_CHECKING:
    from bench.core.splits import Split

__all__ = ["build_image_level", "build_folder"]

_DEFAULT_TOP_K, _DEFAULT_SYNTHETIC = 3, 2


def _dominant_categories(collection: Collection) -> dict[int, int]:
    """COCO image id -> category of its largest non-crowd object (by annotated area)."""
    if collection.coco is None:
        return {}
    best: dict[int, tuple[float, int]] = {}
    for ann in collection.coco.dataset["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        area = float(ann.get("area", 0.0))
        if ann["image_id"] not in best or area > best[ann["image_id"]][0]:
            best[ann["image_id"]] = (area, int(ann["category_id"]))
    return {image_id: category for image_id, (_, category) in best.items()}


@register_builder("image-level", level="image", description=(
    "MSA's COCO image-level split: for each target (--images, or the images of a COCO file with --annotations, or a "
    "seeded --num-targets subset) the --top-k (3) references nearest in VGG19 feature space (gray images, relu5_4 "
    "averaged over space; the target, byte-identical copies and near-duplicates excluded) from --pool-images "
    "(default: the same images), plus --synthetic (2) thin-plate-spline references; SPColor's filters (grayscale, "
    "small, near-monochrome) are on by colorbench's choice, the MSA paper mentions none (--no-filters: off)"))
def build_image_level(images: str | os.PathLike, annotations: str | os.PathLike | None = None,
                      pool_images: str | os.PathLike | None = None, num_targets: int | None = None,
                      top_k: int = _DEFAULT_TOP_K, synthetic: int = _DEFAULT_SYNTHETIC, features: str = "vgg19",
                      layer: str | None = None, filters: FilterSettings = FilterSettings(),
                      near_duplicate: float = NEAR_DUPLICATE, recipe: SyntheticRecipe = DEFAULT_RECIPE,
                      seed: int = 0, device: str = "auto", batch_size: int = 32, workers: int | None = None,
                      skip_unreadable: bool = False, progress: bool = True, references: int | None = None,
                      builder: str = "image-level") -> Split:
    """Build an image-level split; see the module docstring. Returns the :class:`Split` (under
    ``torchrun``, on the main process; the others decode their share of the images and return None)."""
    top_k, synthetic = _reference_counts(references, top_k, synthetic)
    settings = FeatureSettings(features if top_k else None, **({"layer": layer} if layer else {}))
    targets = coco_collection(annotations, images) if annotations else folder_collection(images)
    pool = folder_collection(pool_images) if pool_images else targets
    same_pool = pool is targets
    report = Report()

    target_desc = describe(targets, settings, device, batch_size, workers, progress)
    pool_desc = target_desc if same_pool else describe(pool, settings, device, batch_size, workers, progress)
    if not distributed.world().is_main:
        return None  # under torchrun: this process's share of the decoding is cached; rank 0 assembles
    kept_targets = kept_entries(targets, target_desc, filters, report, "target", skip_unreadable)
    kept_pool = kept_targets if same_pool else kept_entries(pool, pool_desc, filters, report, "pool", skip_unreadable)
    chosen = seeded_subset(kept_targets, num_targets, seed, "target images")
    if not chosen:
        raise ColorbenchError(f"no target image in {images} passes the filters ({report.summary()}); "
                              "see --min-size or --no-filters")

    neighbours = distances = None
    if top_k:
        available = len(kept_pool) - (1 if same_pool else 0)
        if top_k > available:
            raise ColorbenchError(f"--top-k {top_k} but the reference pool has only {available} usable image(s) "
                                  f"besides each target; lower --top-k or add images to the pool")
        neighbours, distances = _rank(target_desc, pool_desc, chosen, kept_pool, top_k, near_duplicate)

    categories = _dominant_categories(targets)
    rows = []
    for q, t in enumerate(chosen):
        entry = targets.entries[t]
        target = target_fields("image", entry.image_id, entry.path, target_desc.width[t], target_desc.height[t],
                               target_desc.sha256[t], category_id=categories.get(entry.coco_id), label=entry.label)
        if not top_k + synthetic:
            rows.append(target_only_row(target))
            continue
        if top_k and (neighbours[q] < 0).any():
            report.add("targets skipped: fewer references than --top-k after excluding near-duplicates",
                       entry.image_id)
            continue
        for rank in range(1, top_k + 1):
            p = kept_pool[neighbours[q, rank - 1]]
            rows.append(retrieved_row(target, rank, pool.entries[p].image_id, pool.entries[p].path,
                                      pool_desc.sha256[p], distances[q, rank - 1]))
        rows += [synthetic_row(target, n, derive_tps_seed(seed, entry.image_id, n)) for n in range(1, synthetic + 1)]
    if not rows:
        raise ColorbenchError(f"the split would be empty ({report.summary()})")
    report.add("targets", n=len({row["target_id"] for row in rows}))
    params = {"num_targets": num_targets, "top_k": top_k, "synthetic": synthetic,
              "filters": asdict(filters), "near_duplicate": near_duplicate, "recipe": recipe.record(),
              "seed": seed, "same_pool": same_pool}
    meta = new_meta(builder, "image", params, {"images": targets.root, "pool": pool.root}, report.as_dict(),
                    features=settings.record(), annotations_sha256=targets.annotations_sha256)
    return finish_split(rows, meta)


def _reference_counts(references: int | None, top_k: int, synthetic: int) -> tuple[int, int]:
    """``(top_k, synthetic)`` after ``--references``; both 0 only when asked for by ``--references 0``,
    so a reference-free split is never built by accident."""
    if references is not None:
        if (top_k, synthetic) != (_DEFAULT_TOP_K, _DEFAULT_SYNTHETIC):
            raise ColorbenchError("--references sets the references per target on its own; drop --top-k and "
                                  "--synthetic (or drop --references)")
        if references < 0:
            raise ColorbenchError(f"--references must be >= 0 (0: a reference-free split); got {references}")
        return references, 0
    if top_k < 0 or synthetic < 0:
        raise ColorbenchError("--top-k and --synthetic must be >= 0")
    if top_k + synthetic == 0:
        raise ColorbenchError("--top-k and --synthetic are both 0; for a reference-free split (targets only, "
                              "automatic colorization) pass --references 0 instead")
    return top_k, synthetic


def _rank(target_desc, pool_desc, chosen, kept_pool, top_k, near_duplicate):
    query_codes, pool_codes = content_codes([target_desc.sha256[t] for t in chosen],
                                            [pool_desc.sha256[p] for p in kept_pool])
    return knn(target_desc.features[chosen], pool_desc.features[kept_pool], top_k, query_codes, pool_codes,
               near_duplicate)



@register_builder("folder", level="image", forwards_to="image-level", description=(
    "any folder of images (optionally with a COCO --annotations file), image level among its own images; the "
    "demo uses it"))
def build_folder(images: str | os.PathLike, annotations: str | os.PathLike | None = None, **options) -> Split:
    """An image-level split among the images of one folder (optionally described by a COCO
    file); the same options as :func:`build_image_level` except ``pool_images``."""
    if options.get("pool_images"):
        raise ColorbenchError("the folder builder pairs a folder's images among themselves; use image-level "
                              "for a separate --pool-images")
    return build_image_level(Path(images), annotations=annotations, builder="folder", **options)
