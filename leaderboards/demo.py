"""``colorbench demo``: the benchmark loop on the bundled demo set.

What runs today:

1. the set is decoded and checked (every image, every mask), each object's coverage is measured
   from its decoded mask, and an overview figure of the masks is written;
2. an image-level split (VGG19 ranking, or the weight-free histogram descriptor when the VGG19
   weights are missing: the demo says so, and the sidecar records which) and an object-level
   split are built with the evaluation protocol (one reference per target), and materialized;
3. every baseline runs on each split (``reinhard-masked`` on the object split only);
4. each baseline is scored with every metric whose network is present (the others are listed as
   skipped with the reason, never filled in), at image and object level;
5. a leaderboard per split is printed in Markdown and written as Markdown, CSV, HTML and LaTeX,
   with the per-metric chart and a qualitative grid of the first pairs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.core import weights as W
from bench.core.atomic import write_json
from bench.core.coco import decode_mask, load_coco
from bench.core.errors import ColorbenchError
from bench.core.images import read_rgb
from bench.core.paths import check_output_dir
from bench.demo_data import demo_annotations_path, demo_images_dir

#: Objects above this share of the image qualify for object-level splits (the MSA protocol).
OBJECT_MIN_AREA = 0.30

#: Pairs shown in each qualitative grid.
GRID_PAIRS = 3


@dataclass
class DemoObject:
    image: str
    category: str
    coverage: float
    qualifies: bool


@dataclass
class DemoReport:
    out_dir: str
    images: list[dict] = field(default_factory=list)
    objects: list[DemoObject] = field(default_factory=list)
    weights_missing: list[str] = field(default_factory=list)
    figure: str = ""
    splits: dict = field(default_factory=dict)  # level -> {path, split_id, pairs, features, ...} or {skipped}
    notes: list[str] = field(default_factory=list)
    baselines: dict = field(default_factory=dict)  # level -> baseline -> {out, images_per_second}
    leaderboards: dict = field(default_factory=dict)  # level -> {table: markdown text, files: [...]}


def run_demo(out_dir: str | os.PathLike = "demo-out", images_dir: str | os.PathLike | None = None,
             annotations: str | os.PathLike | None = None, device: str = "auto", seed: int = 0,
             progress: bool = True, baselines: Sequence[str] | None = None) -> DemoReport:
    """The loop on a COCO-format photo set (default: the bundled demo set); everything is written
    under ``out_dir``: ``overview.png``, ``splits/``, ``image-level/`` and ``object-level/`` (the
    materialized splits), ``baselines/``, ``scores/``, ``leaderboard-<level>.*`` and
    ``demo_set.json`` (this report). ``baselines``: which to run (default: all; those needing
    masks run on the object split only)."""
    from tqdm.auto import tqdm

    from baselines.registry import get_baseline

    for name in baselines or ():
        get_baseline(name)  # an unknown name fails now, not after the splits are built

    out = check_output_dir(out_dir)
    coco = load_coco(annotations or demo_annotations_path())
    images_dir = Path(images_dir) if images_dir else demo_images_dir()
    report = DemoReport(out_dir=str(out))
    panels = []
    for info in tqdm(coco.dataset["images"], desc="demo set", unit="image", disable=not progress):
        rgb = read_rgb(images_dir / info["file_name"])
        if rgb.shape[:2] != (info["height"], info["width"]):
            raise ColorbenchError(f"image {images_dir / info['file_name']} is {rgb.shape[1]}x{rgb.shape[0]} but the "
                                  f"annotations say {info['width']}x{info['height']}; fix the annotation file")
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]]))
        masks = []
        for ann in anns:
            mask = decode_mask(coco, ann)
            coverage = float(mask.mean())
            name = coco.cats[ann["category_id"]]["name"]
            report.objects.append(DemoObject(info["file_name"], name, round(coverage, 4), coverage > OBJECT_MIN_AREA))
            masks.append((name, mask, coverage))
        report.images.append({"file": info["file_name"], "width": info["width"], "height": info["height"],
                              "objects": len(anns)})
        panels.append((info["file_name"], rgb, masks))
    report.weights_missing = [name for name in W.WEIGHTS if not W.is_present(name)]
    out.mkdir(parents=True, exist_ok=True)
    report.figure = str(_overview_figure(panels, out / "overview.png"))
    _build_splits(report, out, images_dir, annotations or demo_annotations_path(), device, seed, progress)
    for level, info in report.splits.items():
        if "path" in info:
            _benchmark_loop(report, level, Path(info["path"]), out, device, seed, progress, baselines)
    write_json(out / "demo_set.json", asdict(report))
    return report


def _build_splits(report: DemoReport, out: Path, images_dir: Path, annotations, device: str, seed: int,
                  progress: bool) -> None:
    from pairing import build_folder, build_object_level, materialize

    features = "vgg19" if W.is_present("vgg19") else "histogram"
    if features == "histogram":
        report.notes.append("VGG19 weights are missing, so the image-level split ranks references with the "
                            "weight-free histogram descriptor (recorded in its sidecar; never mixed with VGG19 splits)")
    builds = {
        "image": lambda: build_folder(images_dir, annotations=annotations, features=features, top_k=1, synthetic=0,
                                      seed=seed, device=device, progress=progress),
        "object": lambda: build_object_level(images_dir, annotations, refs=1, synthetic=0, seed=seed,
                                             progress=progress),
    }
    for level, build in builds.items():
        try:
            split = build()
        except ColorbenchError as exc:
            if "would be empty" not in str(exc):
                raise
            report.splits[level] = {"skipped": str(exc)}
            continue
        path = split.save(out / "splits" / f"demo-{level}.parquet")
        materialize(split, out / f"{level}-level", progress=progress)
        report.splits[level] = {"path": str(path), "split_id": split.split_id, "pairs": len(split.table),
                                "features": (split.meta["features"] or {}).get("name"),
                                "materialized": str(out / f"{level}-level")}


def _benchmark_loop(report: DemoReport, level: str, split_path: Path, out: Path, device: str, seed: int,
                    progress: bool, names: Sequence[str] | None) -> None:
    """Baselines -> scores -> leaderboard on one split."""
    from baselines.registry import get_baseline, list_baselines
    from baselines.run import run_baseline
    from bench.core.splits import load_split
    from bench.scorer import score

    from .make import make_leaderboard, write_table
    from .results import load_results

    split = load_split(split_path)
    summaries = []
    report.baselines[level] = {}
    for name in names or list_baselines():
        if not get_baseline(name).supports(split.level):
            continue
        pred_dir = out / "baselines" / level / name
        run = run_baseline(name, split, pred_dir, seed=seed, overwrite=True, progress=progress)
        report.baselines[level][name] = {"out": str(pred_dir), "images_per_second": round(run.images_per_second, 2)}
        score_dir = out / "scores" / level / name
        score(split_path, pred_dir, method=name, out_dir=score_dir, device=device, overwrite=True, progress=progress,
              warn=report.notes.append)
        summaries.append(score_dir / "summary.json")
    stem = out / f"leaderboard-{level}"
    grid = split.table["pair_id"].tolist()[:GRID_PAIRS]
    files = make_leaderboard(load_results(summaries), stem.with_suffix(".md"), "md", grid=grid, split=split_path)
    written = [files.table, files.chart, files.grid]
    for fmt, suffix in (("csv", ".csv"), ("html", ".html"), ("latex", ".tex")):
        written.extend(write_table(files.board, stem.with_suffix(suffix), fmt,
                                   {"chart": files.chart, "grid": files.grid}))
    report.leaderboards[level] = {"table": files.text, "files": [str(p) for p in written if p is not None]}


def _overview_figure(panels, path: Path) -> Path:
    from .figures import pyplot, save_figure

    plt = pyplot()
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows))
    colours = plt.get_cmap("Set1")
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (name, rgb, masks) in zip(np.ravel(axes), panels):
        shown = rgb.astype(np.float32) / 255.0
        labels = []
        for i, (category, mask, coverage) in enumerate(masks):
            tint = np.array(colours(i % 10)[:3], dtype=np.float32)
            shown[mask] = 0.55 * shown[mask] + 0.45 * tint
            labels.append(f"{category} {coverage:.0%}")
        ax.imshow(shown)
        for i, (_, mask, _) in enumerate(masks):
            ax.contour(mask, levels=[0.5], colors=[colours(i % 10)], linewidths=1.2)
        ax.set_title(f"{name}\n" + (", ".join(labels) or "no objects"), fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=80)


def format_report(report: DemoReport) -> str:
    """The demo's summary as text for the terminal."""
    lines = [f"demo set: {len(report.images)} images, {len(report.objects)} annotated objects"]
    for obj in report.objects:
        mark = (f"above {OBJECT_MIN_AREA:.0%}: qualifies for object level" if obj.qualifies
                else f"below {OBJECT_MIN_AREA:.0%}")
        lines.append(f"  {obj.image:<22} {obj.category:<12} covers {obj.coverage:6.1%}  ({mark})")
    if report.weights_missing:
        lines.append(f"pretrained weights missing ({len(report.weights_missing)}): {', '.join(report.weights_missing)}"
                     " -- the steps that need them will be skipped, never filled in; see 'colorbench weights list'")
    else:
        lines.append("pretrained weights: all present")
    for level, info in report.splits.items():
        if "skipped" in info:
            lines.append(f"{level}-level split skipped: {info['skipped']}")
        else:
            ranking = f", ranked by {info['features']}" if info["features"] else ""
            lines.append(f"{level}-level split {info['split_id']}: {info['pairs']} pairs{ranking} -> {info['path']}, "
                         f"files in {info['materialized']}")
    lines += [f"note: {note}" for note in report.notes]
    for level, runs in report.baselines.items():
        speeds = ", ".join(f"{name} {info['images_per_second']:.1f}" for name, info in runs.items())
        lines.append(f"{level}-level baselines (images/s): {speeds}")
    for level, board in report.leaderboards.items():
        lines += ["", f"## {level}-level leaderboard", "", board["table"].rstrip(), "",
                  "wrote " + ", ".join(board["files"])]
    lines.append(f"wrote {report.figure} and {Path(report.out_dir) / 'demo_set.json'}")
    return "\n".join(lines)
