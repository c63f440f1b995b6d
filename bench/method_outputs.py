"""A method's outputs on a split, as ``colorbench score`` reads them: ``DIR/<pair_id>.png``.

One writer for every producer of outputs (``colorbench baseline``, ``colorbench colorize``):

* each output is written atomically at the target's size, so a file present is a finished one;
* ``DIR/method.json`` (the *manifest*) records what produced the folder (method, split id,
  settings, toolkit version); continuing a folder made by another run is refused, naming the
  manifest, so outputs of two runs are never mixed;
* existing outputs are never silently overwritten: ``resume`` keeps them and does the rest,
  ``overwrite`` deletes them first;
* one run per folder at a time (an OS lock), and the folder is checked before any work;
* under ``torchrun`` (:mod:`bench.core.distributed`) the main process checks the folder, takes the
  lock and writes the manifest, then the outputs still to write are dealt to the processes, and
  the block ends when every process has written its share.

Use::

    with MethodOutputs(out_dir, split, {"method": "gray"}, resume=True) as outputs:
        for pair_id in outputs.todo:
            outputs.write(pair_id, colorize(pair_id))   # uint8 (H, W, 3) at the target's size
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .core import distributed
from .core.atomic import write_json
from .core.errors import ColorbenchError
from .core.images import write_png
from .core.paths import check_output_dir, exclusive_lock
from .version import __version__

if TYPE_CHECKING:
    from .core.splits import Split

__all__ = ["MANIFEST", "MethodOutputs", "output_path"]

#: The manifest file in an outputs folder.
MANIFEST = "method.json"


def output_path(out_dir: str | os.PathLike, pair_id: str) -> Path:
    """Where the output of ``pair_id`` goes (pair ids are file-name safe: the split checks them)."""
    return Path(out_dir) / f"{pair_id}.png"


class MethodOutputs:
    """The outputs folder of one run, held for a ``with`` block.

    Args:
        out_dir: the folder (created if needed).
        split: the split the outputs answer.
        manifest: what produced them (e.g. ``{"baseline": "welsh", "seed": 0}``); the split id
            and the toolkit version are added.
        resume: keep this run's outputs already in the folder and report only the missing ones
            in :attr:`todo`.
        overwrite: delete the split's outputs already in the folder first.
        what: what the run is, for messages ("baseline run", "colorize run").

    Attributes (inside the block):
        todo: the pair ids this process writes, in the split's order (under ``torchrun``, its share of
            those still to write).
        todo_everywhere: how many pairs are still to write, by every process together.
        done: the pair ids found finished from an earlier run.
    """

    def __init__(self, out_dir: str | os.PathLike, split: Split, manifest: dict, *, resume: bool = False,
                 overwrite: bool = False, what: str = "run"):
        self.out_dir = check_output_dir(out_dir)
        self.split = split
        self.manifest = {**manifest, "split_id": split.split_id, "colorbench_version": __version__}
        self.resume, self.overwrite, self.what = resume, overwrite, what
        self._lock = exclusive_lock(self.out_dir, what)
        self._sizes = dict(zip(split.table["pair_id"], zip(split.table["target_height"].astype(int),
                                                            split.table["target_width"].astype(int))))
        self.todo: list[str] = []
        self.todo_everywhere = 0
        self.done: set[str] = set()
        self._world = distributed.world()

    def __enter__(self) -> MethodOutputs:
        world = self._world
        if world.is_main:
            self._lock.__enter__()
            try:
                self.done = self._check_folder()
                write_json(self.out_dir / MANIFEST, self.manifest)
            except BaseException:
                self._lock.__exit__(None, None, None)
                raise
        # The main process's view of the folder, for every process (a listing elsewhere might lag
        # behind a shared file system, or run before the main process removed what --overwrite removes).
        self.done = set(world.broadcast(sorted(self.done) if world.is_main else None))
        remaining = [pid for pid in self._sizes if pid not in self.done]
        self.todo, self.todo_everywhere = world.shard(remaining), len(remaining)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        try:
            if exc_type is None:
                self._world.barrier()  # the folder is complete only when every process wrote its share
        finally:
            if self._world.is_main:
                self._lock.__exit__(exc_type, *exc)

    def _check_folder(self) -> set[str]:
        """The pairs already done; refuse to mix runs or to silently overwrite outputs."""
        existing = {p.stem for p in self.out_dir.glob("*.png")} & set(self._sizes)
        path = self.out_dir / MANIFEST
        if self.overwrite:
            for pid in existing:
                output_path(self.out_dir, pid).unlink()
            return set()
        if self.resume:
            if existing and path.is_file() and _read(path) != json.loads(json.dumps(self.manifest)):
                raise ColorbenchError(f"{self.out_dir} holds outputs of another run ({path} differs: another "
                                      "method, split or setting); use another folder")
            return existing
        if existing:
            raise ColorbenchError(f"{self.out_dir} already holds {len(existing)} outputs of this split; pass --resume "
                                  "to continue that run, --overwrite to replace it, or choose an empty folder")
        return set()

    def todo_rows(self) -> list[dict]:
        """The split's rows (plain dicts) of the pairs in :attr:`todo`, in the split's order."""
        from .core.splits import plain_records

        todo = set(self.todo)
        return [row for row in plain_records(self.split.table) if row["pair_id"] in todo]

    def check(self, pair_id: str, rgb: np.ndarray, producer: str) -> None:
        """``rgb`` must be uint8 ``(H, W, 3)`` at the target's size; a one-line error names the
        ``producer`` (e.g. "baseline welsh") otherwise."""
        expected = (*self._sizes[pair_id], 3)
        if not isinstance(rgb, np.ndarray) or rgb.shape != expected or rgb.dtype != np.uint8:
            got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise ColorbenchError(f"{producer} returned {got} for pair {pair_id}; expected uint8 {expected}")

    def write(self, pair_id: str, rgb: np.ndarray, producer: str = "the method") -> Path:
        """Check and write the output of ``pair_id`` atomically; returns its path."""
        self.check(pair_id, rgb, producer)
        return write_png(output_path(self.out_dir, pair_id), rgb)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
