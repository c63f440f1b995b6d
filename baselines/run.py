"""Run a baseline on every pair of a split: ``OUT/<pair_id>.png`` at the target's size.

Each pair is decoded, colorized and written inside DataLoader workers (the work is per-pair numpy,
so workers are the parallelism); every PNG is written atomically, so an existing file is a
finished one and ``resume=True`` skips it. ``OUT/baseline.json`` records what produced the folder
(baseline, split id, seed, version); resuming a folder made with other settings is refused.
Randomised baselines draw from a generator seeded by ``(seed, pair_id)``, so a pair's output does
not depend on the order, the number of workers or an interruption.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from bench.core.atomic import write_json
from bench.core.color import rgb_to_gray
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.images import write_png
from bench.core.paths import check_output_dir, exclusive_lock
from bench.core.workers import data_loader
from bench.core.splits import Split, load_split, plain_records
from bench.pairs_io import keep_items, load_sources
from bench.version import __version__

from .registry import BaselineSpec, PairInputs, get_baseline

__all__ = ["BaselineRun", "pair_inputs", "run_baseline"]

MANIFEST = "baseline.json"


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


class _Colorize(Dataset):
    def __init__(self, rows, spec, split, out_dir, seed, images_root, pool_root):
        self.rows, self.spec, self.out_dir, self.seed = rows, spec, out_dir, seed
        self.images_root, self.pool_root = split.root("images", images_root), split.root("pool", pool_root)
        self.recipe, self.object_level = split.recipe, split.level == "object"

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = self.rows[i]
        try:
            item = load_sources(row, self.images_root, self.pool_root, self.recipe, self.object_level)
            rgb = self.spec.fn(pair_inputs(item, self.spec), pair_rng(self.seed, row["pair_id"]))
            expected = (int(row["target_height"]), int(row["target_width"]), 3)
            if rgb.shape != expected or rgb.dtype != np.uint8:
                raise ColorbenchError(f"baseline {self.spec.name} returned {rgb.dtype} {rgb.shape} for pair "
                                      f"{row['pair_id']}; expected uint8 {expected}")
            write_png(self.out_dir / f"{row['pair_id']}.png", rgb)
            return {"pair_id": row["pair_id"]}
        except (ColorbenchError, ImageReadError) as exc:
            return {"pair_id": row["pair_id"], "error": exc}


def _check_manifest(out_dir: Path, manifest: dict, resume: bool, overwrite: bool, pair_ids: list[str]) -> set[str]:
    """The pairs already done; refuse to mix runs or to silently overwrite outputs."""
    existing = {p.stem for p in out_dir.glob("*.png")} & set(pair_ids) if out_dir.is_dir() else set()
    path = out_dir / MANIFEST
    if overwrite:
        for pid in existing:
            (out_dir / f"{pid}.png").unlink()
        return set()
    if resume:
        if existing and path.is_file() and json.loads(path.read_text()) != manifest:
            raise ColorbenchError(f"{out_dir} holds outputs of another run ({path} differs: other baseline, split "
                                  "or seed); use another folder")
        return existing
    if existing:
        raise ColorbenchError(f"{out_dir} already holds {len(existing)} outputs of this split; pass --resume to "
                              "continue that run, or choose an empty folder")
    return set()


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

    Returns:
        :class:`BaselineRun`.
    """
    from tqdm.auto import tqdm

    spec = get_baseline(name)
    if workers < 0:
        raise ColorbenchError(f"workers must be >= 0; got {workers}")
    out_dir = check_output_dir(out_dir)
    split = split if isinstance(split, Split) else load_split(split)
    if not spec.supports(split.level):
        raise ColorbenchError(f"baseline {name} transfers between object masks and needs an object-level split; "
                              f"{split.split_id} is image level")
    pair_ids = split.table["pair_id"].tolist()
    manifest = {"baseline": name, "split_id": split.split_id, "seed": seed, "colorbench_version": __version__}
    with exclusive_lock(out_dir, "baseline run"):
        done = _check_manifest(out_dir, manifest, resume, overwrite, pair_ids)
        write_json(out_dir / MANIFEST, manifest)
        rows = [r for r in plain_records(split.table) if r["pair_id"] not in done]
        loader = data_loader(_Colorize(rows, spec, split, out_dir, seed, images_root, pool_root), batch_size=None,
                             collate_fn=keep_items, num_workers=min(workers, len(rows)))
        start = time.perf_counter()
        with tqdm(total=len(pair_ids), initial=len(done), desc=name, unit="pair", disable=not progress) as bar:
            for result in loader:
                if "error" in result:
                    raise result["error"]
                bar.update(1)
    return BaselineRun(name, out_dir, len(rows), len(done), time.perf_counter() - start)
