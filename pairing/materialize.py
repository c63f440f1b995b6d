"""Write a split out as files any method can read, whatever its code base.

``OUT/targets/<pair_id>.png`` (the gray target), ``OUT/references/<pair_id>.png`` (synthetic
ones rendered from their ``tps_seed``), ``OUT/gt/<pair_id>.png`` (the colour ground truth),
``OUT/masks/<pair_id>_target.png`` and ``_reference.png`` at object level (0/255), and
``OUT/pairs.csv`` listing them. Each image is decoded once; every file is written atomically,
and ``resume=True`` skips pairs whose files are all present. A reference-free split has no
``references/`` (its ``pairs.csv`` column ``reference`` is empty).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_path, write_json
from bench.core.coco import decode_rle
from bench.core.color import rgb_to_gray
from bench.core.images import write_png
from bench.core.lazy import lazy_import
from bench.core.paths import check_output_dir
from bench.core.splits import Split, load_split
from bench.core.synthetic import render_synthetic
from bench.pairs_io import check_target_size, read_checked

pd = lazy_import("pandas")

__all__ = ["materialize", "pair_files"]


def pair_files(pair_id: str, level: str, reference: bool = True) -> dict[str, str]:
    """The files materialize writes for one pair, relative to the output folder (no reference file
    for a pair of a reference-free split: ``reference=False``)."""
    files = {"target": f"targets/{pair_id}.png", "gt": f"gt/{pair_id}.png"}
    if reference:
        files["reference"] = f"references/{pair_id}.png"
    if level == "object":
        files["target_mask"] = f"masks/{pair_id}_target.png"
        files["reference_mask"] = f"masks/{pair_id}_reference.png"
    return files


class _DecodedCache:
    """A small LRU of decoded references: a reference shared by many targets is decoded once."""

    def __init__(self, size: int = 64):
        self.size = size
        self.items: OrderedDict[Path, np.ndarray] = OrderedDict()

    def get(self, path: Path, expected_sha: str | None) -> np.ndarray:
        if path in self.items:
            self.items.move_to_end(path)
            return self.items[path]
        image, _ = read_checked(path, expected_sha)
        self.items[path] = image
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return image


def materialize(split: Split | str | os.PathLike, out_dir: str | os.PathLike, images_root=None, pool_root=None,
                resume: bool = False, progress: bool = True) -> Path:
    """Write ``split``'s files under ``out_dir``; returns the path of ``pairs.csv``.

    Args:
        images_root, pool_root: where the split's images are now, if they moved.
        resume: skip pairs whose files all exist (they were written atomically, so complete).
    """
    from tqdm.auto import tqdm

    out = check_output_dir(out_dir)
    if not isinstance(split, Split):
        split = load_split(split)
    recipe = split.recipe
    table = split.table
    references = _DecodedCache()
    listing = []
    with tqdm(total=len(table), desc="materializing", unit="pair", disable=not progress) as bar:
        for _, group in table.groupby("target_id", sort=False):
            target_rgb = None
            for row in group.itertuples(index=False):
                files = pair_files(row.pair_id, split.level, split.has_references)
                listing.append(_listing_row(row, files))
                if resume and all((out / f).is_file() for f in files.values()):
                    bar.update(1)
                    continue
                if target_rgb is None:
                    target_path = split.target_file(row, images_root)
                    target_rgb, _ = read_checked(target_path, row.target_sha256)
                    check_target_size(target_rgb, target_path, (row.target_height, row.target_width))
                    gray = rgb_to_gray(target_rgb)
                _write_pair(out, files, row, split, target_rgb, gray, references, recipe, pool_root)
                bar.update(1)
    csv_path = out / "pairs.csv"
    with atomic_path(csv_path) as tmp:
        pd.DataFrame(listing).to_csv(tmp, index=False)
    write_json(out / "materialize.json", {"split_id": split.split_id, "level": split.level, "pairs": len(table)})
    return csv_path


def _write_pair(out, files, row, split, target_rgb, gray, references, recipe, pool_root) -> None:
    write_png(out / files["target"], gray)
    write_png(out / files["gt"], target_rgb)
    if "reference" in files:  # none in a reference-free split
        if row.reference_kind == "synthetic":
            reference = render_synthetic(target_rgb, int(row.tps_seed), recipe)
        else:
            reference = references.get(split.reference_file(row, pool_root), row.reference_sha256)
        write_png(out / files["reference"], reference)
    if split.level == "object":
        write_png(out / files["target_mask"], decode_rle(row.target_mask).astype(np.uint8) * 255)
        write_png(out / files["reference_mask"], decode_rle(row.reference_mask).astype(np.uint8) * 255)


def _listing_row(row, files: dict) -> dict:
    # the same columns, in the same order, with or without references
    entry = {"pair_id": row.pair_id, "target": files["target"], "reference": files.get("reference"), **files,
             "reference_kind": row.reference_kind, "rank": row.rank, "target_id": row.target_id,
             "reference_id": row.reference_id}
    for name in ("label", "category_id", "target_ann_id", "reference_ann_id"):
        value = getattr(row, name)
        entry[name] = None if value is pd.NA else int(value)
    return entry
