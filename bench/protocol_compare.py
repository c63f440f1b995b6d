"""How much the rules move the numbers: one set of outputs scored under every protocol's rules.

:func:`protocol_sensitivity` (``colorbench protocols compare``) scores the same outputs under

* colorbench's default rules (``default``);
* single changes to them, one rule at a time, each named by what it changes: FID on torchvision's
  Inception (with each input range its users feed it), a dropped partial batch, the ``squash`` and
  ``center_crop_resize`` resize rules, colourfulness in the ``abs`` form, SSIM as CT2 calls it, the
  ground truth sent through Lab and back;
* every registered protocol whose level fits the split (:mod:`bench.protocols`; their split
  builders are not required here: the point is the rules, on whatever split the user has);

and prints, for each metric, its value under each rule set and the spread (largest minus smallest).
Every image is decoded once (each rule set's resizing is applied to the decoded pair in the worker
that decoded it), metrics whose weights are missing are skipped with the reason, and the ground
truths' features go through the scorer's cache, so a second method on the same split pays only for
its own outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .config import DEFAULT_BATCH_PIXELS, DEFAULT_BATCH_SIZE, DEFAULT_WORKERS, ScoreConfig
from .core.errors import ColorbenchError
from .core.splits import Split, load_split, plain_records

__all__ = ["COMPARED_METRICS", "Sensitivity", "protocol_sensitivity", "rule_sets"]

#: What the default rules and the single-rule changes score (those a change leaves unmoved are not re-scored).
COMPARED_METRICS = ("ssim", "psnr", "lpips", "fid", "colorfulness", "colorfulness_diff", "colorfulness_set_diff")
_GT_SIDE = ("ssim", "psnr", "lpips", "fid", "colorfulness_diff", "colorfulness_set_diff")


@dataclass(frozen=True)
class RuleSet:
    """One column of the comparison: a name, the metrics it scores, its settings and level."""

    name: str
    metrics: tuple[str, ...]
    settings: dict = field(default_factory=dict)
    level: str = "image"
    kind: str = "change"  # "default", "change" (one rule changed) or "protocol"


def rule_sets(split: Split, partial_batch: int = 32) -> list[RuleSet]:
    """The rule sets compared on ``split``: the defaults, single-rule changes, then the protocols that fit."""
    from .protocols import PROTOCOLS

    sets = [RuleSet("default", COMPARED_METRICS, kind="default"),
            RuleSet("fid: torchvision [-1,1]", ("fid",), {"fid_backbone": "torchvision"}),
            RuleSet("fid: torchvision [0,1]", ("fid",), {"fid_backbone": "torchvision", "fid_input_range": "zero_one"}),
            RuleSet(f"fid: drop partial batch of {partial_batch}", ("fid",), {"fid_drop_partial_batch": partial_batch}),
            RuleSet("resize: squash 256", COMPARED_METRICS, {"image_transform": "squash"}),
            RuleSet("resize: centre crop 256", COMPARED_METRICS, {"image_transform": "center_crop_resize"}),
            RuleSet("colourfulness: abs", ("colorfulness", "colorfulness_diff", "colorfulness_set_diff"),
                    {"colorfulness_form": "abs"}),
            RuleSet("ssim: box 7, L=225", ("ssim",), {"ssim_window": "uniform", "ssim_data_range": 225.0}),
            RuleSet("gt through Lab", _GT_SIDE, {"gt_roundtrip": True})]
    for name, protocol in PROTOCOLS.items():
        if protocol.level == "object" and split.level != "object":
            continue
        sets.append(RuleSet(name, protocol.metrics, dict(protocol.settings), protocol.level, "protocol"))
    return sets


@dataclass
class Sensitivity:
    """The comparison.

    Attributes:
        values: one row per (rule set, metric key): ``rules``, ``kind``, ``metric``, ``value``, ``n``.
        skipped: rule set -> metric -> why it was not computed.
        rules: the rule sets, in column order.
    """

    values: pd.DataFrame
    skipped: dict[str, dict[str, str]]
    rules: list[RuleSet]

    def wide(self) -> pd.DataFrame:
        """Metric keys x rule sets, with ``spread`` (max - min over the rule sets that computed it)."""
        order = [r.name for r in self.rules if r.name in set(self.values["rules"])]
        table = self.values.pivot(index="metric", columns="rules", values="value").reindex(columns=order)
        metric_order = list(dict.fromkeys(self.values["metric"]))
        table = table.reindex(metric_order)
        table["spread"] = (table.max(axis=1) - table.min(axis=1)).where(table.notna().sum(axis=1) >= 2)
        return table

    def format(self) -> str:
        """The table as printed: one row per rule set, one column per metric (4 decimals), the spread
        as the last row; then what was not computed, one line per metric and reason (with the rule sets)."""
        table = self.wide().T
        table.index.name, table.columns.name = "rules", None
        text = table.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-")
        grouped: dict[tuple[str, str], list[str]] = {}
        for rules, reasons in self.skipped.items():
            for metric, reason in reasons.items():
                grouped.setdefault((metric, _short(reason)), []).append(rules)
        notes = [f"  {metric}: {reason} (under {', '.join(rules)})" for (metric, reason), rules in grouped.items()]
        return text + ("\nnot computed:\n" + "\n".join(notes) if notes else "")


def _short(reason: str) -> str:
    """A skip reason without the download instructions (``colorbench weights list`` gives them)."""
    if reason.startswith("missing pretrained weights"):
        return reason.split(" (")[0] + " (see colorbench weights list)"
    return reason


def protocol_sensitivity(split: Split | str | os.PathLike, pred_dir: str | os.PathLike, *,
                         rules: list[RuleSet] | None = None, partial_batch: int = 32, device: str = "auto",
                         batch_size: int = DEFAULT_BATCH_SIZE, batch_pixels: int = DEFAULT_BATCH_PIXELS,
                         workers: int = DEFAULT_WORKERS, resize: bool = False,
                         images_root: str | os.PathLike | None = None, pool_root: str | os.PathLike | None = None,
                         progress: bool = True, warn: Callable[[str], None] | None = None) -> Sensitivity:
    """Score the outputs in ``pred_dir`` on ``split`` under every rule set of :func:`rule_sets` (or ``rules``).

    Every pair is decoded once; each rule set's preparation (:class:`~bench.eval_prep.ImagePrep`)
    is applied to the decoded pair in the DataLoader worker. Nothing is written except the
    ground-truth feature caches the scorer shares.
    """
    import sys

    from tqdm.auto import tqdm

    from .core.device import resolve_device
    from .core.workers import data_loader
    from .pairs_io import PairSource, keep_items
    from .score_state import ScoreState
    from .scorer import _build, _check_outputs, _collect, _levels, _Pairs, _Pass, _save_gt_cache, _select_metrics

    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    split = split if isinstance(split, Split) else load_split(split)
    pred_dir = Path(pred_dir)
    rules = rules if rules is not None else rule_sets(split, partial_batch)
    table, _ = _check_outputs(split.table, pred_dir, False, warn)
    pair_ids = table["pair_id"].tolist()
    torch_device = resolve_device(device)
    skipped: dict[str, dict[str, str]] = {}
    runs = []
    for rule in rules:
        config = ScoreConfig.from_dict(rule.settings).for_split(split.level)
        levels = _levels(rule.level, split)
        specs, skipped[rule.name] = _select_metrics(list(rule.metrics), split, config, strict=False)
        if not specs:  # nothing of this rule set can run here (weights, labels, references)
            continue
        run = _build(specs, config, torch_device, split, levels, pair_ids)
        runs.append((rule, config, specs, levels, run, run["prep"], ScoreState()))
    if not runs:
        raise ColorbenchError("no rule set can score these outputs: " + "; ".join(
            f"{name}: {', '.join(reasons.values())}" for name, reasons in skipped.items()))
    preps = list(dict.fromkeys(prep for *_, prep, _ in runs))
    resizes = any(prep.resizes for prep in preps)
    source = PairSource(split.root("images", images_root), split.root("pool", pool_root), pred_dir, split.recipe,
                        resize, check_size=resize or not resizes)
    rows = plain_records(table)
    loader = data_loader(_Pairs(rows, source, split.level == "object", tuple(preps)), batch_size=None,
                         shuffle=False, collate_fn=keep_items, num_workers=min(workers, len(rows)))
    index = {pid: i for i, pid in enumerate(pair_ids)}
    passes = [(_Pass(state, run["built"], run["per_image"], run["extractors"], run["sided"], run["gt_cache"], index,
                     levels, torch_device, batch_size, batch_pixels, lambda: None), preps.index(prep))
              for _, _, _, levels, run, prep, state in runs]
    with tqdm(total=len(rows), desc="scoring under every rule set", unit="pair", disable=not progress) as bar:
        for item in loader:
            if "error" in item:
                raise item["error"]
            for scoring, which in passes:
                scoring.add(item["prepared"][which])
            bar.update(1)
        for scoring, _ in passes:
            scoring.flush_all()
    records = []
    for rule, config, specs, levels, run, _, state in runs:
        _save_gt_cache(state, pair_ids, run["gt_cache"], run["gt_keys"])
        _, summary, set_skipped = _collect(state, specs, levels, pair_ids, run["gt_cache"], config, run["built"])
        skipped[rule.name].update(set_skipped)
        for key, entry in summary.items():
            records.append({"rules": rule.name, "kind": rule.kind, "metric": key, "value": entry["value"],
                            "n": entry["n"]})
    values = pd.DataFrame.from_records(records, columns=["rules", "kind", "metric", "value", "n"])
    values["value"] = values["value"].map(lambda v: np.nan if v is None else float(v))
    skipped = {name: reasons for name, reasons in skipped.items() if reasons}
    return Sensitivity(values, skipped, rules)
