"""One comparison table from result files, optionally beside a paper's published table.

Rows are methods; columns are metrics at a level (``lpips``, ``lpips@object``); FID infinity
columns carry their smallest subset size (``fid_inf_300``), because FID infinity at different
``min_n`` are different numbers. Rows fall into comparison groups: measured results on the same
split, over the same pairs, with the same metric settings and network files form one group, a
published table another. The best value per column is marked within each group only, honouring
each metric's direction, so numbers from different splits, pair sets or settings are never ranked
against each other; the table's ``flags`` say when groups differ and how. A partial result (fewer
pairs scored than its split holds) is therefore never ranked with full results, and every format
marks it partial.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from bench.core.errors import ColorbenchError
from bench.metrics.registry import list_metrics
from bench.results import metric_key, parse_key, read_number

from .results import Result

__all__ = ["Cell", "Column", "Leaderboard", "Row", "build_leaderboard", "column_key"]

#: Measured values are compared and shown at this many decimals (the scorer's promise).
DECIMALS = 4


@dataclass
class Cell:
    value: float | None
    low: float | None = None  # 95% confidence interval, measured per-image metrics
    high: float | None = None
    pm: float | None = None  # +- (FID infinity's std, or as printed in a paper)
    text: str | None = None  # the value as printed (quoted rows keep the paper's digits)
    pm_text: str | None = None
    bold: bool = False

    @property
    def rank_value(self) -> float | None:
        """The value as shown (ties in what the reader sees are ties in bolding): a quoted value
        as printed, a measured one at :data:`DECIMALS`; None when there is no number."""
        if self.value is None or math.isnan(self.value):
            return None
        if self.text is not None or math.isinf(self.value):
            return self.value
        return round(self.value, DECIMALS)


@dataclass(frozen=True)
class Column:
    key: str
    metric: str
    level: str
    direction: str  # "lower" or "higher"

    @property
    def label(self) -> str:
        return f"{self.key} {'↓' if self.direction == 'lower' else '↑'}"


@dataclass
class Row:
    method: str
    source: str  # "measured" or "quoted"
    origin: str  # the result file, or the paper and table
    group: str
    split_id: str | None
    cells: dict[str, Cell] = field(default_factory=dict)
    pairs_scored: int | None = None  # measured rows: pairs scored, of pairs_total in the split
    pairs_total: int | None = None
    level: str | None = None  # what was scored: image, object or both (quoted: the paper table's level)

    @property
    def partial(self) -> bool:
        """A measured result over fewer pairs than its split holds."""
        return self.pairs_scored is not None and self.pairs_scored < self.pairs_total

    @property
    def source_text(self) -> str:
        """How every format names the row's source: measured (partial: n of N pairs) or quoted."""
        if self.source != "measured":
            return f"quoted: {self.origin}"
        return f"measured, PARTIAL: {self.pairs_scored} of {self.pairs_total} pairs" if self.partial else "measured"


@dataclass
class Leaderboard:
    columns: list[Column]
    rows: list[Row]
    groups: dict[str, str]  # group label -> what it is
    flags: list[str]
    notes: list[str]

    @property
    def mixed(self) -> bool:
        """True when the measured rows come from more than one split or metric setting."""
        return len({row.group for row in self.rows if row.source == "measured"}) > 1

    def caption(self, group: str) -> str:
        """What one comparison group is: its split, level and number of pairs (or, for a quoted
        group, the paper's table)."""
        members = [row for row in self.rows if row.group == group]
        if not members or members[0].source != "measured":
            return self.groups.get(group, group)
        row = members[0]
        partial = f" of {row.pairs_total} (PARTIAL)" if row.partial else ""
        level = "image and object level" if row.level == "both" else f"{row.level or 'image'} level"
        return f"split {row.split_id}, {level}, n = {row.pairs_scored}{partial} pairs"

    @property
    def title(self) -> str:
        """One line for a figure or page: the one group's caption, or how many groups there are."""
        measured = list(dict.fromkeys(row.group for row in self.rows if row.source == "measured"))
        if len(measured) == 1:
            return self.caption(measured[0])
        return f"{len(measured)} comparison groups (" + "; ".join(self.caption(g) for g in measured) + ")"


def column_key(metric: str, level: str, min_n: int | None = None) -> str:
    """The column of ``metric`` at ``level``; FID infinity's carries its smallest subset size."""
    return metric_key(metric, level, str(min_n) if metric == "fid_inf" and min_n else None)


