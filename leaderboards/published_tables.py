"""The published results tables (MSA, SPColor) as data: the anchors colorbench's numbers are compared with.

The tables live in the package :mod:`leaderboards.published`: an index ``tables.json`` and one long CSV per
table (one row per printed cell, with the paper line it was read from). Values are kept as printed in the
CSV; this module turns them into floats and checks each file against its index entry on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from bench.core.errors import ColorbenchError, unknown_name
from bench.core.lazy import lazy_import

pd = lazy_import("pandas")

__all__ = ["CSV_COLUMNS", "DIRECTIONS", "PublishedTable", "list_published", "load_published", "load_index"]

#: The columns of every table CSV, in order.
CSV_COLUMNS = ("method", "metric", "value", "plus_minus", "bold_in_paper", "source_line", "note")
#: The allowed values of a metric's ``direction`` in the index.
DIRECTIONS = ("lower", "higher")
_PACKAGE = "leaderboards.published"
_INDEX = "tables.json"


@dataclass(frozen=True)
class PublishedTable:
    """One published table.

    Attributes
    ----------
    meta : dict
        The table's entry in ``tables.json`` (``id``, ``file``, ``paper``, ``table``, ``caption``, ``dataset``,
        ``level``, ``protocol``, ``metrics``, ``notes``, ...).
    cells : pandas.DataFrame
        The long table, one row per printed cell, columns :data:`CSV_COLUMNS`: ``value`` and ``plus_minus``
        float64 (``plus_minus`` NaN where no ± is printed), ``bold_in_paper`` bool, ``source_line`` int64,
        ``method``/``metric``/``note`` str (``note`` empty when there is none); plus ``value_text`` and
        ``plus_minus_text``, the numbers exactly as printed (``"9.70"``), for tables that quote them.
    """

    meta: dict
    cells: pd.DataFrame

    @property
    def id(self) -> str:
        """The table id, e.g. ``"msa-table4"``."""
        return self.meta["id"]

    def wide(self) -> pd.DataFrame:
        """The table as printed: one row per method, one column per metric.

        Returns
        -------
        pandas.DataFrame
            Shape ``(n_methods, n_metrics + n_pm)``, float64, indexed by ``method`` in CSV order. Columns are
            the metric keys in index order, each followed by ``<metric>_pm`` (the printed ±) when any cell of
            that metric has one. A cell the paper leaves empty is NaN.
        """
        methods = list(dict.fromkeys(self.cells["method"]))
        columns: dict[str, pd.Series] = {}
        for metric in self.meta["metrics"]:
            rows = self.cells[self.cells["metric"] == metric].set_index("method")
            columns[metric] = rows["value"].reindex(methods)
            if rows["plus_minus"].notna().any():
                columns[f"{metric}_pm"] = rows["plus_minus"].reindex(methods)
        frame = pd.DataFrame(columns, index=pd.Index(methods, name="method"), dtype="float64")
        return frame


def load_index() -> list[dict]:
    """The parsed ``tables.json``: one dict per table, in index order."""
    text = (files(_PACKAGE) / _INDEX).read_text(encoding="utf-8")
    return json.loads(text)


def list_published() -> list[str]:
    """Ids of the published tables in index order, e.g. ``["msa-table1", ..., "spcolor-table3"]``."""
    return [entry["id"] for entry in load_index()]


def load_published(table_id: str) -> PublishedTable:
    """Load and check one published table.

    Parameters
    ----------
    table_id : str
        An id from :func:`list_published`.

    Returns
    -------
    PublishedTable
        The index entry and the cells, typed as described in :class:`PublishedTable`.

    Raises
    ------
    ColorbenchError
        Unknown id (the message lists close matches and all known ids), or a CSV that disagrees with its
        index entry (the message names the file).
    """
    meta = _find_entry(load_index(), table_id)
    cells = _read_cells(meta["file"])
    _validate(meta, cells)
    return PublishedTable(meta=meta, cells=cells)


def _find_entry(index: list[dict], table_id: str) -> dict:
    """The index entry with ``id == table_id``; a one-line ColorbenchError otherwise."""
    by_id = {entry["id"]: entry for entry in index}
    if table_id not in by_id:
        raise unknown_name("published table", table_id, by_id)
    return by_id[table_id]


def _read_cells(name: str) -> pd.DataFrame:
    """Read one table CSV and type its columns (see :class:`PublishedTable`)."""
    path = files(_PACKAGE) / name
    if not path.is_file():
        raise ColorbenchError(f"published table file {name} is missing from {_PACKAGE}")
    with path.open("r", encoding="utf-8") as fh:
        raw = pd.read_csv(fh, dtype=str, keep_default_na=False)
    if tuple(raw.columns) != CSV_COLUMNS:
        raise ColorbenchError(f"{name}: columns {list(raw.columns)} differ from {list(CSV_COLUMNS)}")
    try:
        return pd.DataFrame({
            "method": raw["method"],
            "metric": raw["metric"],
            "value": raw["value"].map(_to_float),
            "plus_minus": raw["plus_minus"].map(_to_float),
            "bold_in_paper": raw["bold_in_paper"].map(_to_bool),
            "source_line": raw["source_line"].astype("int64"),
            "note": raw["note"],
            # the numbers as printed ("9.70"), so tables quote the paper's digits
            "value_text": raw["value"].str.strip(),
            "plus_minus_text": raw["plus_minus"].str.strip(),
        })
    except ValueError as exc:
        raise ColorbenchError(f"{name}: {exc}") from None


def _to_float(text: str) -> float:
    """A printed number as float; an empty cell as NaN."""
    return float(text) if text.strip() else float("nan")


def _to_bool(text: str) -> bool:
    """``"1"``/``"0"`` as bool."""
    if text not in ("0", "1"):
        raise ValueError(f"bold_in_paper must be 0 or 1, got {text!r}")
    return text == "1"


def _validate(meta: dict[str, Any], cells: pd.DataFrame) -> None:
    """Check the cells against the index entry: metrics declared and present, no duplicate cell, directions."""
    name = meta["file"]
    declared = set(meta["metrics"])
    used = set(cells["metric"])
    if used - declared:
        raise ColorbenchError(f"{name}: metrics {sorted(used - declared)} are not declared in {_INDEX}")
    if declared - used:
        raise ColorbenchError(f"{name}: declared metrics {sorted(declared - used)} have no cell")
    duplicated = cells.duplicated(["method", "metric"])
    if duplicated.any():
        dup = cells.loc[duplicated, ["method", "metric"]].iloc[0]
        raise ColorbenchError(f"{name}: duplicate cell ({dup['method']!r}, {dup['metric']!r})")
    bad = {key: spec.get("direction") for key, spec in meta["metrics"].items()
           if spec.get("direction") not in DIRECTIONS}
    if bad:
        raise ColorbenchError(f"{name}: metric directions {bad} are not one of {list(DIRECTIONS)}")
