"""Reading the scorer's result files (``summary.json``) for tables and figures.

The file format and its validation live in one place, :mod:`bench.results`, shared with the
scorer that writes them; a file either side would refuse is refused here with the same one-line
error naming the file and the field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.results import coverage, load_summary

__all__ = ["Result", "load_result", "load_results"]


@dataclass(frozen=True)
class Result:
    """One scored method: where its file is and what ``summary.json`` holds."""

    path: Path
    summary: dict

    @property
    def method(self) -> str:
        return self.summary["method"]

    @property
    def split_id(self) -> str:
        return self.summary["split_id"]

    @property
    def metrics(self) -> dict:
        return self.summary["metrics"]

    @property
    def skipped(self) -> dict:
        return self.summary.get("skipped", {})

    @property
    def coverage(self) -> dict:
        """``scored``, ``total``, ``sha256`` (of the scored pair ids) and ``partial``."""
        return coverage(self.summary)

    @property
    def partial(self) -> bool:
        """Whether fewer pairs than the split holds were scored (``--allow-missing``)."""
        return self.coverage["partial"]

    @property
    def protocol(self) -> str | None:
        """The protocol the result was scored under (``colorbench score --protocol``), or None."""
        return ((self.summary.get("meta") or {}).get("protocol") or {}).get("name")

    @property
    def settings(self) -> dict:
        """What makes two results comparable besides the split: the pairs scored, the metric
        settings and the network files' checksums."""
        meta = self.summary.get("meta", {})
        pairs = self.coverage
        return {"pairs": [pairs["scored"], pairs["total"], pairs["sha256"]], "config": meta.get("config", {}),
                "networks": {name: entry.get("sha256") for name, entry in meta.get("networks", {}).items()}}


def load_result(path: str | os.PathLike) -> Result:
    """A ``summary.json``, or a folder holding one; a one-line error naming the file otherwise."""
    file, summary = load_summary(path)
    return Result(file, summary)


def load_results(paths: list[str | os.PathLike]) -> list[Result]:
    return [load_result(path) for path in paths]