def _measured_row(result: Result, group: str, columns: dict[str, Column]) -> Row:
    pairs = result.coverage
    row = Row(result.method, "measured", str(result.path), group, result.split_id,
              pairs_scored=pairs["scored"], pairs_total=pairs["total"], level=result.summary.get("level"))
    for name, entry in result.metrics.items():
        base, level = parse_key(name)
        metric = entry.get("metric") or ("fid_inf" if entry.get("min_n") is not None else base)
        key = column_key(metric, level, entry.get("min_n"))
        columns.setdefault(key, Column(key, metric, level, entry["direction"]))
        ci = entry.get("ci95") or (None, None)
        row.cells[key] = Cell(read_number(entry.get("value")), read_number(ci[0]), read_number(ci[1]),
                              read_number(entry.get("std")))
    return row


def _published_rows(table, group: str, columns: dict[str, Column]) -> list[Row]:
    meta, level = table.meta, table.meta["level"]
    keys = {}
    for key, spec in meta["metrics"].items():
        metric = spec.get("colorbench_metric") or key
        min_n = (spec.get("setting") or {}).get("fid_inf_min_n")
        keys[key] = column_key(metric, level, min_n)
        columns.setdefault(keys[key], Column(keys[key], metric, level, spec["direction"]))
    rows: dict[str, Row] = {}
    origin = f"{meta['paper_short']} Table {meta['table']}"
    for cell in table.cells.itertuples():
        row = rows.setdefault(cell.method, Row(cell.method, "quoted", origin, group, None, level=level))
        pm = None if cell.plus_minus != cell.plus_minus else float(cell.plus_minus)
        row.cells[keys[cell.metric]] = Cell(float(cell.value), pm=pm, text=cell.value_text,
                                            pm_text=cell.plus_minus_text or None)
    return list(rows.values())


def _groups(results: list[Result]) -> tuple[list[str], dict[str, str], list[str]]:
    """A group label per result, what each group is, and flags describing how groups differ."""
    keys: dict[str, str] = {}
    labels = []
    for result in results:
        key = json.dumps([result.split_id, result.settings], sort_keys=True)
        keys.setdefault(key, chr(ord("A") + len(keys)) if len(keys) < 26 else f"G{len(keys)}")
        labels.append(keys[key])
    groups, flags = {}, []
    first: dict[str, Result] = {}
    for label, result in zip(labels, results):
        first.setdefault(label, result)
    for label, result in sorted(first.items()):
        pairs = result.coverage
        groups[label] = f"measured here on split {result.split_id}" + (
            f", PARTIAL: {pairs['scored']} of {pairs['total']} pairs" if pairs["partial"] else "")
    partial = sorted({label for label, result in zip(labels, results) if result.partial})
    if partial:
        flags.append(f"PARTIAL: group(s) {', '.join(partial)} cover fewer pairs than their split; they are ranked only "
                     "among results over the same pairs, never with full results")
    if len(groups) > 1:
        splits = {result.split_id for result in results}
        flags.append(f"MIXED: the measured rows come from {len(splits)} split(s) and {len(groups)} comparison groups "
                     f"({', '.join(sorted(groups))}); bold marks the best within a group only, never across groups")
        reference = first["A"].settings
        for label, result in sorted(first.items()):
            if label != "A" and result.split_id == first["A"].split_id:
                differing = _differences(reference, result.settings)
                flags.append(f"group {label}: same split as A, other settings ({', '.join(differing)})")
    return labels, groups, flags


def _differences(a: dict, b: dict) -> list[str]:
    out = []
    if a["pairs"] != b["pairs"]:
        (scored_a, total_a, _), (scored_b, total_b, _) = a["pairs"], b["pairs"]
        out.append(f"pairs scored: {scored_a} of {total_a} vs {scored_b} of {total_b}"
                   if (scored_a, total_a) != (scored_b, total_b) else f"other pairs scored ({scored_a} of {total_a})")
    for section in ("config", "networks"):
        for key in sorted(set(a[section]) | set(b[section])):
            if a[section].get(key) != b[section].get(key):
                out.append(f"{key}: {a[section].get(key)} vs {b[section].get(key)}" if section == "config"
                           else f"{key} weight file differs")
    return out


