"""Reading what the scorer needs for each pair: output, ground truth, reference, masks.

Ground truths and references are checked against the SHA-256 recorded in the split; synthetic
references are re-rendered from their ``tps_seed`` with the split's recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .core.cache import sha256_bytes
from .core.coco import decode_rle
from .core.errors import ColorbenchError, ImageReadError
from .core.images import decode_rgb, decode_rgb_with_info, read_file
from .core.paths import resolve_inside
from .core.synthetic import DEFAULT_RECIPE, SyntheticRecipe, render_synthetic

__all__ = ["PairJobs", "PairSource", "bbox_of", "check_target_size", "keep_items", "load_pair", "load_sources",
           "output_notes", "read_checked", "safe_load_pair"]

#: Pillow modes an output may have without a warning (anything else is converted and reported).
PLAIN_MODES = ("RGB",)


@dataclass(frozen=True)
class PairSource:
    """Where a split's images are, and how to render synthetic references."""

    images_root: Path
    pool_root: Path
    pred_dir: Path
    recipe: SyntheticRecipe = DEFAULT_RECIPE
    resize: bool = False
    #: False when a metric setting resizes outputs and ground truths anyway (``image_transform``):
    #: an output's size is then checked after that step (:class:`bench.eval_prep.ImagePrep`).
    check_size: bool = True


