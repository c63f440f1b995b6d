"""Assembling a split from its pairs: the rows every builder writes, the table, the sidecar.

The file format itself (columns, ``split_id``, loading) is :mod:`bench.core.splits`. Every
builder writes its rows through :func:`target_fields` and one of :func:`retrieved_row`,
:func:`same_class_row` or :func:`synthetic_row` (or, for a reference-free split,
:func:`target_only_row`), so every split has the same columns, filled the same way: in particular
the SHA-256 of the target and of every reference file, which the scorer, the baselines and
``materialize`` check before reading an image.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core.errors import ColorbenchError
from bench.core.lazy import lazy_import
from bench.core.splits import FORMAT_VERSION, NO_REFERENCE, compute_split_id, hashed_meta, split_schema
from bench.version import __version__

if TYPE_CHECKING:
    import pandas as pd

    from bench.core.splits import Split

pa = lazy_import("pyarrow")

__all__ = ["target_fields", "retrieved_row", "same_class_row", "synthetic_row", "target_only_row", "make_table",
           "new_meta", "finish_split"]


def target_fields(level: str, image_id: str, path: str, width: int, height: int, sha256: str, *,
                  category_id: int | None = None, label: int | None = None, ann_id: int | None = None,
                  mask: str | None = None) -> dict:
    """What every pair of one target shares: its id, file, size and checksum; its category or
    class label; at object level its annotation id and mask (COCO RLE as JSON)."""
    if not sha256:
        raise ValueError(f"target {image_id}: a split row needs the file's SHA-256")
    return {"level": level, "target_id": image_id, "target_path": path, "target_width": int(width),
            "target_height": int(height), "target_sha256": sha256, "category_id": category_id, "label": label,
            "target_ann_id": ann_id, "target_mask": mask}


def _stem(target: dict) -> str:
    """Pair ids are ``<target>-r1`` (image level) or ``<target>-a<ann>-r1`` (object level)."""
    ann_id = target.get("target_ann_id")
    return target["target_id"] if ann_id is None else f"{target['target_id']}-a{ann_id}"


def retrieved_row(target: dict, rank: int, reference_id: str, reference_path: str, reference_sha256: str,
                  distance: float) -> dict:
    """A reference ranked by feature distance (image level, or within a class)."""
    return {**target, "pair_id": f"{_stem(target)}-r{rank}", "reference_id": reference_id,
            "reference_path": reference_path, "reference_sha256": reference_sha256, "reference_kind": "retrieved",
            "rank": rank, "distance": float(distance)}


def same_class_row(target: dict, rank: int, reference_id: str, reference_path: str, reference_sha256: str,
                   ann_id: int | None = None, mask: str | None = None) -> dict:
    """A reference drawn at random from the same category (object level: with its object)."""
    return {**target, "pair_id": f"{_stem(target)}-r{rank}", "reference_id": reference_id,
            "reference_path": reference_path, "reference_sha256": reference_sha256, "reference_kind": "same-class",
            "rank": rank, "distance": math.nan, "reference_ann_id": ann_id, "reference_mask": mask}


def synthetic_row(target: dict, n: int, tps_seed: int, mask: str | None = None) -> dict:
    """The target itself under a TPS warp and an appearance change, rendered from ``tps_seed``
    (object level: ``mask`` is the target's mask warped alike)."""
    return {**target, "pair_id": f"{_stem(target)}-s{n}", "reference_id": target["target_id"],
            "reference_path": "", "reference_sha256": target["target_sha256"], "reference_kind": "synthetic",
            "rank": n, "distance": math.nan, "tps_seed": int(tps_seed),
            "reference_ann_id": target.get("target_ann_id"), "reference_mask": mask}


def target_only_row(target: dict) -> dict:
    """The one row of a target in a reference-free split (automatic colorization): kind ``none``,
    no reference. Its ``pair_id`` is the target's own id, so outputs are named after the image
    (``ILSVRC2012_val_00000001.png``), as automatic methods name them."""
    return {**target, "pair_id": _stem(target), "reference_id": None, "reference_path": None,
            "reference_sha256": None, "reference_kind": NO_REFERENCE, "rank": None, "distance": math.nan}


def make_table(rows: list[dict]) -> "pd.DataFrame":
    """Rows (dicts with some of the columns) -> a DataFrame with every column and its dtype."""
    from bench.core.splits import pandas_type

    schema = split_schema()
    table = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
    frame = table.to_pandas(types_mapper=pandas_type)
    if len(frame) and frame["pair_id"].duplicated().any():
        dup = frame.loc[frame["pair_id"].duplicated(), "pair_id"].iloc[0]
        raise ColorbenchError(f"two pairs would share the id {dup!r}: image ids must be unique after sanitising")
    return frame


def new_meta(builder: str, level: str, params: dict, roots: dict, report: dict, features: dict | None = None,
             annotations_sha256: str | None = None) -> dict[str, Any]:
    """The sidecar of a split being built (``split_id`` is added by :func:`finish_split`)."""
    return {"format_version": FORMAT_VERSION, "builder": builder, "level": level, "params": params,
            "features": features, "annotations_sha256": annotations_sha256,
            "roots": {k: str(Path(v).resolve()) for k, v in roots.items()}, "report": report,
            "colorbench_version": __version__}


def finish_split(rows: list[dict], meta: dict) -> "Split":
    """Build the table, stamp the split_id (content + parameters) and return the split."""
    from bench.core.splits import Split

    table = make_table(rows)
    meta = {**meta, "split_id": compute_split_id(table, hashed_meta(meta)), "num_pairs": len(table),
            "num_targets": int(table["target_id"].nunique()) if len(table) else 0}
    return Split(table, meta)