def _mark_best(rows: list[Row], columns: list[Column]) -> None:
    for group in {row.group for row in rows}:
        members = [row for row in rows if row.group == group]
        for column in columns:
            values = [row.cells[column.key].rank_value for row in members if column.key in row.cells]
            values = [v for v in values if v is not None]
            if len(values) < 2:
                continue
            best = min(values) if column.direction == "lower" else max(values)
            for row in members:
                cell = row.cells.get(column.key)
                if cell is not None and cell.rank_value == best:
                    cell.bold = True


def _column_order(columns: dict[str, Column], first: list[str]) -> list[Column]:
    registry = {name: i for i, name in enumerate(list_metrics())}

    def order(column: Column) -> tuple:
        return (column.level == "object", registry.get(column.metric, len(registry)), column.key)

    rest = sorted((c for k, c in columns.items() if k not in first), key=order)
    return [columns[k] for k in first] + rest


def _check_protocol(meta: dict, results: list[Result]) -> None:
    """Published rows stand only beside rows measured under the same rules: a result scored under
    another protocol, or under settings that differ from the table's protocol, is a one-line error."""
    name = meta.get("colorbench_protocol")
    if not name:
        return
    from bench.protocols import get_protocol

    protocol = get_protocol(name)
    for result in results:
        if result.protocol not in (None, name):
            raise ColorbenchError(f"result {result.path} was scored under protocol {result.protocol}; published table "
                                  f"{meta['id']} follows {name}: re-score with --protocol {name}, or leave out "
                                  "--published")
        differing = protocol.differences(result.summary.get("meta", {}).get("config", {}))
        if differing:
            raise ColorbenchError(f"result {result.path} was scored under other rules than published table "
                                  f"{meta['id']} ({name}: {'; '.join(differing[:3])}); re-score with --protocol "
                                  f"{name}, or leave out --published")


def build_leaderboard(results: list[Result], published=None) -> Leaderboard:
    """The table of ``results`` (and of a published table, see
    :func:`leaderboards.published_tables.load_published`)."""
    columns: dict[str, Column] = {}
    first_keys: list[str] = []
    rows: list[Row] = []
    groups: dict[str, str] = {}
    flags: list[str] = []
    if published is not None:
        _check_protocol(published.meta, results)
        rows = _published_rows(published, "P", columns)
        first_keys = list(columns)
        meta = published.meta
        groups["P"] = (f"quoted from {meta['paper_short']} Table {meta['table']} ({meta['dataset']}, "
                       f"{meta['level']} level)")
        flags.append(f"QUOTED rows are {meta['paper_short']}'s published numbers on the paper's own split and "
                     "settings, not measured here; they are ranked only among themselves")
    labels, measured_groups, group_flags = _groups(results)
    groups.update(measured_groups)
    flags.extend(group_flags)
    measured = [_measured_row(result, label, columns) for result, label in zip(results, labels)]
    for label in measured_groups:
        names = [row.method for row in measured if row.group == label]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            flags.append(f"group {label} has several results named {', '.join(repeated)}; name them with --method")
    rows = measured + rows
    ordered = _column_order(columns, first_keys)
    _mark_best(rows, ordered)
    return Leaderboard(ordered, rows, groups, flags, _skip_notes(results))


def _short_reason(reason: str) -> str:
    """Skip reasons for the table's footnotes: a missing weight file by its name only (the full
    message, with URL and folder, stays in summary.json and in 'colorbench weights list')."""
    found = re.search(r"missing pretrained weights (\S+)", reason)
    return f"missing weight file {found.group(1)} (see 'colorbench weights list')" if found else reason


def _skip_notes(results: list[Result]) -> list[str]:
    """One line per skip reason: the metrics it applies to and the methods (or all of them)."""
    by_reason: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    methods_of: dict[tuple[str, str], list[str]] = {}
    for result in results:
        for metric, reason in result.skipped.items():
            methods_of.setdefault((metric, _short_reason(reason)), []).append(result.method)
    for (metric, reason), methods in methods_of.items():
        by_reason.setdefault((reason, tuple(methods)), []).append(metric)
    everyone = [r.method for r in results]
    return [f"skipped {', '.join(metrics)} ({'all methods' if list(methods) == everyone else ', '.join(methods)}): "
            f"{reason}" for (reason, methods), metrics in by_reason.items()]