def bbox_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` (end-exclusive) of a non-empty bool mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        raise ColorbenchError("an object mask is empty; rebuild the split")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def output_notes(path: Path, mode: str, image_format: str | None, bits: int) -> list[str]:
    """Warnings about an output file that is not a plain 8-bit RGB PNG: each changes what is
    scored (a lossy JPEG changes every metric; 16 bits are reduced to 8; gray or palette become
    RGB)."""
    notes = []
    if image_format and image_format != "PNG" and path.suffix.lower() == ".png":
        notes.append(f"{path.name}: a {image_format} file named .png (lossy outputs change every metric); "
                     "write real PNGs")
    if bits == 16:
        notes.append(f"{path.name}: 16-bit {mode} output reduced to 8 bits per channel")
    elif mode not in PLAIN_MODES:
        notes.append(f"{path.name}: {mode} output converted to RGB")
    return notes


def _read_pred(path: Path, size: tuple[int, int] | None, resize: bool, notes: list[str]) -> np.ndarray:
    pred, info = decode_rgb_with_info(read_file(path), path)
    notes.extend(output_notes(path, info.mode, info.format, info.bits))
    if size is None:
        return pred
    height, width = size
    if pred.shape[:2] != (height, width):
        if not resize:
            raise ColorbenchError(f"output {path} is {pred.shape[1]}x{pred.shape[0]} but its target is "
                                  f"{width}x{height}; "
                                  "write outputs at the target's size, or pass --resize (bicubic, documented)")
        pred = np.asarray(Image.fromarray(pred).resize((width, height), Image.BICUBIC))
        notes.append(f"{path.name}: resized to {width}x{height}")
    return pred


def read_checked(path: Path, expected_sha: str | None) -> tuple[np.ndarray, str]:
    """Decode a split's image, checking it against the SHA-256 the split recorded -> (uint8 HWC, sha)."""
    data = read_file(path)
    sha = sha256_bytes(data)
    if expected_sha and sha != expected_sha:
        raise ColorbenchError(f"image {path} changed since the split was built (its SHA-256 differs); "
                              "use the original images or rebuild the split")
    return decode_rgb(data, path), sha


def check_target_size(image: np.ndarray, path: Path, size: tuple[int, int]) -> None:
    """A target decoded at another ``(height, width)`` than the split recorded is an error."""
    if image.shape[:2] != tuple(size):
        raise ColorbenchError(f"image {path} is {image.shape[1]}x{image.shape[0]}, the split says "
                              f"{size[1]}x{size[0]}; rebuild the split")


def load_sources(row: dict, images_root: Path, pool_root: Path, recipe: SyntheticRecipe, object_level: bool) -> dict:
    """Decode what a pair gives a method and the scorer, without any output: ``gt`` and
    ``reference`` (uint8 HWC; synthetic references rendered), ``label`` and, for object splits,
    ``mask``, ``reference_mask`` and the crops' boxes ``box`` / ``reference_box``. A row of a
    reference-free split (``reference_kind`` ``none``) gives ``reference=None``. Each image is
    checked against the SHA-256 the split recorded (:func:`read_checked`)."""
    from .core.splits import NO_REFERENCE

    target_path = resolve_inside(images_root, row["target_path"], f"pair {row['pair_id']}: target_path")
    gt, _ = read_checked(target_path, row.get("target_sha256"))
    check_target_size(gt, target_path, (int(row["target_height"]), int(row["target_width"])))
    if row["reference_kind"] == NO_REFERENCE:
        reference = None  # automatic colorization: the pair is its target alone
    elif row["reference_kind"] == "synthetic":
        reference = render_synthetic(gt, int(row["tps_seed"]), recipe)
    else:
        reference_path = resolve_inside(pool_root, row["reference_path"], f"pair {row['pair_id']}: reference_path")
        reference, _ = read_checked(reference_path, row.get("reference_sha256"))
    item = {"pair_id": row["pair_id"], "gt": gt, "reference": reference,
            "label": -1 if row.get("label") is None or row.get("label") != row.get("label") else int(row["label"])}
    if object_level:
        mask = decode_rle(row["target_mask"])
        reference_mask = None if reference is None else decode_rle(row["reference_mask"])
        item.update(mask=mask, reference_mask=reference_mask, box=bbox_of(mask),
                    reference_box=None if reference_mask is None else bbox_of(reference_mask))
    return item


def load_pair(row: dict, source: PairSource, object_level: bool) -> dict:
    """:func:`load_sources` plus the method's output ``pred`` and ``notes`` on its conversion."""
    notes: list[str] = []
    size = (int(row["target_height"]), int(row["target_width"]))
    pred = _read_pred(source.pred_dir / f"{row['pair_id']}.png", size if source.check_size else None, source.resize,
                      notes)
    item = load_sources(row, source.images_root, source.pool_root, source.recipe, object_level)
    return {**item, "pred": pred, "notes": notes}


def keep_items(item: dict) -> dict:
    """``collate_fn`` of the per-pair DataLoaders (``batch_size=None``): items stay as decoded
    (the default collate would turn every numpy array into a tensor)."""
    return item


def safe_load_pair(row: dict, source: PairSource, object_level: bool) -> dict:
    """:func:`load_pair` for DataLoader workers: errors come back as data, raised in the main process."""
    try:
        return load_pair(row, source, object_level)
    except (ColorbenchError, ImageReadError) as exc:
        return {"pair_id": row["pair_id"], "error": exc}


class PairJobs:
    """A split's pairs as DataLoader items for a method (a baseline, a reference model): in a worker,
    each pair's inputs are decoded (:func:`load_sources`) and handed to ``process(row, item)``,
    whose dict joins the item's ``pair_id``; a bad input comes back as data (``{"pair_id",
    "error"}``), for the main process to raise as its one-line error.

    Args:
        rows: the split rows to do (plain dicts).
        split: the split (its image roots, synthetic recipe and level).
        process: a picklable ``(row, item) -> dict``.
        images_root, pool_root: where the split's images are now, if they moved.
    """

    def __init__(self, rows: list[dict], split, process, images_root=None, pool_root=None):
        self.rows, self.process = rows, process
        self.images_root, self.pool_root = split.root("images", images_root), split.root("pool", pool_root)
        self.recipe, self.object_level = split.recipe, split.level == "object"

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = self.rows[i]
        try:
            item = load_sources(row, self.images_root, self.pool_root, self.recipe, self.object_level)
            return {"pair_id": row["pair_id"], **self.process(row, item)}
        except (ColorbenchError, ImageReadError) as exc:
            return {"pair_id": row["pair_id"], "error": exc}
