"""Score a method's outputs on a split, in one streaming pass.

:func:`score` decodes every pair once (DataLoader workers), groups pairs of one size into batches
bounded by a pair count *and* a pixel budget, so every metric runs batched at the images' native
resolution (on GPU when present) with memory that does not depend on the images' sizes or on how
many sizes the split has. It computes the per-image metrics, gathers the per-image features the
set metrics need (FID, FID infinity), and writes ``per_image.parquet`` and ``summary.json`` (the
schema is :mod:`bench.results`).

* Levels: ``image`` scores the full images; ``object`` (object splits) scores the crops to the
  bounding box of the target object's mask, and the reference's crop to its own object's box,
  as the MSA paper does; ``both`` does both in the same pass. Object-level keys end in ``@object``.
* What depends only on the ground truths and references is cached on disk: the set metrics'
  ground-truth features and the ground-truth side of per-image metrics that split one off
  (``gt_side``, e.g. delta_his's reference histograms), keyed by the split's id, the level, the
  scored pairs, and the extractor's record (settings, weight checksum), so a second method on the
  same split pays only for its own images; anything else (another split, other settings) misses.
* Bounded memory: decoded pairs wait in per-size buckets until a bucket holds ``batch_size`` pairs
  or ``batch_pixels`` pixels; when all waiting pairs together exceed :data:`MAX_PENDING_BATCHES`
  batches' worth of pixels, the fullest bucket is scored early.
* Interrupt-safe: after every scored batch, once :data:`CHECKPOINT_SECONDS` have passed since the
  last save, the pairs finished since are appended to the checkpoint under ``OUT/.partial`` (pairs
  still waiting in a bucket have had no scoring work yet; a resumed run reads them again);
  ``resume=True`` continues from there (refusing a checkpoint of other outputs or settings, see
  :mod:`bench.score_state`) and loses or duplicates no row.
* Other papers' rules: a protocol (:mod:`bench.protocols`) fixes the metrics, level and settings;
  settings that resize outputs and ground truths or send the ground truth through Lab
  (:mod:`bench.eval_prep`) are applied in the DataLoader worker that decoded the pair, so no image
  is decoded twice. On a split without references, metrics that need one are skipped with the reason.
* One run per output folder at a time (an OS lock on ``OUT``); an existing result is replaced only
  with ``overwrite=True``; the output folder is checked before any work starts.
* Several processes (``torchrun``, :mod:`bench.core.distributed`): the pairs left to score are
  dealt to the processes; each computes its pairs' per-image values and set-metric features and
  checkpoints them in its own ``OUT/.partial/rank-<R>``; the main process then merges every
  checkpoint and computes what needs all pairs at once (FID, FID infinity, the bootstrap intervals)
  exactly as one process would, in the split's order. A resume may use another number of
  processes: every process's checkpoint is read, whichever run wrote it.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from .config import DEFAULT_BATCH_PIXELS, DEFAULT_BATCH_SIZE, DEFAULT_WORKERS, ScoreConfig
from .core import distributed
from .core.cache import cache_key, load_arrays, save_arrays
from .core.device import resolve_device
from .core.errors import ColorbenchError, MissingWeightsError
from .core.paths import check_output_dir, exclusive_lock
from .core.splits import Split, load_split, plain_records
from .core.weights import ensure_weights, file_sha256, weight_path
from .core.workers import data_loader
from .eval_prep import ImagePrep
from .metrics.base import Batch, compute_set
from .metrics.registry import MetricSpec, get_metric, list_metrics
from .pairs_io import PairSource, keep_items, safe_load_pair
from .results import (
    OBJECT_SUFFIX,
    SCHEMA_VERSION,
    bootstrap_ci,
    json_number,
    load_summary,
    metric_key,
    pairs_record,
    result_files,
    write_result,
)
from .score_state import (
    CHECKPOINT_DIR,
    Checkpoint,
    ScoreState,
    clear_checkpoints,
    load_checkpoints,
    output_stamps,
    rank_folder,
)
from .version import __version__

__all__ = ["CHECKPOINT_SECONDS", "OBJECT_SUFFIX", "ScoreResult", "score", "resolve_protocol"]

#: At most this many seconds of work pass between two checkpoints (``$COLORBENCH_CHECKPOINT_SECONDS``
#: overrides it: 0 saves after every batch, as the tests of interrupted multi-process runs need).
CHECKPOINT_SECONDS = float(os.environ.get("COLORBENCH_CHECKPOINT_SECONDS", 10.0))
#: Decoded pairs waiting in buckets may hold this many batches' worth of pixels before the fullest
#: bucket is scored early.
MAX_PENDING_BATCHES = 4


@dataclass
class ScoreResult:
    """``per_image``: a row per scored pair; ``summary``: what ``summary.json`` holds."""

    per_image: pd.DataFrame
    summary: dict


def _select_metrics(requested: list[str] | None, split: Split, config: ScoreConfig,
                    strict: bool = True) -> tuple[list[MetricSpec], dict[str, str]]:
    """The metrics to run and, for the default set, those skipped with the reason (metrics that need
    a reference are skipped on a split without references even when named: a protocol or a metric
    list written for exemplar-based methods then still scores automatic ones). ``strict=False``
    skips named metrics that cannot run too, instead of failing."""
    has_labels = bool(split.table["label"].notna().any())
    explicit = requested is not None and strict
    specs, skipped = [], {}
    for name in requested if requested is not None else list_metrics(default_only=True):
        spec = get_metric(name)
        if "reference" in spec.needs and not split.has_references:
            skipped[name] = f"needs a reference; {split.no_references_note()} (automatic colorization)"
            continue
        if "label" in spec.needs and not has_labels:
            if explicit:
                raise ColorbenchError(f"metric {name} needs class labels and split {split.split_id} has none")
            skipped[name] = "the split has no class labels"
            continue
        try:
            for network in spec.networks_for(config):
                ensure_weights(network)
        except MissingWeightsError as exc:
            if explicit:
                raise
            skipped[name] = str(exc)
            continue
        specs.append(spec)
    if not specs and strict:
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
             f"{', '.join(missing[:3])}); the result is marked partial")
        table = table[~table["pair_id"].isin(missing)]
    if table.empty:
        raise ColorbenchError(f"no output of this split is in {pred_dir}")
    return table, missing


def _refuse_existing_result(out: Path, overwrite: bool) -> None:
    existing = [path.name for path in result_files(out) if path.exists()]
    if existing and not overwrite:
        raise ColorbenchError(f"{out} already holds a result ({', '.join(existing)}); pass --overwrite to replace it, "
                              "or choose another --out")


class _Pairs(Dataset):
    """Each pair decoded once, then prepared (:class:`ImagePrep`) once per preparation asked for:
    ``{"pair_id", "prepared": [item per prep]}``, or ``{"pair_id", "error"}``."""

    def __init__(self, rows: list[dict], source: PairSource, object_level: bool,
                 preps: tuple[ImagePrep, ...] = (ImagePrep(),)):
        self.rows, self.source, self.object_level, self.preps = rows, source, object_level, preps

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        item = safe_load_pair(self.rows[i], self.source, self.object_level)
        if "error" in item:
            return item
        try:
            return {"pair_id": item["pair_id"], "prepared": [prep.apply(item) for prep in self.preps]}
        except ColorbenchError as exc:
            return {"pair_id": item["pair_id"], "error": exc}


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


class _Pass:
    """The streaming part of a run: buckets of decoded pairs, scored batch by batch into ``state``.

    Args:
        metrics: name -> built metric; ``per_image``: the per-image specs; ``extractors``: feature
            key -> the set metric extracting it; ``sided``: per-image metrics with a gt side.
        gt_cache: (level, key) -> cached ground-truth arrays or None; ``pair_index``: pair -> row.
        after_batch: called after every scored batch (the run's checkpointing and progress).
    """

    def __init__(self, state: ScoreState, metrics: dict, per_image: list[MetricSpec], extractors: dict,
                 sided: dict, gt_cache: dict, pair_index: dict, levels: list[str], device: torch.device,
                 batch_size: int, batch_pixels: int, after_batch: Callable[[], None]):
        self.state, self.metrics, self.per_image, self.after_batch = state, metrics, per_image, after_batch
        self.extractors, self.sided, self.gt_cache = extractors, sided, gt_cache
        self.pair_index, self.levels, self.device = pair_index, levels, device
        self.batch_size, self.batch_pixels = batch_size, batch_pixels
        self.need_gt = {k for k, v in gt_cache.items() if v is None}
        self.buckets: dict[tuple, list] = defaultdict(list)
        self.bucket_pixels: dict[tuple, int] = defaultdict(int)
        self.pending_pixels = 0
        self.pending_levels: dict[str, int] = {}

    def add(self, item: dict) -> None:
        """Queue a decoded pair's views; score whatever batch that completes or overflows."""
        self.state.notes.extend(item["notes"])
        views = _views(item, self.levels)
        self.pending_levels[item["pair_id"]] = len(views)
        for lvl, view in views.items():
            height, width = view["pred"].shape[:2]
            key = (lvl, height, width)
            self.buckets[key].append((item["pair_id"], view, item["label"]))
            self.bucket_pixels[key] += height * width
            self.pending_pixels += height * width
            if len(self.buckets[key]) >= self.batch_size or self.bucket_pixels[key] >= self.batch_pixels:
                self.flush(key)
        while self.pending_pixels > MAX_PENDING_BATCHES * self.batch_pixels:
            self.flush(max(self.bucket_pixels, key=self.bucket_pixels.get))

    def flush_all(self) -> None:
        for key in list(self.buckets):
            self.flush(key)

    def _gt_side(self, lvl: str, name: str, batch: Batch) -> torch.Tensor:
        cached = self.gt_cache[(lvl, name)]
        if cached is not None:
            rows = cached["features"][[self.pair_index[pid] for pid in batch.pair_ids]]
            return torch.from_numpy(rows).to(self.device)
        side = self.sided[name].gt_side(batch)
        self.state.features[(lvl, name, "gt")].update(zip(batch.pair_ids, side.detach().double().cpu().numpy()))
        return side

    def flush(self, key: tuple) -> None:
        """Score the pairs waiting in bucket ``key`` as one batch."""
        lvl = key[0]
        entries = self.buckets.pop(key)
        self.pending_pixels -= self.bucket_pixels.pop(key)
        ids = [e[0] for e in entries]
        batch = _to_batch(ids, [e[1] for e in entries], [e[2] for e in entries], self.device)
        with torch.no_grad():
            for spec in self.per_image:
                metric = self.metrics[spec.name]
                if spec.name in self.sided:
                    values = metric(batch, self._gt_side(lvl, spec.name, batch))
                else:
                    values = metric(batch)
                self.state.values[lvl][spec.name].update(zip(ids, values.detach().double().cpu().tolist()))
            for feature, extractor in self.extractors.items():
                for role in ("pred", "gt") if (lvl, feature) in self.need_gt else ("pred",):
                    vectors = np.asarray(extractor.extract(getattr(batch, role)), dtype=np.float64)
                    self.state.features[(lvl, feature, role)].update(zip(ids, vectors))
        for pid in ids:
            self.pending_levels[pid] -= 1
            if self.pending_levels[pid] == 0:
                del self.pending_levels[pid]
                self.state.mark_done(pid)
        self.after_batch()


@distributed.fails_together
def score(split: Split | str | os.PathLike, pred_dir: str | os.PathLike, *, metrics: list[str] | None = None,
          level: str = "both", method: str | None = None, out_dir: str | os.PathLike | None = None,
          device: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE, batch_pixels: int = DEFAULT_BATCH_PIXELS,
          workers: int = DEFAULT_WORKERS,
          resume: bool = False, overwrite: bool = False, allow_missing: bool = False, resize: bool = False,
          config: ScoreConfig | dict | None = None, protocol: str | None = None,
          images_root: str | os.PathLike | None = None,
          pool_root: str | os.PathLike | None = None, progress: bool = True,
          warn: Callable[[str], None] | None = None) -> ScoreResult:
    """Score the outputs in ``pred_dir`` (``<pair_id>.png``) on ``split``.

    Args:
        metrics: metric names (default: every metric of the default set the split supports whose
            network is present; the others are listed in ``summary["skipped"]`` with the reason;
            variants such as ``lpips_vgg`` run only when named). Metrics that need a reference
            are skipped, with the reason, on a split without references.
        level: ``image``, ``object`` or ``both``.
        method: the method's name in the summary (default: ``pred_dir``'s folder name).
        out_dir: where to write ``per_image.parquet`` and ``summary.json`` (None: write nothing).
        batch_size, batch_pixels: a batch holds at most this many pairs and output pixels.
        workers: DataLoader worker processes decoding images (0: in this process).
        resume: continue an interrupted run in ``out_dir`` (only the same run: same split, outputs,
            method, metrics and settings).
        overwrite: replace a result already in ``out_dir`` (otherwise an error).
        allow_missing: score the outputs present instead of failing on missing ones (the result
            is marked partial).
        resize: resize outputs whose size differs from the target (bicubic) instead of failing.
        config: metric settings (:class:`ScoreConfig` or a dict of its fields); with ``protocol``,
            a dict overrides single settings of the protocol's (recorded as overrides).
        protocol: a registered protocol (:mod:`bench.protocols`, ``colorbench protocols``): its
            metrics, level and settings, after checking that the split fits it; ``metrics`` and
            ``level`` must then be left at their defaults.
        images_root, pool_root: where the split's target and reference images are now, if they
            moved since the split was built.

    Returns:
        :class:`ScoreResult` with the per-image table and the summary.
    """
    world = distributed.world()
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    if not world.is_main:
        warn = _silent  # every process sees the same inputs: the main process warns once
    if batch_size < 1 or batch_pixels < 1 or workers < 0:
        raise ColorbenchError(f"batch_size and batch_pixels must be >= 1 and workers >= 0; got {batch_size}, "
                              f"{batch_pixels} and {workers}")
    out = check_output_dir(out_dir) if out_dir is not None else None
    if out is None and world.active:
        raise ColorbenchError("scoring in several processes needs an output folder (--out / out_dir): the processes "
                              "merge their results through it")
    split_file = None if isinstance(split, Split) else str(Path(split).resolve())
    split = split if isinstance(split, Split) else load_split(split)
    metrics, level, config, protocol_record = resolve_protocol(protocol, split, metrics, level, config)
    config = config.for_split(split.level)
    with exclusive_lock(out, "scoring run") if out is not None and world.is_main else nullcontext():
        if out is not None and world.is_main:
            _refuse_existing_result(out, overwrite)
            if not resume:
                clear_checkpoints(out / CHECKPOINT_DIR)
        world.barrier()  # the main process holds OUT and cleared it before anyone writes there
        return _score(split, split_file, Path(pred_dir), out, metrics=metrics, level=level, method=method,
                      device=device, batch_size=batch_size, batch_pixels=batch_pixels, workers=workers,
                      resume=resume, allow_missing=allow_missing, resize=resize, config=config,
                      protocol=protocol_record, images_root=images_root, pool_root=pool_root, progress=progress,
                      warn=warn)


def resolve_protocol(protocol: str | None, split: Split, metrics: list[str] | None, level: str,
                     config: ScoreConfig | dict | None) -> tuple[list[str] | None, str, ScoreConfig, dict | None]:
    """``(metrics, level, config, protocol record)`` of a run: the arguments as given without a
    protocol; with one, its metrics, level and settings (a dict ``config`` overriding single settings),
    after checking that ``split`` fits it."""
    if protocol is None:
        return metrics, level, (config if isinstance(config, ScoreConfig) else ScoreConfig.from_dict(config)), None
    from .protocols import get_protocol

    rules = get_protocol(protocol)
    if metrics is not None:
        raise ColorbenchError(f"--protocol {protocol} fixes the metrics ({', '.join(rules.metrics)}); drop --metrics, "
                              "or score without --protocol")
    if level not in ("both", rules.level):
        raise ColorbenchError(f"--protocol {protocol} scores at {rules.level} level; drop --level")
    if isinstance(config, ScoreConfig):
        raise ColorbenchError("with a protocol, pass settings to override as a dict (or --config JSON), not a "
                              "ScoreConfig")
    rules.check_split(split)
    protocol_config = rules.config()
    resolved = ScoreConfig.from_dict({**dict(rules.settings), **dict(config or {})})
    overrides = {key: value for key, value in resolved.as_dict().items() if value != getattr(protocol_config, key)}
    return list(rules.metrics), rules.level, resolved, {**rules.record(), "overrides": overrides}


def _build(specs: list[MetricSpec], config: ScoreConfig, torch_device: torch.device, split: Split, levels: list[str],
           pair_ids: list[str]) -> dict:
    """The built metrics of one run, its ground-truth caches (what :class:`_Pass` takes) and the
    preparation of its pairs (``prep``)."""
    built = {spec.name: spec.factory(config, torch_device) for spec in specs}
    per_image = [s for s in specs if s.output == "per_image"]
    extractors = {}  # feature key -> extractor shared by the set metrics using it
    for spec in specs:
        if spec.output == "per_set":
            extractors.setdefault(spec.features or spec.name, built[spec.name])
    # Everything whose ground-truth half is cached: set-metric features, and per-image metrics
    # with a gt_side (see bench.metrics.base).
    sided = {s.name: built[s.name] for s in per_image if hasattr(built[s.name], "gt_side")}
    prep = ImagePrep.of(config)
    gt_keys = {(lvl, key): _gt_cache_key(split, lvl, key, pair_ids, source, prep)
               for lvl in levels for key, source in {**extractors, **sided}.items()}
    return {"built": built, "per_image": per_image, "extractors": extractors, "sided": sided, "gt_keys": gt_keys,
            "gt_cache": {k: load_arrays(v) for k, v in gt_keys.items()}, "prep": prep}


def _check_prep(config: ScoreConfig, levels: list[str]) -> None:
    if config.image_transform != "none" and "object" in levels:
        raise ColorbenchError(f"image_transform {config.image_transform} resizes whole images; it applies to image "
                              "level only: pass --level image")


def _score(split: Split, split_file: str | None, pred_dir: Path, out: Path | None, *, metrics, level, method, device,
           batch_size, batch_pixels, workers, resume, allow_missing, resize, config: ScoreConfig, protocol,
           images_root, pool_root, progress, warn) -> ScoreResult:
    from tqdm.auto import tqdm

    levels = _levels(level, split)
    _check_prep(config, levels)
    specs, skipped = _select_metrics(metrics, split, config)
    table, missing = _check_outputs(split.table, pred_dir, allow_missing, warn)
    method = method or pred_dir.resolve().name
    torch_device = resolve_device(device)
    pair_ids = table["pair_id"].tolist()
    fingerprint = {"split_id": split.split_id, "pairs": pair_ids, "levels": levels,
                   "metrics": [s.name for s in specs], "config": config.as_dict(), "resize": resize,
                   "method": method, "pred_dir": str(pred_dir.resolve()), "outputs": output_stamps(pred_dir, pair_ids),
                   "version": __version__}
    world = distributed.world()
    partial = out / CHECKPOINT_DIR if out is not None else None
    checkpoint = Checkpoint(rank_folder(partial, world.rank) if partial is not None else None, fingerprint)
    state = ScoreState()
    if resume:
        # Every process learns every finished pair (from every checkpoint, of any number of processes)
        # to deal out the same remaining ones; only a single process needs their values here.
        state = load_checkpoints(partial, fingerprint, data=not world.active)
        checkpoint.load(data=False)  # this process's own shards, which its saves continue

    run = _build(specs, config, torch_device, split, levels, pair_ids)
    built, gt_keys, gt_cache, prep = run["built"], run["gt_keys"], run["gt_cache"], run["prep"]
    source = PairSource(split.root("images", images_root), split.root("pool", pool_root), pred_dir, split.recipe,
                        resize, check_size=resize or not prep.resizes)
    finished = set(state.done)
    rows = world.shard([r for r in plain_records(table) if r["pair_id"] not in finished])
    loader = data_loader(_Pairs(rows, source, split.level == "object", (prep,)), batch_size=None, shuffle=False,
                         collate_fn=keep_items, num_workers=min(workers, len(rows)))
    last_save = time.monotonic()
    already = len(state.done)
    with tqdm(total=len(pair_ids), initial=already, desc="scoring", unit="pair",
              disable=not (progress and world.is_main)) as bar:
        def after_batch() -> None:
            # after every scored batch (also those of the final flush): the pairs finished since the
            # last save, once CHECKPOINT_SECONDS have passed
            nonlocal last_save
            if time.monotonic() - last_save >= CHECKPOINT_SECONDS:
                checkpoint.save(state)
                last_save = time.monotonic()
            world.check_peers()
            bar.update(already + world.count("scored", len(state.done) - already) - bar.n)

        scoring = _Pass(state, built, run["per_image"], run["extractors"], run["sided"], gt_cache,
                        {pid: i for i, pid in enumerate(pair_ids)}, levels, torch_device, batch_size, batch_pixels,
                        after_batch)
        for item in loader:
            if "error" in item:
                raise item["error"]
            world.check_peers()
            scoring.add(item["prepared"][0])
        scoring.flush_all()
        if world.active:
            checkpoint.save(state)  # every pair this process scored, for the main process to merge
            world.barrier()
            bar.update(len(pair_ids) - bar.n)

    if world.active:
        if not world.is_main:
            world.barrier()  # the main process writes the result
            return read_result(out)
        state = load_checkpoints(partial, fingerprint)
    _report_notes(state.notes, warn)
    _save_gt_cache(state, pair_ids, gt_cache, gt_keys)
    frame, summary_metrics, set_skipped = _collect(state, specs, levels, pair_ids, gt_cache, config, built)
    summary = {"schema_version": SCHEMA_VERSION, "method": method, "split_id": split.split_id,
               "level": level if split.level == "object" else "image",
               "pairs": pairs_record(pair_ids, len(split.table)), "metrics": summary_metrics,
               "skipped": {**skipped, **set_skipped},
               "meta": {"colorbench_version": __version__, "config": config.as_dict(), "device": str(torch_device),
                        "processes": world.size,
                        "networks": _network_checksums(specs, config), "pred_dir": str(pred_dir.resolve()),
                        "protocol": protocol,
                        "pairs_scored": len(pair_ids), "pairs_missing": len(missing), "missing_first": missing[:10],
                        "converted_or_resized": len(set(state.notes)), "split_builder": split.meta.get("builder"),
                        "split_file": split_file, "features": split.meta.get("features")}}
    if out is not None:
        write_result(out, frame, summary)
        clear_checkpoints(partial)
    world.barrier()
    return ScoreResult(frame, summary)


def _silent(message: str) -> None:
    pass


def read_result(out: Path) -> ScoreResult:
    """The result a scoring run wrote in ``out``."""
    summary_path, table_path = result_files(out)
    return ScoreResult(pd.read_parquet(table_path), load_summary(summary_path)[1])


def _report_notes(notes: list[str], warn) -> None:
    unique = sorted(set(notes))
    for note in unique[:5]:
        warn(note)
    if len(unique) > 5:
        warn(f"... and {len(unique) - 5} more outputs converted, resized or flagged")


def _gt_cache_key(split: Split, level: str, feature: str, pair_ids: list[str], extractor, prep: ImagePrep) -> str:
    record = getattr(extractor, "record", dict)()
    return cache_key("gt-features", split_id=split.split_id, level=level, feature=feature, pairs=pair_ids,
                     extractor=record, prep=prep.record())


def _save_gt_cache(state: ScoreState, pair_ids: list[str], gt_cache: dict, gt_keys: dict) -> None:
    """Store the ground-truth halves computed in this run (those not loaded from the cache)."""
    for (lvl, key), cached in gt_cache.items():
        if cached is None:
            gt = np.stack([state.features[(lvl, key, "gt")][pid] for pid in pair_ids])
            save_arrays(gt_keys[(lvl, key)], {"features": gt}, {"what": f"ground-truth side of {key}", "level": lvl})
            gt_cache[(lvl, key)] = {"features": gt}


def _network_checksums(specs: list[MetricSpec], config: ScoreConfig) -> dict:
    out = {}
    for spec in specs:
        for network in spec.networks_for(config):
            path = weight_path(network)
            out[network] = {"file": path.name, "sha256": file_sha256(path)}
    return out


def _collect(state: ScoreState, specs, levels, pair_ids, gt_cache, config: ScoreConfig, built):
    """The per-image table, the summary's metric entries and the set metrics' skipped variants."""
    columns = {"pair_id": pair_ids}
    summary, skipped = {}, {}
    for lvl in levels:
        for spec in specs:
            column = metric_key(spec.name, lvl)
            if spec.output == "per_image":
                by_pair = state.values[lvl][spec.name]
                values = np.array([by_pair.get(pid, np.nan) for pid in pair_ids], dtype=np.float64)
                columns[column] = values
                finite = values[~np.isnan(values)]
                summary[column] = {"value": json_number(float(finite.mean())) if len(finite) else None,
                                   "ci95": (bootstrap_ci(finite, config.bootstrap_samples, config.bootstrap_seed)
                                            if np.isfinite(finite).all() else None),
                                   "direction": spec.direction, "n": len(finite), "output": "per_image",
                                   "matches": spec.matches}
                continue
            feature = spec.features or spec.name
            pred = np.stack([state.features[(lvl, feature, "pred")][pid] for pid in pair_ids])
            metric, gt = built[spec.name], gt_cache[(lvl, feature)]["features"]
            results, not_computed = compute_set(metric, pred, gt)
            for variant, reason in not_computed.items():
                skipped[metric_key(spec.name, lvl, variant)] = reason
            for variant, result in results.items():
                summary[metric_key(spec.name, lvl, variant)] = {
                    **{k: (json_number(v) if isinstance(v, float) else v) for k, v in result.items()},
                    "direction": spec.direction, "n": len(pair_ids), "output": "per_set",
                    "matches": spec.matches}
    return pd.DataFrame(columns), summary, skipped
