"""Score a method's outputs on a split, in one pass.

:func:`score` decodes every pair once (DataLoader workers), groups pairs of one size into batches
so every metric runs batched at the images' native resolution (on GPU when present), computes the
per-image metrics, gathers the per-image features the set metrics need (FID, FID infinity), and
writes ``per_image.parquet`` and ``summary.json``.

* Levels: ``image`` scores the full images; ``object`` (object splits) scores the crops to the
  bounding box of the target object's mask, and the reference's crop to its own object's box,
  as the MSA paper does; ``both`` does both in the same pass. Object-level columns and summary
  keys carry the suffix ``@object``.
* What depends only on the ground truths and references is cached on disk: the set metrics'
  ground-truth features and the ground-truth side of per-image metrics that split one off
  (``gt_side``, e.g. delta_his's reference histograms), keyed by the split's id, the level, the
  scored pairs, and the extractor's record (settings, weight checksum), so a second method on the
  same split pays only for its own images; anything else (another split, other settings) misses.
* Interrupt-safe: completed pairs are checkpointed under ``OUT/.partial`` (atomically);
  ``resume=True`` continues from there and loses or duplicates no row. Final files are written
  atomically.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from .config import ScoreConfig
from .core.atomic import atomic_path, write_json
from .core.cache import cache_key, load_arrays, save_arrays
from .core.device import resolve_device
from .core.errors import ColorbenchError, MissingWeightsError
from .core.splits import Split, load_split, plain_records
from .core.weights import ensure_weights, file_sha256, weight_path
from .metrics.base import Batch
from .pairs_io import PairSource, keep_items, safe_load_pair
from .registry import MetricSpec, get_metric, list_metrics
from .version import __version__

__all__ = ["score", "ScoreResult", "OBJECT_SUFFIX"]

OBJECT_SUFFIX = "@object"
_CHECKPOINT_SECONDS = 20.0


@dataclass
class ScoreResult:
    """``per_image``: a row per scored pair; ``summary``: what ``summary.json`` holds."""

    per_image: pd.DataFrame
    summary: dict


def _column(name: str, level: str) -> str:
    return name if level == "image" else f"{name}{OBJECT_SUFFIX}"


def _select_metrics(requested: list[str] | None, split: Split) -> tuple[list[MetricSpec], dict[str, str]]:
    """The metrics to run and, for the default set, those skipped with the reason."""
    has_labels = bool(split.table["label"].notna().any())
    explicit = requested is not None
    specs, skipped = [], {}
    for name in requested if explicit else list_metrics(default_only=True):
        spec = get_metric(name)
        if "label" in spec.needs and not has_labels:
            if explicit:
                raise ColorbenchError(f"metric {name} needs class labels and split {split.split_id} has none")
            skipped[name] = "the split has no class labels"
            continue
        try:
            for network in spec.networks:
                ensure_weights(network)
        except MissingWeightsError as exc:
            if explicit:
                raise
            skipped[name] = str(exc)
            continue
        specs.append(spec)
    if not specs:
        raise ColorbenchError("no metric can run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    return specs, skipped


def _levels(level: str, split: Split) -> list[str]:
    if level not in ("image", "object", "both"):
        raise ColorbenchError(f"--level must be image, object or both; got {level!r}")
    if split.level != "object":
        if level == "object":
            raise ColorbenchError(f"--level object needs an object-level split; {split.split_id} is image level")
        return ["image"]
    return ["image", "object"] if level == "both" else [level]


def _check_outputs(table: pd.DataFrame, pred_dir: Path, allow_missing: bool, warn) -> tuple[pd.DataFrame, list[str]]:
    if not pred_dir.is_dir():
        raise ColorbenchError(f"output folder {pred_dir} does not exist")
    present = {p.name for p in pred_dir.iterdir() if p.suffix == ".png"}
    expected = {f"{pid}.png" for pid in table["pair_id"]}
    missing = [pid for pid in table["pair_id"] if f"{pid}.png" not in present]
    extra = sorted(present - expected)
    if extra:
        warn(f"{len(extra)} file(s) in {pred_dir} are not pairs of this split and are ignored (e.g. {extra[0]})")
    if missing and not allow_missing:
        raise ColorbenchError(f"{len(missing)} of {len(table)} outputs are missing from {pred_dir} (first: "
                              f"{', '.join(missing[:3])}); write <pair_id>.png for every pair, or pass --allow-missing")
    if missing:
        warn(f"{len(missing)} outputs missing; scoring the other {len(table) - len(missing)} (first missing: "
             f"{', '.join(missing[:3])})")
        table = table[~table["pair_id"].isin(missing)]
    if table.empty:
        raise ColorbenchError(f"no output of this split is in {pred_dir}")
    return table, missing


class _Pairs(Dataset):
    def __init__(self, rows: list[dict], source: PairSource, object_level: bool):
        self.rows, self.source, self.object_level = rows, source, object_level

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return safe_load_pair(self.rows[i], self.source, self.object_level)


def _views(item: dict, levels: list[str]) -> dict[str, dict]:
    """The images each level scores: full images, or crops to the objects' boxes."""
    views = {}
    if "image" in levels:
        views["image"] = {"pred": item["pred"], "gt": item["gt"], "reference": item["reference"],
                          "mask": item.get("mask"), "reference_mask": item.get("reference_mask")}
    if "object" in levels:
        top, bottom, left, right = item["box"]
        rtop, rbottom, rleft, rright = item["reference_box"]
        views["object"] = {"pred": item["pred"][top:bottom, left:right], "gt": item["gt"][top:bottom, left:right],
                           "reference": item["reference"][rtop:rbottom, rleft:rright],
                           "mask": item["mask"][top:bottom, left:right],
                           "reference_mask": item["reference_mask"][rtop:rbottom, rleft:rright]}
    return views


