"""The result files of a scoring run, one schema: ``summary.json`` and ``per_image.parquet``.

The scorer writes them (:func:`write_result`, after :func:`validate_summary`) and the
leaderboard reads them (:func:`load_summary`, which validates the same way), so a file that one
side would not accept never reaches the other. Light on purpose: json and numpy only, no torch.

``summary.json`` (``schema_version`` 2)::

    method          str, non-empty                 the scored method's name
    split_id        str, non-empty                 the split the outputs answer
    level           "image" | "object" | "both"    what was scored
    pairs           {"scored": int, "total": int, "sha256": str}
                                                   how many of the split's pairs were scored (a
                                                   result with scored < total is partial) and a
                                                   hash of the scored pair ids
    metrics         {key: entry}                   key = metric name (+ "_<min_n>" for FID
                                                   infinity at a fixed smallest subset) + "@object"
                                                   at object level
    skipped         {metric: reason}               metrics that could not run, and why
    meta            {...}                          version, settings (``config``), network
                                                   checksums, device; ``protocol``: the protocol
                                                   scored under (its record) or null

    entry: value      finite number, "inf", "-inf" or null (JSON has no infinities; never NaN)
           direction  "higher" | "lower"
           n          int >= 0, the images (or set size) it is computed from
           output     "per_image" | "per_set" (optional)
           ci95       [low, high], finite, low <= high (per-image metrics; optional)
           std        finite number >= 0 (FID infinity: over repeats, ``std_ddof``; optional)
           min_n, points, repeats, std_ddof   ints (FID infinity)
           backbone   str, the Inception of FID / FID infinity / KID ("tf" or "torchvision")
           subsets, subset_size   ints (KID)
           metric     str, the registered metric's name (``fid_inf`` for ``fid_inf_300``)
           matches    str, the anchor implementation

Version 1 files (before ``pairs`` existed) are read with their coverage taken from
``meta.pairs_scored`` / ``meta.pairs_missing``.

``per_image.parquet``: ``pair_id`` (str, unique) and one float64 column per per-image metric key.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .core.errors import ColorbenchError
from .metrics.registry import OUTPUTS

__all__ = ["SCHEMA_VERSION", "SUMMARY_FILE", "PER_IMAGE_FILE", "OBJECT_SUFFIX", "DIRECTIONS", "metric_key",
           "parse_key", "json_number", "read_number", "bootstrap_means", "bootstrap_ci", "pairs_record",
           "coverage", "validate_summary", "load_summary", "write_result", "result_files"]

SCHEMA_VERSION = 2
SUMMARY_FILE = "summary.json"
PER_IMAGE_FILE = "per_image.parquet"
#: Suffix of object-level metric keys and per-image columns.
OBJECT_SUFFIX = "@object"
DIRECTIONS = ("higher", "lower")
LEVELS = ("image", "object", "both")


def metric_key(metric: str, level: str, variant: str | None = None) -> str:
    """The summary key / per-image column of ``metric`` at ``level`` (``fid_inf`` + variant
    ``300`` -> ``fid_inf_300``; object level adds :data:`OBJECT_SUFFIX`)."""
    base = f"{metric}_{variant}" if variant else metric
    return base if level == "image" else f"{base}{OBJECT_SUFFIX}"


def parse_key(key: str) -> tuple[str, str]:
    """``(name, level)`` of a metric key: ``lpips@object`` -> ``("lpips", "object")``."""
    name, _, suffix = key.partition("@")
    return name, ("object" if suffix else "image")


def json_number(value: float | None) -> float | str | None:
    """JSON has no inf/nan: infinities are written as the strings "inf"/"-inf", NaN as null."""
    if value is None or math.isnan(value):
        return None
    return float(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def read_number(value: Any) -> float | None:
    """A summary number back as float ("inf" -> inf, null -> None)."""
    if value is None:
        return None
    return float(value)


# -- bootstrap (shared with bench.comparison) ------------------------------------------------------

#: Resamples drawn per block (bounds the index matrix to ~64 MB for any number of pairs).
_BOOTSTRAP_BLOCK_ELEMENTS = 1 << 23


def bootstrap_means(values: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``samples`` resamples (with replacement) of ``values``, drawn from ``rng``.

    Drawn in blocks of resamples: the same random stream as one ``rng.integers(0, n, (samples, n))``
    call (numpy draws the integers in order), with memory bounded for large n.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    per_block = max(1, _BOOTSTRAP_BLOCK_ELEMENTS // max(n, 1))
    means = [values[rng.integers(0, n, size=(min(per_block, samples - start), n))].mean(axis=1)
             for start in range(0, samples, per_block)]
    return np.concatenate(means) if means else np.zeros(0)


def bootstrap_ci(values: np.ndarray, samples: int, seed: int) -> list[float] | None:
    """The 95% percentile bootstrap interval of the mean of ``values`` (None for fewer than 2)."""
    if len(values) < 2:
        return None
    means = bootstrap_means(values, samples, np.random.default_rng(seed))
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


# -- coverage ---------------------------------------------------------------------------------------


def pairs_record(scored: list[str], total: int) -> dict:
    """The summary's ``pairs`` field: counts and a hash of the scored pair ids (order-free)."""
    digest = hashlib.sha256("\n".join(sorted(scored)).encode("utf-8")).hexdigest()[:16]
    return {"scored": len(scored), "total": int(total), "sha256": digest}


def coverage(summary: dict) -> dict:
    """``{"scored", "total", "sha256", "partial"}`` of a validated summary (any version)."""
    pairs = summary.get("pairs")
    if pairs is None:  # version 1
        meta = summary.get("meta", {})
        scored = int(meta.get("pairs_scored", 0))
        total = scored + int(meta.get("pairs_missing", 0))
        pairs = {"scored": scored, "total": total, "sha256": None}
    return {**pairs, "partial": pairs["scored"] < pairs["total"]}


