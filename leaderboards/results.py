"""Reading the scorer's result files (``summary.json``) for tables and figures."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import ColorbenchError

__all__ = ["Result", "load_result", "load_results"]

REQUIRED_KEYS = ("method", "split_id", "metrics")


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
    def settings(self) -> dict:
        """What makes two results comparable besides the split: the metric settings and the
        network files' checksums."""
        meta = self.summary.get("meta", {})
        return {"config": meta.get("config", {}),
                "networks": {name: entry.get("sha256") for name, entry in meta.get("networks", {}).items()}}


def load_result(path: str | os.PathLike) -> Result:
    """A ``summary.json``, or a folder holding one; a one-line error naming the file otherwise."""
    path = Path(path)
    file = path / "summary.json" if path.is_dir() else path
    if not file.is_file():
        raise ColorbenchError(f"result {path} is not a summary.json nor a folder holding one; pass what "
                              "'colorbench score --out' wrote")
    try:
        summary = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ColorbenchError(f"result {file} is not valid JSON ({exc}); re-run colorbench score") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(summary, dict) or key not in summary]
    if missing:
        raise ColorbenchError(f"result {file} lacks {', '.join(missing)}; it was not written by colorbench score")
    return Result(file, summary)


def load_results(paths: list[str | os.PathLike]) -> list[Result]:
    return [load_result(path) for path in paths]
