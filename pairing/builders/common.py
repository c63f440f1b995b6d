"""Pieces every builder shares: the drop report, seeded subsets, unreadable images."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bench.core.errors import ColorbenchError

from ..collection import Collection, Description, FilterSettings, unreadable_error

__all__ = ["Report", "kept_entries", "seeded_subset", "unread_targets"]

#: The report reasons of a listed target that could not be read (left out under --skip-unreadable).
UNREAD_REASONS = ("target dropped: missing", "target dropped: unreadable")


@dataclass
class Report:
    """Counts of everything a build dropped or skipped, with reasons; stored in the sidecar."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def add(self, reason: str, example: str | None = None, n: int = 1) -> None:
        self.counts[reason] += n
        if example is not None:
            self.examples.setdefault(reason, [])
            if len(self.examples[reason]) < 5:
                self.examples[reason].append(example)

    def summary(self) -> str:
        """One line: every reason with its count."""
        return ", ".join(f"{reason}: {count}" for reason, count in sorted(self.counts.items())) or "nothing counted"

    def as_dict(self) -> dict:
        return {"counts": dict(sorted(self.counts.items())), "examples": self.examples}


def kept_entries(collection: Collection, description: Description, filters: FilterSettings, report: Report,
                 role: str, skip_unreadable: bool) -> list[int]:
    """Indices of the entries that decode and pass the filters; drops are counted as
    ``<role> dropped: <reason>``, one count per image (its first reason)."""
    if description.unreadable and not skip_unreadable:
        raise unreadable_error(description, collection)
    for image_id in description.unreadable:
        report.add(f"{role} dropped: unreadable", image_id)
    dropped = description.filter_reasons(filters)
    for image_id, reasons in dropped.items():
        # Each dropped image is counted once, under its first reason, so the counts add up to
        # the number of images dropped.
        report.add(f"{role} dropped: {reasons[0]}", image_id)
    report.add(f"{role} images scanned", n=len(description.entries))
    return [i for i, entry in enumerate(description.entries)
            if entry.image_id not in description.unreadable and entry.image_id not in dropped]


def seeded_subset(items: list, n: int | None, seed: int, what: str) -> list:
    """``n`` items chosen with ``seed`` (all of them when ``n`` is None), in their original order."""
    if n is None:
        return list(items)
    if n <= 0:
        raise ColorbenchError(f"--num-targets must be positive; got {n}")
    if n > len(items):
        raise ColorbenchError(f"--num-targets {n} but only {len(items)} {what} qualify; lower --num-targets")
    chosen = np.random.default_rng(seed).choice(len(items), size=n, replace=False)
    return [items[i] for i in sorted(chosen)]


def unread_targets(report: Report, listed: int, what: str) -> dict | None:
    """A test set left short by ``--skip-unreadable``: one warning line on stderr (the count and
    the first ids) and the record for the sidecar (``{"count", "listed", "first"}``); None when every
    listed target was read. A published test set is only comparable whole, so this is never silent."""
    count = sum(report.counts[reason] for reason in UNREAD_REASONS)
    if not count:
        return None
    first = [image_id for reason in UNREAD_REASONS for image_id in report.examples.get(reason, [])][:5]
    more = ", ..." if count > len(first) else ""
    print(f"warning: {count} of the {listed} {what} cannot be read and are left out ({', '.join(first)}{more}); "
          "the split is not the whole test set, so its scores are not comparable with published ones",
          file=sys.stderr)
    return {"count": count, "listed": listed, "first": first}