# -- validation -------------------------------------------------------------------------------------


class _Invalid(Exception):
    """A field's problem, turned into one ColorbenchError naming the file and the field."""


def _text(value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"must be a non-empty string, got {value!r}")


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in choices:
            raise _Invalid(f"must be one of {', '.join(choices)}, got {value!r}")

    return check


def _real(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise _Invalid(f"must be finite, got {value!r}")
    return float(value)


def _value(value: Any) -> None:
    if value is None or value in ("inf", "-inf"):
        return
    _real(value)


def _count(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"must be a whole number >= 0, got {value!r}")


def _nonnegative(value: Any) -> None:
    if _real(value) < 0:
        raise _Invalid(f"must be >= 0, got {value!r}")


def _interval(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list) or len(value) != 2:
        raise _Invalid(f"must be [low, high], got {value!r}")
    low, high = (_real(v) for v in value)
    if low > high:
        raise _Invalid(f"low must not exceed high, got {value!r}")


def _string(value: Any) -> None:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, got {value!r}")


def _mapping(value: Any) -> None:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping (JSON object), got {type(value).__name__}")


#: entry field -> (check, required)
_ENTRY = {"value": (_value, True), "direction": (_one_of(DIRECTIONS), True), "n": (_count, True),
          "output": (_one_of(OUTPUTS), False), "ci95": (_interval, False), "std": (_nonnegative, False),
          "min_n": (_count, False), "points": (_count, False), "repeats": (_count, False),
          "std_ddof": (_count, False), "matches": (_string, False), "metric": (_text, False),
          "backbone": (_text, False), "subsets": (_count, False), "subset_size": (_count, False)}


def _check(checker: Callable[[Any], Any], value: Any, source: str, field: str) -> None:
    try:
        checker(value)
    except _Invalid as exc:
        raise ColorbenchError(f"result {source}: field {field} {exc}; re-run colorbench score to write a valid "
                              "file") from None


def validate_summary(summary: Any, source: str | os.PathLike) -> dict:
    """``summary`` if it follows the schema (module docstring); else a one-line
    :class:`ColorbenchError` naming ``source`` and the field at fault."""
    _check(_mapping, summary, source, "(the whole file)")
    version = summary.get("schema_version", 1)
    _check(_count, version, source, "schema_version")
    if version > SCHEMA_VERSION:
        raise ColorbenchError(f"result {source} has schema version {version}; upgrade colorbench to read it")
    required = ["method", "split_id", "metrics"] + (["level", "pairs"] if version >= 2 else [])
    for name in required:
        if name not in summary:
            raise ColorbenchError(f"result {source} lacks the field {name}; it was not written by colorbench score")
    _check(_text, summary["method"], source, "method")
    _check(_text, summary["split_id"], source, "split_id")
    if "level" in summary:
        _check(_one_of(LEVELS), summary["level"], source, "level")
    if version >= 2:
        pairs = summary["pairs"]
        _check(_mapping, pairs, source, "pairs")
        for name in ("scored", "total"):
            _check(_count, pairs.get(name), source, f"pairs.{name}")
        if pairs["scored"] > pairs["total"]:
            raise ColorbenchError(f"result {source}: field pairs.scored exceeds pairs.total; re-run colorbench score")
        _check(_text, pairs.get("sha256"), source, "pairs.sha256")
    _check(_mapping, summary["metrics"], source, "metrics")
    for key, entry in summary["metrics"].items():
        _check(_mapping, entry, source, f"metrics.{key}")
        for name, (checker, required) in _ENTRY.items():
            if name in entry:
                _check(checker, entry[name], source, f"metrics.{key}.{name}")
            elif required:
                raise ColorbenchError(f"result {source}: field metrics.{key}.{name} is missing; re-run colorbench "
                                      "score to write a valid file")
    skipped = summary.get("skipped", {})
    _check(_mapping, skipped, source, "skipped")
    for name, reason in skipped.items():
        _check(_text, reason, source, f"skipped.{name}")
    _check(_mapping, summary.get("meta", {}), source, "meta")
    return summary


def load_summary(path: str | os.PathLike) -> tuple[Path, dict]:
    """``(file, summary)`` of a ``summary.json`` or a folder holding one, validated."""
    path = Path(path)
    file = path / SUMMARY_FILE if path.is_dir() else path
    if not file.is_file():
        raise ColorbenchError(f"result {path} is not a {SUMMARY_FILE} nor a folder holding one; pass what "
                              "'colorbench score --out' wrote")
    try:
        # parse_constant: a bare NaN or Infinity literal is not JSON; refuse it instead of reading nan.
        summary = json.loads(file.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ColorbenchError(f"result {file} is not valid JSON ({exc}); re-run colorbench score") from None
    except _Invalid as exc:
        raise ColorbenchError(f"result {file}: {exc}; re-run colorbench score") from None
    return file, validate_summary(summary, file)


def _refuse_constant(name: str) -> None:
    raise _Invalid(f"holds the non-JSON value {name}")


def result_files(out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """The two result files in ``out_dir``: (summary.json, per_image.parquet)."""
    out = Path(out_dir)
    return out / SUMMARY_FILE, out / PER_IMAGE_FILE


def write_result(out_dir: str | os.PathLike, per_image, summary: dict) -> Path:
    """Validate ``summary`` and write both files atomically (the table first, so a summary is
    never beside a missing or older table); returns the summary's path."""
    from .core.atomic import atomic_path, write_json

    summary_path, table_path = result_files(out_dir)
    validate_summary(summary, summary_path)
    with atomic_path(table_path) as tmp:
        per_image.to_parquet(tmp, index=False)
    return write_json(summary_path, summary)
