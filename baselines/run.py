"""Run a baseline on every pair of a split: ``OUT/<pair_id>.png`` at the target's size.

Each pair is decoded, colorized and written inside DataLoader workers (the work is per-pair numpy,
so workers are the parallelism), through :class:`bench.method_outputs.MethodOutputs`: atomic PNGs
(a file present is a finished one, so ``resume=True`` skips it), the ``OUT/method.json`` manifest
(baseline, split id, seed, version; resuming a folder made with other settings is refused), one
run per folder at a time.
Randomised baselines draw from a generator seeded by ``(seed, pair_id)``, so a pair's output does
not depend on the order, the number of workers or an interruption.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.color import rgb_to_gray
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.paths import check_output_dir
from bench.core.splits import Split, load_split, plain_records
from bench.core.workers import data_loader
from bench.method_outputs import MethodOutputs
from bench.pairs_io import keep_items, load_sources

from .registry import BaselineSpec, PairInputs, get_baseline

__all__ = ["BaselineRun", "pair_inputs", "run_baseline"]


@dataclass
class BaselineRun:
    """What a run did: outputs written now, found from an earlier run, and the seconds it took."""

    name: str
    out_dir: Path
    written: int
    skipped_existing: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else float("nan")


def pair_inputs(item: dict, spec: BaselineSpec) -> PairInputs:
    """What a baseline sees of a decoded pair (the ground truth only if it declares ``gt``)."""
    return PairInputs(pair_id=item["pair_id"], target_gray=rgb_to_gray(item["gt"]), reference=item["reference"],
                      target_mask=item.get("mask"), reference_mask=item.get("reference_mask"),
                      gt=item["gt"] if "gt" in spec.needs else None)


def pair_rng(seed: int, pair_id: str) -> np.random.Generator:
    """The generator of one pair: from the run's seed and the pair id, independent of order."""
    digest = hashlib.sha256(pair_id.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


class _Colorize:
    """Per pair, in a DataLoader worker: decode, colorize, write (errors come back as data)."""

    def __init__(self, pair_ids, split, spec, outputs, seed, images_root, pool_root):
        rows = {row["pair_id"]: row for row in plain_records(split.table)}
        self.rows, self.spec, self.outputs, self.seed = [rows[pid] for pid in pair_ids], spec, outputs, seed
        self.images_root, self.pool_root = split.root("images", images_root), split.root("pool", pool_root)
        self.recipe, self.object_level = split.recipe, split.level == "object"

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = self.rows[i]
        try:
            item = load_sources(row, self.images_root, self.pool_root, self.recipe, self.object_level)
            rgb = self.spec.fn(pair_inputs(item, self.spec), pair_rng(self.seed, row["pair_id"]))
            self.outputs.write(row["pair_id"], rgb, f"baseline {self.spec.name}")
            return {"pair_id": row["pair_id"]}
        except (ColorbenchError, ImageReadError) as exc:
            return {"pair_id": row["pair_id"], "error": exc}


def run_baseline(name: str, split: Split | str | os.PathLike, out_dir: str | os.PathLike, *, seed: int = 0,
                 resume: bool = False, overwrite: bool = False, workers: int = 2, progress: bool = True,
                 images_root: str | os.PathLike | None = None,
                 pool_root: str | os.PathLike | None = None) -> BaselineRun:
    """Colorize every pair of ``split`` with baseline ``name`` into ``out_dir/<pair_id>.png``.

    Args:
        seed: seeds randomised baselines (per pair, see the module docstring).
        resume: keep outputs already in ``out_dir`` from the same run and do the rest.
        overwrite: delete this split's outputs in ``out_dir`` first (otherwise existing outputs are
            an error unless ``resume``).
        workers: DataLoader worker processes (0: in this process).
        images_root, pool_root: where the split's images are now, if they moved.

    Returns:
        :class:`BaselineRun`.
    """
    from tqdm.auto import tqdm

    spec = get_baseline(name)
    if workers < 0:
        raise ColorbenchError(f"workers must be >= 0; got {workers}")
    check_output_dir(out_dir)
    split = split if isinstance(split, Split) else load_split(split)
    if not spec.supports(split.level):
        raise ColorbenchError(f"baseline {name} transfers between object masks and needs an object-level split; "
                              f"{split.split_id} is image level")
    manifest = {"method": name, "kind": "baseline", "seed": seed}
    with MethodOutputs(out_dir, split, manifest, resume=resume, overwrite=overwrite, what="baseline run") as outputs:
        loader = data_loader(_Colorize(outputs.todo, split, spec, outputs, seed, images_root, pool_root),
                             batch_size=None, collate_fn=keep_items, num_workers=min(workers, len(outputs.todo)))
        start = time.perf_counter()
        with tqdm(total=len(split.table), initial=len(outputs.done), desc=name, unit="pair",
                  disable=not progress) as bar:
            for result in loader:
                if "error" in result:
                    raise result["error"]
                bar.update(1)
    return BaselineRun(name, outputs.out_dir, len(outputs.todo), len(outputs.done), time.perf_counter() - start)
