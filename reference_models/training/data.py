"""Training data: each image's prepared *view*, cached by content, and the batches of an epoch.

A reference model prepares every image it sees the same way every epoch (resize to the network's
side, CIELAB, superpixels at four levels for MSA): the task's ``view`` function. That work is done
once per image, mask and setting, in DataLoader workers, and cached on disk
(:mod:`bench.core.cache`), keyed by the image's content hash (the SHA-256 the split records; for a
synthetic reference, the target's hash and the pair's ``tps_seed`` and recipe, which render it
bit-exactly), the mask's hash and the task's view settings. A warm cache turns a sample into two
small ``.npz`` reads and the task's per-pair step (``sample``).

Per epoch, :func:`epoch_batches` asks the reference sampler for one row per target (MSA's
0.25-synthetic draw, deterministic in the seed and the epoch), shards it by rank under DDP and
cuts it into batches; a resumed run skips the batches it had done.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable

import numpy as np

from bench.core.cache import cache_key, load_arrays, save_arrays
from bench.core.coco import decode_rle
from bench.core.paths import resolve_inside
from bench.core.splits import Split, plain_records
from bench.core.synthetic import render_synthetic
from bench.pairs_io import check_target_size, read_checked

__all__ = ["PairData", "epoch_batches", "view_key"]

#: Bump when what a view holds changes, so old cache entries are never reused.
VIEW_VERSION = 1


def view_key(content: str, mask: str | None, record: dict) -> str:
    """The cache key of one image's view: its content id, its mask's and the task's settings."""
    return cache_key("view", content=content, mask=mask, settings=record, version=VIEW_VERSION)


def _mask_id(rle: str | None) -> str | None:
    return None if rle is None else hashlib.sha256(rle.encode("utf-8")).hexdigest()


class PairData:
    """The pairs of a split as training samples: ``data[(row, epoch)]`` -> the task's sample.

    Args:
        split: the split (rows are indexed by their position in ``split.table``).
        task: the model's training task (its ``view``, ``view_record`` and ``sample``).
        use_masks: give the views their object masks (MSA phase 2); False ignores them.
        seed: mixed with the epoch and the row into each sample's random generator, so a sample
            does not depend on workers, order or interruptions.
        cache: read and write views in the on-disk cache.
        images_root, pool_root: where the split's images are now, if they moved.
    """

    def __init__(self, split: Split, task, *, use_masks: bool, seed: int, cache: bool = True,
                 images_root: str | None = None, pool_root: str | None = None):
        self.rows = plain_records(split.table)
        self.task, self.use_masks, self.seed, self.cache = task, use_masks, seed, cache
        self.images_root, self.pool_root = split.root("images", images_root), split.root("pool", pool_root)
        self.recipe = split.recipe
        self.record = task.view_record()
        self.by_role = task.view_depends_on_role

    def __len__(self) -> int:
        return len(self.rows)

    def _cached(self, content: str, mask: str | None, role: str, build: Callable[[], dict]) -> dict:
        if not self.cache:
            return build()
        # a task whose views differ by role (SA: superpixels on the target's gray, the reference's L)
        key = view_key(content + (f":{role}" if self.by_role else ""), mask, self.record)
        found = load_arrays(key)
        if found is None:
            found = build()
            save_arrays(key, found, {"what": "training view", "settings": self.record})
        return found

    def _target_rgb(self, row: dict) -> Callable[[], np.ndarray]:
        """The target's pixels, decoded and checked on the first call only (a pair with a synthetic
        reference needs them for both views when neither is cached)."""

        @functools.cache
        def read() -> np.ndarray:
            path = resolve_inside(self.images_root, row["target_path"], f"pair {row['pair_id']}: target_path")
            rgb, _ = read_checked(path, row.get("target_sha256"))
            check_target_size(rgb, path, (int(row["target_height"]), int(row["target_width"])))
            return rgb

        return read

    def target_view(self, row: dict, target_rgb: Callable[[], np.ndarray] | None = None) -> dict:
        mask = row.get("target_mask") if self.use_masks else None
        target_rgb = target_rgb or self._target_rgb(row)
        return self._cached(row["target_sha256"], _mask_id(mask), "target", lambda: self.task.view(
            target_rgb(), None if mask is None else decode_rle(mask), "target"))

    def reference_view(self, row: dict, target_rgb: Callable[[], np.ndarray] | None = None) -> dict:
        mask = row.get("reference_mask") if self.use_masks else None
        mask_array = (lambda: None) if mask is None else (lambda: decode_rle(mask))
        if row["reference_kind"] == "synthetic":
            content = "synthetic:" + json.dumps([row["target_sha256"], int(row["tps_seed"]), self.recipe.record()],
                                                sort_keys=True)
            target_rgb = target_rgb or self._target_rgb(row)
            return self._cached(content, _mask_id(mask), "reference", lambda: self.task.view(
                render_synthetic(target_rgb(), int(row["tps_seed"]), self.recipe), mask_array(), "reference"))
        path = resolve_inside(self.pool_root, row["reference_path"], f"pair {row['pair_id']}: reference_path")
        return self._cached(row["reference_sha256"], _mask_id(mask), "reference", lambda: self.task.view(
            read_checked(path, row.get("reference_sha256"))[0], mask_array(), "reference"))

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, epoch = key
        row = self.rows[index]
        rng = np.random.default_rng([self.seed, epoch, index])
        target_rgb = self._target_rgb(row)
        return self.task.sample(self.target_view(row, target_rgb), self.reference_view(row, target_rgb), rng)


def epoch_batches(sampler, epoch: int, batch_size: int) -> list[list[tuple[int, int]]]:
    """The batches of one epoch: the sampler's rows for ``epoch`` (its shard, under DDP) in
    batches of ``batch_size`` (the last may be smaller), each item ``(row, epoch)``."""
    sampler.set_epoch(epoch)
    rows = [(int(index), epoch) for index in sampler]
    return [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]

