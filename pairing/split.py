"""Building a split's table and sidecar (the file format itself is :mod:`bench.core.splits`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from bench.core.errors import ColorbenchError
from bench.core.splits import (
    DISTANCE_DIGITS,
    FORMAT_VERSION,
    REFERENCE_KINDS,
    SPLIT_SCHEMA,
    Split,
    compute_split_id,
    hashed_meta,
    load_split,
    pandas_type,
    sanitize_id,
    sidecar_path,
)
from bench.version import __version__

__all__ = ["Split", "SPLIT_SCHEMA", "FORMAT_VERSION", "DISTANCE_DIGITS", "REFERENCE_KINDS", "load_split",
           "sanitize_id", "sidecar_path", "make_table", "compute_split_id", "finish_split", "new_meta"]


def make_table(rows: list[dict]) -> pd.DataFrame:
    """Rows (dicts with some of the columns) -> a DataFrame with every column and its dtype."""
    table = pa.Table.from_pylist([{name: row.get(name) for name in SPLIT_SCHEMA.names} for row in rows],
                                 schema=SPLIT_SCHEMA)
    frame = table.to_pandas(types_mapper=pandas_type)
    if len(frame) and frame["pair_id"].duplicated().any():
        dup = frame.loc[frame["pair_id"].duplicated(), "pair_id"].iloc[0]
        raise ColorbenchError(f"two pairs would share the id {dup!r}: image ids must be unique after sanitising")
    return frame


def new_meta(builder: str, level: str, params: dict, roots: dict, report: dict, features: dict | None = None,
             annotations_sha256: str | None = None) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "builder": builder, "level": level, "params": params,
            "features": features, "annotations_sha256": annotations_sha256,
            "roots": {k: str(Path(v).resolve()) for k, v in roots.items()}, "report": report,
            "colorbench_version": __version__}


def finish_split(rows: list[dict], meta: dict) -> Split:
    """Build the table, stamp the split_id (content + parameters) and return the split."""
    table = make_table(rows)
    meta = {**meta, "split_id": compute_split_id(table, hashed_meta(meta)), "num_pairs": len(table),
            "num_targets": int(table["target_id"].nunique()) if len(table) else 0}
    return Split(table, meta)