def _to_batch(pair_ids: list[str], views: list[dict], labels: list[int], device: torch.device) -> Batch:
    def stack(key):
        return torch.from_numpy(np.stack([v[key] for v in views])).permute(0, 3, 1, 2).contiguous().to(device)

    def each(key, channels_last=True):
        if views[0][key] is None:
            return None
        out = [torch.from_numpy(np.ascontiguousarray(v[key])) for v in views]
        return [(t.permute(2, 0, 1) if channels_last else t[None]).to(device) for t in out]

    mask = None
    if views[0]["mask"] is not None:
        mask = torch.from_numpy(np.stack([v["mask"] for v in views]))[:, None].to(device)
    return Batch(pred=stack("pred"), gt=stack("gt"), reference=each("reference"), mask=mask,
                 reference_mask=each("reference_mask", channels_last=False),
                 label=torch.tensor(labels, dtype=torch.int64, device=device), pair_ids=pair_ids)


@dataclass
class _State:
    """Everything computed so far, by level."""

    values: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(dict)))  # level/metric/pair
    features: dict = field(default_factory=lambda: defaultdict(dict))  # (level, key, role) -> pair -> vector
    done: set = field(default_factory=set)
    notes: list = field(default_factory=list)


def score(split: Split | str | os.PathLike, pred_dir: str | os.PathLike, metrics: list[str] | None = None,
          level: str = "both", method: str | None = None, out_dir: str | os.PathLike | None = None,
          device: str = "auto", batch_size: int = 32, workers: int = 2, resume: bool = False,
          allow_missing: bool = False, resize: bool = False, config: ScoreConfig | dict | None = None,
          images_root: str | os.PathLike | None = None, pool_root: str | os.PathLike | None = None,
          progress: bool = True, warn: Callable[[str], None] | None = None) -> ScoreResult:
    """Score the outputs in ``pred_dir`` (``<pair_id>.png``) on ``split``.

    Args:
        metrics: metric names (default: every metric of the default set the split supports whose
            network is present; the others are listed in ``summary["skipped"]`` with the reason;
            variants such as ``lpips_vgg`` run only when named).
        level: ``image``, ``object`` or ``both``.
        out_dir: where to write ``per_image.parquet`` and ``summary.json`` (None: write nothing).
        resume: continue an interrupted run in ``out_dir``.
        allow_missing: score the outputs present instead of failing on missing ones.
        resize: resize outputs whose size differs from the target (bicubic) instead of failing.
        config: metric settings (:class:`ScoreConfig` or a dict of its fields).

    Returns:
        :class:`ScoreResult` with the per-image table and the summary.
    """
    from tqdm.auto import tqdm

    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    config = config if isinstance(config, ScoreConfig) else ScoreConfig.from_dict(config)
    split_file = None if isinstance(split, Split) else str(Path(split).resolve())
    split = split if isinstance(split, Split) else load_split(split)
    pred_dir = Path(pred_dir)
    levels = _levels(level, split)
    specs, skipped = _select_metrics(metrics, split)
    table, missing = _check_outputs(split.table, pred_dir, allow_missing, warn)
    torch_device = resolve_device(device)
    built = {spec.name: spec.factory(config, torch_device) for spec in specs}
    per_image = [s for s in specs if s.output == "per_image"]
    extractors = {}  # feature key -> extractor shared by the set metrics using it
    for spec in specs:
        if spec.output == "per_set":
            extractors.setdefault(spec.features or spec.name, built[spec.name])

    # Everything whose ground-truth half is cached: set-metric features, and per-image metrics
    # with a gt_side (see bench.metrics.base).
    sided = {s.name: built[s.name] for s in per_image if hasattr(built[s.name], "gt_side")}
    gt_sources = {**extractors, **sided}

    pair_ids = table["pair_id"].tolist()
    pair_index = {pid: i for i, pid in enumerate(pair_ids)}
    fingerprint = {"split_id": split.split_id, "pairs": pair_ids, "levels": levels, "metrics": [s.name for s in specs],
                   "config": config.as_dict(), "resize": resize, "version": __version__}
    checkpoint = _Checkpoint(Path(out_dir) / ".partial" if out_dir else None, fingerprint)
    state = checkpoint.load() if resume else _State()
    if not resume:
        checkpoint.clear()

    gt_keys = {(lvl, key): _gt_cache_key(split, lvl, key, pair_ids, source)
               for lvl in levels for key, source in gt_sources.items()}
    cached_gt = {k: load_arrays(v) for k, v in gt_keys.items()}
    need_gt = {k for k, v in cached_gt.items() if v is None}

    source = PairSource(split.root("images", images_root), split.root("pool", pool_root), pred_dir, split.recipe,
                        resize)
    rows = [r for r in plain_records(table) if r["pair_id"] not in state.done]
    loader = DataLoader(_Pairs(rows, source, split.level == "object"), batch_size=None, shuffle=False,
                        collate_fn=keep_items, num_workers=min(workers, len(rows)) if rows else 0)
    buckets: dict[tuple, list] = defaultdict(list)
    pending_levels: dict[str, int] = {}

    def gt_side(lvl: str, name: str, batch: Batch) -> torch.Tensor:
        cached = cached_gt[(lvl, name)]
        if cached is not None:
            rows = cached["features"][[pair_index[pid] for pid in batch.pair_ids]]
            return torch.from_numpy(rows).to(torch_device)
        side = sided[name].gt_side(batch)
        state.features[(lvl, name, "gt")].update(zip(batch.pair_ids, side.detach().double().cpu().numpy()))
        return side

    def flush(bucket_key) -> None:
        lvl = bucket_key[0]
        entries = buckets.pop(bucket_key)
        ids = [e[0] for e in entries]
        batch = _to_batch(ids, [e[1] for e in entries], [e[2] for e in entries], torch_device)
        with torch.no_grad():
            for spec in per_image:
                metric = built[spec.name]
                values = metric(batch, gt_side(lvl, spec.name, batch)) if spec.name in sided else metric(batch)
                values = values.detach().double().cpu().numpy()
                state.values[lvl][spec.name].update(zip(ids, values.tolist()))
            for key, extractor in extractors.items():
                for role in ("pred", "gt") if (lvl, key) in need_gt else ("pred",):
                    vectors = extractor.extract(getattr(batch, role))
                    state.features[(lvl, key, role)].update(zip(ids, np.asarray(vectors, dtype=np.float64)))
        for pid in ids:
            pending_levels[pid] -= 1
            if pending_levels[pid] == 0:
                state.done.add(pid)
                del pending_levels[pid]

    last_save = time.monotonic()
    with tqdm(total=len(pair_ids), initial=len(state.done), desc="scoring", unit="pair", disable=not progress) as bar:
        for item in loader:
            if "error" in item:
                raise item["error"]
            state.notes.extend(item["notes"])
            views = _views(item, levels)
            pending_levels[item["pair_id"]] = len(views)
            for lvl, view in views.items():
                key = (lvl, *view["pred"].shape[:2])
                buckets[key].append((item["pair_id"], view, item["label"]))
                if len(buckets[key]) >= batch_size:
                    flush(key)
            bar.n = len(state.done)
            bar.refresh()
            if time.monotonic() - last_save > _CHECKPOINT_SECONDS:
                checkpoint.save(state)
                last_save = time.monotonic()
        for key in list(buckets):
            flush(key)
        bar.n = len(state.done)
        bar.refresh()

    for note in sorted(set(state.notes))[:5]:
        warn(note)
    if len(set(state.notes)) > 5:
        warn(f"... and {len(set(state.notes)) - 5} more outputs converted or resized")
    _save_gt_cache(state, pair_ids, cached_gt, gt_keys)
    frame, summary_metrics = _collect(state, specs, levels, pair_ids, cached_gt, config, built)
    summary = {"method": method or pred_dir.name, "split_id": split.split_id, "level": level if split.level == "object"
               else "image", "metrics": summary_metrics, "skipped": skipped,
               "meta": {"colorbench_version": __version__, "config": config.as_dict(), "device": str(torch_device),
                        "networks": _network_checksums(specs), "pred_dir": str(pred_dir.resolve()),
                        "pairs_scored": len(pair_ids), "pairs_missing": len(missing), "missing_first": missing[:10],
                        "converted_or_resized": len(set(state.notes)), "split_builder": split.meta.get("builder"),
                        "split_file": split_file, "features": split.meta.get("features")}}
    if out_dir:
        out = Path(out_dir)
        with atomic_path(out / "per_image.parquet") as tmp:
            frame.to_parquet(tmp, index=False)
        write_json(out / "summary.json", summary)
        checkpoint.clear()
    return ScoreResult(frame, summary)


