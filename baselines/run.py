"""Run a baseline on every pair of a split: ``OUT/<pair_id>.png`` at the target's size.

Each pair is decoded, colorized and written inside DataLoader workers (the work is per-pair numpy,
so workers are the parallelism), through :class:`bench.method_outputs.MethodOutputs`: atomic PNGs
(a file present is a finished one, so ``resume=True`` skips it), the ``OUT/method.json`` manifest
(baseline, split id, seed, version; resuming a folder made with other settings is refused), one
run per folder at a time.
Randomised baselines draw from a generator seeded by ``(seed, pair_id)``, so a pair's output does
not depend on the order, the number of workers or processes (``torchrun``: each writes its share of
the pairs) or an interruption.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core import distributed
from bench.core.color import rgb_to_gray
from bench.core.errors import ColorbenchError
from bench.core.paths import check_output_dir
from bench.core.splits import Split, load_split
from bench.core.workers import data_loader
from bench.method_outputs import MethodOutputs
from bench.pairs_io import PairJobs, keep_items

from .registry import BaselineSpec, PairInputs, get_baseline, reference_free_baselines

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
    """Per pair, in a DataLoader worker (:class:`bench.pairs_io.PairJobs`): colorize and write."""

    def __init__(self, spec, outputs, seed):
        self.spec, self.outputs, self.seed = spec, outputs, seed

    def __call__(self, row: dict, item: dict) -> dict:
        rgb = self.spec.fn(pair_inputs(item, self.spec), pair_rng(self.seed, row["pair_id"]))
        self.outputs.write(row["pair_id"], rgb, f"baseline {self.spec.name}")
        return {}


@distributed.fails_together
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

    world = distributed.world()
    spec = get_baseline(name)
    if workers < 0:
        raise ColorbenchError(f"workers must be >= 0; got {workers}")
    check_output_dir(out_dir)
    split = split if isinstance(split, Split) else load_split(split)
    if not spec.supports(split.level):
        raise ColorbenchError(f"baseline {name} transfers between object masks and needs an object-level split; "
                              f"{split.split_id} is image level")
    if spec.needs_reference and not split.has_references:
        raise ColorbenchError(f"baseline {name} needs a reference; {split.no_references_note()}: run a "
                              f"reference-free baseline such as {' or '.join(reference_free_baselines())}")
    manifest = {"method": name, "kind": "baseline", "seed": seed}
    with MethodOutputs(out_dir, split, manifest, resume=resume, overwrite=overwrite, what="baseline run") as outputs:
        jobs = PairJobs(outputs.todo_rows(), split, _Colorize(spec, outputs, seed), images_root, pool_root)
        loader = data_loader(jobs, batch_size=None, collate_fn=keep_items, num_workers=min(workers, len(jobs)))
        start = time.perf_counter()
        with tqdm(total=len(split.table), initial=len(outputs.done), desc=name, unit="pair",
                  disable=not (progress and world.is_main)) as bar:
            for written, result in enumerate(loader, start=1):
                if "error" in result:
                    raise result["error"]
                world.check_peers()
                bar.update(len(outputs.done) + world.count("written", written) - bar.n)
            world.barrier()  # every process wrote its share
            bar.update(bar.total - bar.n)
    return BaselineRun(name, outputs.out_dir, outputs.todo_everywhere, len(outputs.done), time.perf_counter() - start)
