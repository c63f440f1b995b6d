"""What a scoring run has computed so far, and its checkpoint under ``OUT/.partial``.

The checkpoint is append-only: each save writes one shard holding the pairs finished since the
previous save (their per-image values and features), then ``run.json`` listing the shards, both
atomically; so saving costs what was computed since the last save, never the whole run again.
Every process of a run (under ``torchrun``) keeps its own checkpoint, ``OUT/.partial/rank-<R>``;
:func:`load_checkpoints` reads them all, whichever number of processes wrote them: that is how a
resume finds every finished pair, and how the main process merges the others' results.

``run.json`` also holds the run's *fingerprint*: everything a row depends on (the split's id,
which covers its content and parameters; the pairs; every output file's size and modification
time; the method name; the levels, metrics and every setting; the toolkit version). A resume
whose fingerprint differs is refused with a one-line error naming what differs, so a result can
never hold rows computed from other outputs or settings.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .core.atomic import atomic_path, write_json
from .core.errors import ColorbenchError
from .method_outputs import output_path

__all__ = ["ScoreState", "Checkpoint", "clear_checkpoints", "load_checkpoints", "rank_folder", "output_stamps",
           "fingerprint_difference"]

CHECKPOINT_DIR = ".partial"
#: Each process's checkpoint is ``CHECKPOINT_DIR/rank-<R>``.
RANK_PREFIX = "rank-"


@dataclass
class ScoreState:
    """Everything computed so far.

    Attributes:
        values: level -> metric -> pair id -> per-image value.
        features: (level, key, role) -> pair id -> feature vector (set metrics' features, and
            the ground-truth side of per-image metrics that split one off).
        done: pairs finished at every level, in the order they finished.
        notes: what was converted or resized on the way (warnings for the user).
        saved: how many of ``done`` are already in the checkpoint's shards.
    """

    values: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(dict)))
    features: dict = field(default_factory=lambda: defaultdict(dict))
    done: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    saved: int = 0

    def mark_done(self, pair_id: str) -> None:
        self.done.append(pair_id)

    def merge(self, other: ScoreState) -> None:
        """Add what ``other`` computed (other pairs: each pair is scored by one process only)."""
        for lvl, by_metric in other.values.items():
            for name, values in by_metric.items():
                self.values[lvl][name].update(values)
        for key, vectors in other.features.items():
            self.features[key].update(vectors)
        self.done.extend(other.done)
        self.notes.extend(other.notes)
        self.saved += other.saved


def output_stamps(pred_dir: Path, pair_ids: list[str]) -> dict[str, list[int]]:
    """``pair id -> [size, mtime_ns]`` of each output file: what a resume compares (a changed
    or replaced file has another size or modification time)."""
    stamps = {}
    for pid in pair_ids:
        stat = os.stat(output_path(pred_dir, pid))
        stamps[pid] = [stat.st_size, stat.st_mtime_ns]
    return stamps


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def fingerprint_difference(saved: dict, current: dict) -> str | None:
    """What differs between two fingerprints, in a few words (None when equal)."""
    differences = []
    for key in sorted(set(saved) | set(current)):
        before, now = saved.get(key), current.get(key)
        if before == now:
            continue
        if key == "outputs" and isinstance(before, dict) and isinstance(now, dict):
            changed = sorted(pid for pid in set(before) | set(now) if before.get(pid) != now.get(pid))
            differences.append(f"outputs: {len(changed)} file(s) changed since (e.g. {changed[0]}.png)")
        elif key == "pairs" and isinstance(before, list) and isinstance(now, list):
            differences.append(f"pairs: {len(before)} then, {len(now)} now")
        else:
            differences.append(f"{key}: {_short(before)} then, {_short(now)} now")
    return "; ".join(differences) or None


class Checkpoint:
    """The checkpoint of one run in ``folder`` (``OUT/.partial``; None: no checkpointing)."""

    def __init__(self, folder: Path | None, fingerprint: dict):
        self.folder = folder
        # As it reads back from JSON (lists, not tuples), so a comparison after a resume is exact.
        self.fingerprint = json.loads(json.dumps(fingerprint, default=str))
        self.shards: list[str] = []

    def save(self, state: ScoreState) -> None:
        """Write the pairs finished since the last save as a new shard, then the index."""
        if self.folder is None or state.saved == len(state.done):
            return
        new = state.done[state.saved:]
        arrays = {"pairs": np.array(new, dtype=str)}
        for lvl, by_metric in state.values.items():
            for name, values in by_metric.items():
                arrays[f"v|{lvl}|{name}"] = np.array([values[pid] for pid in new], dtype=np.float64)
        for (lvl, key, role), vectors in state.features.items():
            if all(pid in vectors for pid in new):
                arrays[f"f|{lvl}|{key}|{role}"] = np.stack([vectors[pid] for pid in new])
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"shard-{len(self.shards):06d}.npz"
        with atomic_path(self.folder / name) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        self.shards.append(name)
        write_json(self.folder / "run.json", {"fingerprint": self.fingerprint, "shards": self.shards,
                                              "notes": sorted(set(state.notes))})
        state.saved = len(state.done)

    def load(self, data: bool = True) -> ScoreState:
        """The state saved in this folder (empty if none), refusing another run's; ``data=False``
        reads only which pairs are done. Later saves append to it."""
        state = ScoreState()
        index = self.folder / "run.json" if self.folder is not None else None
        if index is None or not index.is_file():
            return state
        try:
            saved = json.loads(index.read_text())
            fingerprint, shards = saved["fingerprint"], list(saved["shards"])
        except (ValueError, KeyError, TypeError):
            raise ColorbenchError(f"{index} is damaged; remove {self.folder.parent} and run without --resume") from None
        difference = fingerprint_difference(fingerprint, self.fingerprint)
        if difference:
            raise ColorbenchError(f"{self.folder.parent.parent} holds an interrupted run that differs from this one "
                                  f"({difference}); remove {self.folder.parent} or run without --resume")
        for name in shards:
            with np.load(self.folder / name, allow_pickle=False) as npz:  # lazily: unread arrays are not read
                pairs = npz["pairs"].tolist()
                for key in npz.files if data else ():
                    parts = key.split("|")
                    if parts[0] == "v":
                        state.values[parts[1]][parts[2]].update(zip(pairs, npz[key].tolist()))
                    elif parts[0] == "f":
                        state.features[(parts[1], parts[2], parts[3])].update(zip(pairs, npz[key]))
            for pid in pairs:
                state.mark_done(pid)
        state.notes = list(saved.get("notes", []))
        state.saved = len(state.done)
        self.shards = shards
        return state


def rank_folder(partial: Path, rank: int) -> Path:
    """The checkpoint folder of process ``rank`` in ``partial`` (``OUT/.partial``)."""
    return partial / f"{RANK_PREFIX}{rank}"


def clear_checkpoints(partial: Path | None) -> None:
    """Remove every process's checkpoint under ``partial`` (a new run, or a finished one)."""
    if partial is not None and partial.exists():
        shutil.rmtree(partial)


def load_checkpoints(partial: Path | None, fingerprint: dict, data: bool = True) -> ScoreState:
    """Everything the processes of an interrupted run saved under ``partial``, however many there
    were (empty if nothing), refusing another run's; ``data=False`` reads only which pairs are done."""
    state = ScoreState()
    if partial is None or not partial.is_dir():
        return state
    for folder in sorted(partial.glob(f"{RANK_PREFIX}*")):
        state.merge(Checkpoint(folder, fingerprint).load(data))
    state.notes = sorted(set(state.notes))
    return state