def _gt_cache_key(split: Split, level: str, feature: str, pair_ids: list[str], extractor) -> str:
    record = getattr(extractor, "record", lambda: {})()
    return cache_key("gt-features", split_id=split.split_id, level=level, feature=feature, pairs=pair_ids,
                     extractor=record)


def _save_gt_cache(state: _State, pair_ids: list[str], cached_gt: dict, gt_keys: dict) -> None:
    """Store the ground-truth halves computed in this run (those not loaded from the cache)."""
    for (lvl, key), cached in cached_gt.items():
        if cached is None:
            gt = np.stack([state.features[(lvl, key, "gt")][pid] for pid in pair_ids])
            save_arrays(gt_keys[(lvl, key)], {"features": gt}, {"what": f"ground-truth side of {key}", "level": lvl})
            cached_gt[(lvl, key)] = {"features": gt}


def _network_checksums(specs: list[MetricSpec]) -> dict:
    out = {}
    for spec in specs:
        for network in spec.networks:
            path = weight_path(network)
            out[network] = {"file": path.name, "sha256": file_sha256(path)}
    return out


def _bootstrap_ci(values: np.ndarray, config: ScoreConfig) -> list[float] | None:
    if len(values) < 2:
        return None
    rng = np.random.default_rng(config.bootstrap_seed)
    means = values[rng.integers(0, len(values), size=(config.bootstrap_samples, len(values)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def _json_number(value: float) -> float | str | None:
    """JSON has no inf/nan: they are written as the strings "inf"/"-inf", and nan as null."""
    if value is None or np.isnan(value):
        return None
    return value if np.isfinite(value) else ("inf" if value > 0 else "-inf")


def _collect(state: _State, specs, levels, pair_ids, cached_gt, config, built):
    frame = pd.DataFrame({"pair_id": pair_ids})
    summary = {}
    for lvl in levels:
        for spec in specs:
            column = _column(spec.name, lvl)
            if spec.output == "per_image":
                values = np.array([state.values[lvl][spec.name].get(pid, np.nan) for pid in pair_ids], dtype=np.float64)
                frame[column] = values
                finite = values[~np.isnan(values)]
                summary[column] = {"value": _json_number(float(finite.mean())) if len(finite) else None,
                                   "ci95": _bootstrap_ci(finite, config) if np.isfinite(finite).all() else None,
                                   "direction": spec.direction, "n": int(len(finite)), "output": "per_image",
                                   "matches": spec.matches}
            else:
                key = spec.features or spec.name
                pred = np.stack([state.features[(lvl, key, "pred")][pid] for pid in pair_ids])
                result = built[spec.name].compute(pred, cached_gt[(lvl, key)]["features"])
                summary[column] = {**{k: (_json_number(v) if isinstance(v, float) else v) for k, v in result.items()},
                                   "direction": spec.direction, "n": int(len(pair_ids)), "output": "per_set",
                                   "matches": spec.matches}
    return frame, summary


class _Checkpoint:
    """Completed pairs' values and features under ``OUT/.partial``, written atomically."""

    def __init__(self, folder: Path | None, fingerprint: dict):
        self.folder, self.fingerprint = folder, fingerprint

    def clear(self) -> None:
        if self.folder and self.folder.exists():
            for path in self.folder.iterdir():
                path.unlink()
            self.folder.rmdir()

    def save(self, state: _State) -> None:
        if not self.folder:
            return
        done = sorted(state.done)
        arrays = {"pairs": np.array(done, dtype=str)}
        for lvl, by_metric in state.values.items():
            for name, values in by_metric.items():
                arrays[f"v|{lvl}|{name}"] = np.array([values[pid] for pid in done], dtype=np.float64)
        for (lvl, key, role), vectors in state.features.items():
            if done:
                arrays[f"f|{lvl}|{key}|{role}"] = np.stack([vectors[pid] for pid in done])
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.folder / "state.npz") as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        write_json(self.folder / "run.json", {**self.fingerprint, "notes": sorted(set(state.notes))})

    def load(self) -> _State:
        state = _State()
        if not self.folder or not (self.folder / "state.npz").is_file():
            return state
        saved = json.loads((self.folder / "run.json").read_text())
        notes = saved.pop("notes", [])
        if saved != json.loads(json.dumps(self.fingerprint)):
            raise ColorbenchError(f"{self.folder.parent} holds an interrupted run with other settings (split, outputs, "
                                  "metrics or config); remove it or run without --resume")
        with np.load(self.folder / "state.npz", allow_pickle=False) as npz:
            done = npz["pairs"].tolist()
            for name in npz.files:
                parts = name.split("|")
                if parts[0] == "v":
                    state.values[parts[1]][parts[2]].update(zip(done, npz[name].tolist()))
                elif parts[0] == "f":
                    state.features[(parts[1], parts[2], parts[3])].update(zip(done, npz[name]))
        state.done = set(done)
        state.notes = notes
        return state
