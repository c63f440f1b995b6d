"""Colorize with a trained reference model: a whole split into ``DIR/<pair_id>.png``, or one pair.

:func:`colorize_split` writes an output for every pair of a split at its target's size, ready for
``colorbench score``, through the one writer of method outputs
(:class:`bench.method_outputs.MethodOutputs`: atomic PNGs, the ``method.json`` manifest naming
the model and the checkpoint's SHA-256, ``resume``, runs never mixed). DataLoader workers decode
each pair and prepare it (resizing, superpixels: the model's ``preparer``); the network runs on
batches of prepared pairs (on GPU when present; under ``torchrun`` each process colorizes its share
of the pairs on its own GPU). The model sees what a colorization method sees:
the gray target (the CIELAB lightness of the ground truth), the reference and, on object-level
splits, the two masks.

:func:`colorize_pair` does the same for a user's own photos.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core import distributed
from bench.core.color import rgb_to_gray
from bench.core.errors import ColorbenchError
from bench.core.images import read_rgb, write_png
from bench.core.paths import check_output_dir, check_output_file
from bench.core.splits import Split, load_split
from bench.core.weights import file_sha256
from bench.core.workers import data_loader
from bench.method_outputs import MethodOutputs
from bench.pairs_io import PairJobs, keep_items

__all__ = ["ColorizeRun", "colorize_split", "colorize_pair", "to_uint8_image"]


@dataclass
class ColorizeRun:
    """What :func:`colorize_split` did: outputs written now, found from an earlier run, seconds."""

    model: str
    out_dir: Path
    written: int
    skipped_existing: int
    seconds: float

    @property
    def pairs_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else float("nan")


def to_uint8_image(rgb) -> np.ndarray:
    """A model's ``(3, H, W)`` float sRGB in [0, 1] as a uint8 ``(H, W, 3)`` image (rounded)."""
    return np.clip(np.rint(rgb.detach().float().cpu().numpy().transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


class _Prepare:
    """Per pair, in a DataLoader worker (:class:`bench.pairs_io.PairJobs`): the model's preparation
    of what a method sees (the gray target, the reference, the masks when used)."""

    def __init__(self, prepare, use_masks: bool):
        self.prepare, self.use_masks = prepare, use_masks

    def __call__(self, row: dict, item: dict) -> dict:
        masks = (item.get("mask"), item.get("reference_mask")) if self.use_masks else (None, None)
        return {"sample": self.prepare(rgb_to_gray(item["gt"]), item["reference"], *masks)}


@distributed.fails_together
def colorize_split(model: str, checkpoint: str | os.PathLike, split: Split | str | os.PathLike,
                   out_dir: str | os.PathLike, *, device: str = "auto", batch_size: int = 8, workers: int = 2,
                   resume: bool = False, overwrite: bool = False, masks: bool | None = None, progress: bool = True,
                   images_root: str | os.PathLike | None = None,
                   pool_root: str | os.PathLike | None = None) -> ColorizeRun:
    """Colorize every pair of ``split`` with the trained ``model`` in ``checkpoint``.

    Args:
        masks: use the object masks (default: on object-level splits, for a model that takes them;
            SPColor does not).
        batch_size: pairs per network batch.
        resume / overwrite: keep this run's outputs already in ``out_dir`` / replace them.

    Returns:
        :class:`ColorizeRun`.
    """
    from tqdm.auto import tqdm

    from .api import load

    world = distributed.world()
    if batch_size < 1 or workers < 0:
        raise ColorbenchError(f"batch_size must be >= 1 and workers >= 0; got {batch_size} and {workers}")
    check_output_dir(out_dir)
    split = split if isinstance(split, Split) else load_split(split)
    network = load(checkpoint, model, device)
    use_masks = split.level == "object" and network.accepts_masks if masks is None else masks
    network.check_masks(use_masks)
    if use_masks and split.level != "object":
        raise ColorbenchError(f"masks need an object-level split; {split.split_id} is image level")
    manifest = {"method": model, "kind": "reference model", "checkpoint": Path(checkpoint).name,
                "checkpoint_sha256": file_sha256(checkpoint), "masks": use_masks}
    with MethodOutputs(out_dir, split, manifest, resume=resume, overwrite=overwrite, what="colorize run") as outputs:
        data = PairJobs(outputs.todo_rows(), split, _Prepare(network.preparer(), use_masks), images_root, pool_root)
        loader = data_loader(data, batch_size=batch_size, collate_fn=keep_items, num_workers=min(workers, len(data)))
        start = time.perf_counter()
        written = 0
        with tqdm(total=len(split.table), initial=len(outputs.done), desc=f"colorizing ({model})", unit="pair",
                  disable=not (progress and world.is_main)) as bar:
            for items in loader:
                failed = next((item for item in items if "error" in item), None)
                if failed is not None:
                    raise failed["error"]
                world.check_peers()
                images = network.colorize_prepared([item["sample"] for item in items])
                for item, rgb in zip(items, images):
                    outputs.write(item["pair_id"], to_uint8_image(rgb), f"model {model}")
                written += len(items)
                bar.update(len(outputs.done) + world.count("written", written) - bar.n)
            world.barrier()  # every process wrote its share
            bar.update(bar.total - bar.n)
    return ColorizeRun(model, outputs.out_dir, outputs.todo_everywhere, len(outputs.done), time.perf_counter() - start)


def colorize_pair(model: str, checkpoint: str | os.PathLike, target: str | os.PathLike,
                  reference: str | os.PathLike, out: str | os.PathLike, *, target_mask: str | os.PathLike | None = None,
                  reference_mask: str | os.PathLike | None = None, device: str = "auto") -> Path:
    """Colorize one gray photo ``target`` with ``reference`` into ``out`` (a PNG at the target's size).

    A colour ``target`` is grayed first (its CIELAB lightness), as every method sees its target.
    Masks are images (nonzero = the object), at their image's size.
    """
    import torch

    from .api import load

    out = check_output_file(out, suffixes=(".png",))
    gray = rgb_to_gray(read_rgb(target))
    colour = read_rgb(reference)
    masks = [_read_mask(target_mask, gray.shape[:2]), _read_mask(reference_mask, colour.shape[:2])]
    network = load(checkpoint, model, device)
    given = None if all(m is None for m in masks) else tuple(None if m is None else torch.from_numpy(m) for m in masks)
    rgb = network.colorize(torch.from_numpy(gray).permute(2, 0, 1), torch.from_numpy(colour).permute(2, 0, 1),
                           masks=given)
    return write_png(out, to_uint8_image(rgb))


def _read_mask(path, shape: tuple[int, int]) -> np.ndarray | None:
    if path is None:
        return None
    mask = read_rgb(path).max(axis=2) > 0
    if mask.shape != shape:
        raise ColorbenchError(f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but its image is {shape[1]}x{shape[0]}")
    if not mask.any():
        raise ColorbenchError(f"mask {path} is empty; paint the object white (nonzero) on black")
    return mask
