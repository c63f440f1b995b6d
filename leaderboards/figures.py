"""Figures from results: a per-metric chart with confidence intervals, and a qualitative grid."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_path
from bench.core.color import rgb_to_gray
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.images import read_rgb
from bench.core.splits import Split, plain_records
from bench.pairs_io import load_sources

from .results import Result
from .table import Leaderboard

__all__ = ["metric_chart", "pyplot", "qualitative_grid", "save_figure"]


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def metric_chart(board: Leaderboard, path: str | os.PathLike) -> Path | None:
    """One panel per metric: each measured method's value with its 95% CI (or ± std) as error
    bars; the best per group drawn filled. Quoted rows are left out (no intervals, other split).
    Returns None (and writes nothing) when no finite value was measured."""
    rows = [row for row in board.rows if row.source == "measured"]
    columns = [c for c in board.columns
               if any(c.key in row.cells and _finite(row.cells[c.key].value) for row in rows)]
    if not columns:
        return None
    plt = pyplot()
    ncols = min(3, len(columns))
    nrows = math.ceil(len(columns) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 0.45 * len(rows) * nrows + 1.4 * nrows),
                             squeeze=False)
    labels = [(f"{row.method} ({row.group})" if board.mixed else row.method) + (" [partial]" if row.partial else "")
              for row in rows]
    positions = np.arange(len(rows))[::-1]
    for ax, column in zip(axes.flat, columns):
        for y, row in zip(positions, rows):
            cell = row.cells.get(column.key)
            if cell is not None and cell.value is not None and math.isinf(cell.value):
                # an identical output's PSNR: drawn as an arrow at the panel's edge, labelled
                ax.annotate("∞", xy=(1.0, y), xycoords=("axes fraction", "data"), ha="right", va="center",
                            fontsize=11, color="C0", fontweight="bold" if cell.bold else "normal")
            if cell is None or not _finite(cell.value):
                continue
            if cell.low is not None and cell.high is not None:
                xerr = [[cell.value - cell.low], [cell.high - cell.value]]
            else:
                xerr = [[cell.pm or 0.0], [cell.pm or 0.0]]
            ax.errorbar(cell.value, y, xerr=xerr, fmt="o", color="C0", mfc="C0" if cell.bold else "white",
                        capsize=3)
        ax.set_yticks(positions, labels)
        ax.set_title(column.label + ("  (lower is better)" if column.direction == "lower" else "  (higher is better)"),
                     fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    fig.suptitle(f"{board.title}\nmean and 95% CI per method (filled: best in its group)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))  # room for the two title lines
    return save_figure(fig, path)


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG atomically (creating the folder) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    pyplot().close(fig)
    return path


def qualitative_grid(split: Split, results: list[Result], pair_ids: list[str], path: str | os.PathLike,
                     images_root: str | os.PathLike | None = None, pool_root: str | os.PathLike | None = None,
                     thumb_height: int = 160) -> Path:
    """A PNG with a row per pair: gray target | reference | each method's output | ground truth.

    Outputs are read from each result's ``meta.pred_dir``; a missing pair id or output is a
    one-line error naming it.
    """
    from PIL import Image

    plt = pyplot()
    rows = {row["pair_id"]: row for row in plain_records(split.table)}
    unknown = [pid for pid in pair_ids if pid not in rows]
    if unknown:
        raise ColorbenchError(f"pair id {unknown[0]} is not in split {split.split_id} (e.g. {next(iter(rows))})")
    columns = ["target (gray)", "reference"] + [r.method for r in results] + ["ground truth"]
    fig, axes = plt.subplots(len(pair_ids), len(columns), figsize=(2.2 * len(columns), 2.0 * len(pair_ids)),
                             squeeze=False)
    for r, pid in enumerate(pair_ids):
        item = load_sources(rows[pid], split.root("images", images_root), split.root("pool", pool_root), split.recipe,
                            split.level == "object")
        images = [rgb_to_gray(item["gt"]), item["reference"]]
        for result in results:
            pred = Path(result.summary.get("meta", {}).get("pred_dir", "")) / f"{pid}.png"
            try:
                images.append(read_rgb(pred))
            except (ImageReadError, FileNotFoundError, OSError):
                raise ColorbenchError(f"output {pred} of {result.method} cannot be read for the grid") from None
        images.append(item["gt"])
        for c, image in enumerate(images):
            scale = thumb_height / image.shape[0]
            thumb = Image.fromarray(image).resize((max(1, round(image.shape[1] * scale)), thumb_height),
                                                  Image.BICUBIC)
            ax = axes[r, c]
            ax.imshow(np.asarray(thumb))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(pid, fontsize=7)
            if split.level == "object" and c in (0, 1):
                mask = item["mask"] if c == 0 else item["reference_mask"]
                small = np.asarray(Image.fromarray(mask).resize(thumb.size, Image.NEAREST))
                ax.contour(small, levels=[0.5], colors="yellow", linewidths=0.8)
    fig.tight_layout()
    return save_figure(fig, path)
