"""The leaderboard in one call: table in a format, chart and grid beside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.core.atomic import write_json, write_text
from bench.core.errors import ColorbenchError
from bench.core.paths import check_output_file
from bench.core.splits import load_split

from .figures import metric_chart, qualitative_grid
from .published_tables import load_published
from .render import provenance, render
from .results import Result, load_result
from .table import Leaderboard, build_leaderboard

__all__ = ["LeaderboardFiles", "make_leaderboard", "write_table"]


@dataclass
class LeaderboardFiles:
    board: Leaderboard
    text: str
    table: Path
    chart: Path | None = None
    grid: Path | None = None
    provenance: Path | None = None  # the CSV's JSON sidecar


def _grid_split(results: list[Result], split: str | os.PathLike | None):
    if split is None:
        files = {r.summary.get("meta", {}).get("split_file") for r in results}
        files.discard(None)
        if len(files) != 1:
            raise ColorbenchError("the grid needs the split file: the results " +
                                  ("name none" if not files else "name several") + "; pass --split SPLIT.parquet")
        split = files.pop()
    loaded = load_split(split)
    others = sorted({r.method for r in results if r.split_id != loaded.split_id})
    if others:
        raise ColorbenchError(f"the grid shows one split; {', '.join(others)} were scored on another split than "
                              f"{loaded.split_id}")
    return loaded


def write_table(board: Leaderboard, out: str | os.PathLike, fmt: str,
                figures: dict | None = None) -> tuple[Path, Path | None]:
    """Write ``board`` to ``out`` in ``fmt`` (HTML embeds ``figures``, the chart and grid PNGs);
    for CSV (plain data) also the provenance sidecar ``out`` with ``.json``. Returns (table,
    sidecar or None)."""
    table = write_text(out, render(board, fmt, figures))
    if fmt != "csv":
        return table, None
    return table, write_json(Path(out).with_suffix(".json"), provenance(board))


def make_leaderboard(results: list[str | os.PathLike | Result], out: str | os.PathLike, fmt: str = "md",
                     published: str | None = None, grid: list[str] | None = None,
                     split: str | os.PathLike | None = None, chart: bool = True) -> LeaderboardFiles:
    """Write the table ``out`` in ``fmt``; beside it ``<stem>-chart.png`` (per-metric values and
    CIs, when any finite value was measured) and, for ``grid`` pair ids, ``<stem>-grid.png``.

    Args:
        results: ``summary.json`` files, folders holding one, or loaded :class:`Result`.
        published: id of a published table to show beside (:func:`list_published`).
        split: the split for the grid (default: the one the results were scored on).
    """
    out = check_output_file(out)
    loaded = [r if isinstance(r, Result) else load_result(r) for r in results]
    board = build_leaderboard(loaded, load_published(published) if published else None)
    chart_path = metric_chart(board, out.with_name(f"{out.stem}-chart.png")) if chart else None
    grid_path = (qualitative_grid(_grid_split(loaded, split), loaded, grid, out.with_name(f"{out.stem}-grid.png"))
                 if grid else None)
    table, sidecar = write_table(board, out, fmt, {"chart": chart_path, "grid": grid_path})
    return LeaderboardFiles(board, table.read_text(encoding="utf-8"), table, chart_path, grid_path, sidecar)
