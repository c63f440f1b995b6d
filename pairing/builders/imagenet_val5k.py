"""ImageNet val5k: the automatic-colorization test set of CT2 and DDColor, reference-free.

CT2 (``shuchenweng/CT2``, ``segm/data/coco.py``, ``COCODataset.load_filenames`` with split
``val``) evaluates on exactly the files ``'ILSVRC2012_val_' + str(i).zfill(8) + '.JPEG'`` for
``i`` in ``range(1, 5001)``, in that order, read from the ImageNet validation folder; DDColor
reports "the first 5k images" of ImageNet val, the same files. This builder takes the same names
in the same order (``count`` of them, 5000 by default; fewer only for tests), so the target ids
are those file stems (``ILSVRC2012_val_00000001``) and outputs are ``<id>.png``.

The split is reference-free (:func:`pairing.assemble.target_only_row`): one row per image, no
ranking, no network, no filters (a test set is kept whole; nothing is drawn at random). Each file
is looked up as ``<images>/<file>`` (the flat val folder, as CT2 reads it), then as
``<images>/<wnid>/<file>`` (val sorted into class folders). A missing or undecodable file stops
the build, naming it and how many are missing; with ``skip_unreadable`` it is left out, counted
in the report and warned about in one line (the sidecar's ``unread_targets``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.splits import sanitize_id

from ..assemble import finish_split, new_meta, target_fields, target_only_row
from ..collection import Collection, FilterSettings, ImageEntry
from ..describe import FeatureSettings, describe
from ..registry import register_builder
from .common import Report, kept_entries, unread_targets

if TYPE_CHECKING:
    from bench.core.splits import Split

__all__ = ["build_imagenet_val5k", "val_file_name", "SOURCE", "DEFAULT_COUNT", "VAL_IMAGES"]

#: Where the file list is defined (recorded in the sidecar).
SOURCE = "shuchenweng/CT2 segm/data/coco.py load_filenames"
#: CT2's ``range(1, 5001)``.
DEFAULT_COUNT = 5000
#: Images in the ILSVRC2012 validation set.
VAL_IMAGES = 50_000


def val_file_name(index: int) -> str:
    """The validation file of 1-based ``index``, spelled as CT2 builds it."""
    return "ILSVRC2012_val_" + str(index).zfill(8) + ".JPEG"


def _locate(images: Path, names: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """``(name, path relative to images)`` of the files found, in ``names`` order, and the missing names."""
    in_classes: dict[str, str] | None = None
    found, missing = [], []
    for name in names:
        if (images / name).is_file():
            found.append((name, name))
            continue
        if in_classes is None:  # scanned once, and only when the flat layout lacks a file
            in_classes = {path.name: path.relative_to(images).as_posix()
                          for path in sorted(images.glob("*/ILSVRC2012_val_*")) if path.is_file()}
        if name in in_classes:
            found.append((name, in_classes[name]))
        else:
            missing.append(name)
    return found, missing


@register_builder("imagenet-val5k", level="image", description=(
    "CT2's and DDColor's automatic-colorization test set, reference-free: ILSVRC2012_val_00000001.JPEG .. "
    "ILSVRC2012_val_00005000.JPEG (--count, default 5000) of the ImageNet val folder --images, in that order, "
    "as CT2's load_filenames takes them"))
def build_imagenet_val5k(images: str | os.PathLike, count: int = DEFAULT_COUNT, seed: int = 0,
                         batch_size: int = 32, workers: int | None = None, skip_unreadable: bool = False,
                         progress: bool = True) -> Split:
    """Build the val5k split; see the module docstring. ``seed`` is accepted like every builder's
    and changes nothing (the list is fixed). Returns the :class:`Split` (under ``torchrun``, on the
    main process; the others decode their share and return None)."""
    images = Path(images)
    if not images.is_dir():
        raise ColorbenchError(f"image folder {images} does not exist or is not a folder; point --images at the "
                              "ImageNet validation folder (ILSVRC2012_val_*.JPEG)")
    if not 1 <= count <= VAL_IMAGES:
        raise ColorbenchError(f"--count must be between 1 and {VAL_IMAGES} (ImageNet val's size); got {count}")
    names = [val_file_name(index) for index in range(1, count + 1)]
    found, missing = _locate(images, names)
    if missing and not skip_unreadable:
        raise ImageReadError(f"cannot read image {images / missing[0]}: no such file (nor in a class folder "
                             f"{images}/<wnid>/); {len(missing)} of the first {count} ImageNet validation images are "
                             "missing; point --images at the ImageNet val folder, or pass --skip-unreadable to leave "
                             "them out")
    report = Report()
    for name in missing:
        report.add("target dropped: missing", name[:-len(".JPEG")])
    if not found:
        raise ColorbenchError(f"none of the first {count} ImageNet validation images is in {images}")

    collection = Collection(images, [ImageEntry(sanitize_id(name[:-len(".JPEG")]), relative)
                                     for name, relative in found])
    description = describe(collection, FeatureSettings(None), "cpu", batch_size, workers, progress)
    if description is None:
        return None  # under torchrun: this process's share of the decoding is cached; rank 0 assembles
    # No filters: every listed image is part of the published test set.
    kept = kept_entries(collection, description, FilterSettings(enabled=False), report, "target", skip_unreadable)
    rows = []
    for t in kept:
        entry = collection.entries[t]
        rows.append(target_only_row(target_fields("image", entry.image_id, entry.path, description.width[t],
                                                  description.height[t], description.sha256[t])))
    if not rows:
        raise ColorbenchError(f"the split would be empty ({report.summary()})")
    report.add("targets", n=len(rows))
    params = {"count": count, "source": SOURCE, "first": names[0], "last": names[-1]}
    meta = new_meta("imagenet-val5k", "image", params, {"images": images, "pool": images}, report.as_dict())
    meta["unread_targets"] = unread_targets(report, count, "ImageNet validation images of the set")
    return finish_split(rows, meta)
