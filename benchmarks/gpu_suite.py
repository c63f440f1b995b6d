"""Every figure a GPU run must record, in one command, ready before a GPU is lent.

    python benchmarks/gpu_suite.py [--out gpu-suite] [--device cuda] [--parts scoring,pairs,...] [--smoke]

Parts (each prints its figures as it goes and rewrites ``OUT/gpu_suite.md`` and ``OUT/gpu_suite.json``
after every figure, so a run cut short still holds what it measured):

* ``scoring``: 5,000 pairs of 256 x 256 (crops of real photographs, :mod:`harness`), each run a whole
  fresh process: colorbench with every default metric, first method (nothing cached) and second
  method (ground truths cached); colorbench with ssim + lpips + fid, first and second; torchmetrics
  with the same three metrics on the same GPU (batched by 32; for a second method it recomputes the
  ground truths, as its users must); and the decoding alone (the scorer's own reading of every pair,
  its DataLoader workers, no metric): the floor a GPU cannot go below.
* ``pairs``: the ``pairs`` decoding pass with VGG19 ranking features (images/s).
* ``training``: MSA and SPColor (k-means prior) at batch 8 in bf16: steps/s after a warm-up, samples/s
  of the step next to samples/s of the data loader alone (cold and warm view cache), peak GPU memory.
* ``spc``: SPColor's semantic correspondence, the batched form against the lean per-class loop, at
  k = 1, 5, 22, 27 (batch 8, 256 channels, 64 x 64 positions; forward, min of 5).
* ``colorize``: pairs/s of ``colorbench colorize`` for MSA, SA and SPColor (untrained networks: speed).
* ``torchrun``: the ssim + lpips + fid scoring of the 5,000 pairs by ``torchrun --nproc_per_node 2`` on
  one GPU against one process: what sharding costs.

Targets, printed as ratios beside the figures: scoring 5k pairs in at most 10 s; at least 1.5x
torchmetrics; SPC batched at least 5x the lean loop at k = 22; the loader at least 2x the step's
samples/s. Weights: the real files when present, else random stand-ins written under ``OUT`` (the
figures are then speeds, never results). ``--smoke`` runs every part on the CPU at toy sizes (tiny
model configs), as a test, so the suite cannot rot; its figures mean nothing. To stay under a minute on
two cores it also writes the stand-ins two at a time, trains with LPIPS on AlexNet (no VGG16 to write and
load), has torchmetrics' FID on 64 features (its 2048 x 2048 eigenvalue problem alone takes 15-60 s
there) and takes the one-process time of ``torchrun`` from the scoring part's run of the same command.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from harness import (
    TORCHMETRICS_SCRIPT,
    colorbench_command,
    photo_crops,
    stand_in_weights,
    timed,
    torchrun_command,
)

PARTS = ("scoring", "pairs", "training", "spc", "colorize", "torchrun")
#: The pretrained networks each kind of run loads (random stand-ins are written for them when absent; a
#: smoke run writes them two at a time, the slowest first, and its LPIPS losses use AlexNet, so it needs
#: no VGG16: 528 MB less written and read twice).
NETWORKS = {"full": ["alexnet", "inception_fid", "vgg16", "vgg19", "vgg19_bn"],
            "smoke": ["vgg19_bn", "inception_fid", "vgg19", "alexnet"]}
THREE = "ssim,lpips,fid"

#: Sizes of a real run and of ``--smoke``.
SIZES = {
    "full": {"pairs": 5000, "side": 256, "describe": 2000, "describe_batch": 64, "train_images": 96,
             "warmup": 3, "steps": 20, "batch": 8, "loader_batches": 24, "spc": (8, 256, 64), "spc_k": (1, 5, 22, 27),
             "spc_repeats": 5, "colorize": 256, "colorize_batch": 16,
             "score_sets": (("every default metric", None), ("ssim,lpips,fid", "ssim,lpips,fid")),
             "torchmetrics": ("a", "b"), "torchmetrics_fid": 2048, "torchrun_order": (1, 2, 1, 2),
             "torchrun_reuses_scoring": False},
    "smoke": {"pairs": 4, "side": 64, "describe": 2, "describe_batch": 2, "train_images": 4, "warmup": 1,
              "steps": 1, "batch": 2, "loader_batches": 2, "spc": (1, 16, 16), "spc_k": (1, 5), "spc_repeats": 1,
              "colorize": 2, "colorize_batch": 2, "score_sets": (("ssim,lpips,fid", "ssim,lpips,fid"),),
              "torchmetrics": ("a",), "torchmetrics_fid": 64, "torchrun_order": (1, 2),
              "torchrun_reuses_scoring": True},
}
#: Model settings: the papers' networks in a real run; tiny ones in a smoke run (code paths only).
MODELS = {
    "full": {"msa": {}, "sa": {}, "spcolor": {"prior": "kmeans"}},
    "smoke": {"msa": {"widths": [8, 16, 32, 64], "convs_per_level": [1, 1, 1, 1], "decoder_convs": 1,
                      "input_size": 32, "superpixels": {"base_segments": 32}, "pretrained_color_encoder": False,
                      "color_layers": ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]},
              "sa": {"input_size": 32}, "spcolor": {"preset": "tiny", "image_size": 192, "prior": "kmeans"}},
}
#: Training-task settings over each model's defaults (the ``task`` table: optimiser and loss): none in a real
#: run; in a smoke run MSA's and SA's LPIPS loss on AlexNet (the same loss code; a far smaller network).
TASKS = {"full": {}, "smoke": {"msa": {"loss": {"lpips_net": "alexnet"}},
                               "sa": {"loss": {"smooth_l1_weight": 20.0, "lpips_net": "alexnet"}}}}
TARGETS = {"score_seconds": 10.0, "vs_torchmetrics": 1.5, "spc_k22": 5.0, "loader_vs_step": 2.0}


class Report:
    """The figures so far, printed as they come and written after each one (Markdown and JSON)."""

    def __init__(self, out: Path, meta: dict):
        self.out, self.meta, self.rows, self.start = out, meta, [], time.perf_counter()

    def add(self, part: str, figure: str, value: float | str, unit: str = "", target: str = "") -> None:
        self.rows.append({"part": part, "figure": figure, "value": value, "unit": unit, "target": target})
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        print(f"[{time.perf_counter() - self.start:6.1f} s] {part}: {figure}: {shown} {unit}"
              + (f"  ({target})" if target else ""), flush=True)
        self._write()

    def _write(self) -> None:
        lines = [f"GPU suite: {self.meta['device']} ({self.meta['torch']}); {self.meta['note']}", "",
                 "| part | figure | value | target |", "| --- | --- | --- | --- |"]
        for row in self.rows:
            value = f"{row['value']:.3g}" if isinstance(row["value"], float) else str(row["value"])
            lines.append(f"| {row['part']} | {row['figure']} | {value} {row['unit']} | {row['target']} |")
        (self.out / "gpu_suite.md").write_text("\n".join(lines) + "\n")
        (self.out / "gpu_suite.json").write_text(json.dumps({"meta": self.meta, "rows": self.rows}, indent=1))


def _ratio(measured: float, target: float, higher_is_better: bool = True) -> str:
    """``target x.x, measured/target = r`` (r >= 1 meets it)."""
    ratio = measured / target if higher_is_better else target / measured
    verdict = "met" if ratio >= 1 else "NOT met"
    return f"target {'>=' if higher_is_better else '<='} {target:g}: {ratio:.2f} of it, {verdict}"


# -------------------------------------------------------------------------------------------- data


def _pair_data(root: Path, n: int, side: int, workers: int) -> dict:
    """N crops (ground truths), a one-pair-per-target split, and two methods' outputs (colour casts of
    the ground truths: writing them costs nothing next to a baseline, and scoring cost is the same)."""
    from PIL import Image

    from pairing import FilterSettings, build_folder

    files = photo_crops(root / "images", n, side)
    split = build_folder(root / "images", features="histogram", top_k=1, synthetic=0, progress=False,
                         filters=FilterSettings(enabled=False), workers=workers)
    split_path = split.save(root / "split.parquet")
    by_id = {path.stem: path for path in files}
    jobs = []
    for method, cast in (("a", (14, -9, 6)), ("b", (-6, 11, -4))):
        (root / method).mkdir()
        for row in split.table.itertuples():
            jobs.append((by_id[row.target_id], root / method / f"{row.pair_id}.png", cast))

    def write(job):
        source, target, cast = job
        rgb = np.asarray(Image.open(source).convert("RGB")).astype(np.int16) + cast
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(target)

    with ThreadPoolExecutor(max(1, workers)) as pool:  # zlib and PIL's encoder release the GIL
        list(pool.map(write, jobs))
    lists = {}
    for method in ("a", "b"):
        lists[method] = root / f"pairs_{method}.json"
        lists[method].write_text(json.dumps([[str(root / "images" / row.target_path),
                                              str(root / method / f"{row.pair_id}.png")]
                                             for row in split.table.itertuples()]))
    return {"split": split_path, "pred": {m: root / m for m in ("a", "b")}, "lists": lists, "n": len(split.table)}


# ------------------------------------------------------------------------------------------- parts


def part_scoring(report: Report, data: dict, sizes: dict, env: dict, device: str, workers: int,
                 root: Path) -> dict:
    """Returns (metric set, method) -> seconds of colorbench's runs."""
    n = data["n"]
    decode = _decode_only(data, workers)
    report.add("scoring", f"decoding alone, {n} pairs ({workers} workers)", decode, "s")
    script = root / "torchmetrics_score.py"
    script.write_text(TORCHMETRICS_SCRIPT)
    seconds = {}
    for label, metrics in sizes["score_sets"]:
        cache = root / f"cache-{'all' if metrics is None else 'three'}"
        for method, which in (("a", "first method"), ("b", "second method")):
            command = [*colorbench_command(), "score", "--split", data["split"], "--pred", data["pred"][method],
                       "--out", root / f"score-{label.split()[0]}-{method}", "--device", device,
                       "--workers", workers, *(["--metrics", metrics] if metrics else [])]
            run = timed(command, {**env, "COLORBENCH_CACHE": str(cache)}, root / f"score-{method}-{len(seconds)}")
            seconds[(label, method)] = run.seconds
            target = _ratio(run.seconds, TARGETS["score_seconds"], higher_is_better=False) if method == "a" else ""
            report.add("scoring", f"colorbench, {label}, {which}, {n} pairs (decoding alone {decode:.1f} s)",
                       run.seconds, "s", target)
    for method, which in (("a", "first method"), ("b", "second method (recomputes the ground truths)")):
        if method not in sizes["torchmetrics"]:
            continue
        features = sizes["torchmetrics_fid"]
        run = timed([sys.executable, script, data["lists"][method], device, *([features] if features != 2048 else [])],
                    env, root / f"torchmetrics-{method}")
        ratio = run.seconds / seconds[(THREE, method)]
        fid = "" if features == 2048 else f", FID of {features} features"
        report.add("scoring", f"torchmetrics ({THREE}, batches of 32{fid}), {which}", run.seconds, "s",
                   f"colorbench {ratio:.2f}x faster; " + _ratio(ratio, TARGETS["vs_torchmetrics"]))
    return seconds


def _decode_only(data: dict, workers: int) -> float:
    """Seconds the scorer's own reading of every pair takes (its DataLoader, no metric)."""
    from bench.core.splits import load_split, plain_records
    from bench.core.workers import data_loader
    from bench.pairs_io import PairSource, keep_items
    from bench.scorer import _Pairs

    split = load_split(data["split"])
    rows = plain_records(split.table)
    source = PairSource(split.root("images"), split.root("pool"), data["pred"]["a"], split.recipe)
    start = time.perf_counter()
    for item in data_loader(_Pairs(rows, source, False), batch_size=None, collate_fn=keep_items,
                            num_workers=min(workers, len(rows))):
        if "error" in item:
            raise item["error"]
    return time.perf_counter() - start


def part_pairs(report: Report, root: Path, sizes: dict, device: str, workers: int) -> None:
    from pairing.collection import folder_collection
    from pairing.describe import FeatureSettings, describe

    photo_crops(root / "jpegs", sizes["describe"], 640, 480, suffix=".jpg")
    os.environ["COLORBENCH_CACHE"] = str(root / "cache-describe")  # empty: every image decoded and described
    start = time.perf_counter()
    describe(folder_collection(root / "jpegs"), FeatureSettings("vgg19"), device, batch_size=sizes["describe_batch"],
             workers=workers, progress=False)
    seconds = time.perf_counter() - start
    report.add("pairs", f"decoding pass with VGG19 relu5_4 features, {sizes['describe']} JPEGs of 640 x 480, "
               f"batch {sizes['describe_batch']}, {workers} workers", sizes["describe"] / seconds, "images/s")


def part_training(report: Report, root: Path, sizes: dict, models: dict, tasks: dict, device: str,
                  workers: int) -> dict:
    """Train each model briefly; returns model -> its checkpoint (for colorize)."""
    import torch

    from bench.core.splits import load_split
    from reference_models.training.loop import train

    split_path = _train_split(root, sizes, workers)
    split = load_split(split_path)
    cuda = device.startswith("cuda")
    checkpoints = {}
    for model in ("msa", "spcolor"):
        config = _train_config(model, sizes, models, tasks, workers)
        os.environ["COLORBENCH_CACHE"] = str(root / f"cache-train-{model}")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        run = train(model, split_path, root / f"run-{model}", config=config, max_steps=sizes["warmup"] + sizes["steps"],
                    device=device, progress=False)
        checkpoints[model] = run.checkpoint
        rows = list(csv.DictReader((root / f"run-{model}" / "log.csv").open()))
        first, last = rows[sizes["warmup"] - 1], rows[-1]
        steps = int(last["step"]) - int(first["step"])
        step_rate = steps / (float(last["seconds"]) - float(first["seconds"]))
        samples = step_rate * sizes["batch"]
        report.add("training", f"{model}, batch {sizes['batch']}, bf16, after {sizes['warmup']} warm-up steps",
                   step_rate, f"steps/s ({samples:.1f} samples/s)")
        if cuda:
            report.add("training", f"{model}, peak GPU memory", torch.cuda.max_memory_allocated() / 2**30, "GiB")
        for state, cache in (("cold", root / f"cache-loader-{model}"), ("warm", root / f"cache-train-{model}")):
            rate = _loader_rate(model, split, config, cache, sizes["loader_batches"], workers)
            report.add("training", f"{model}, data loader alone, {workers} workers, {state} view cache", rate,
                       "samples/s", _ratio(rate / samples, TARGETS["loader_vs_step"]) + " (loader / step)")
    return checkpoints


def _train_split(root: Path, sizes: dict, workers: int) -> Path:
    """An image-level split of photo crops (two retrieved and two synthetic references each)."""
    from pairing import FilterSettings, build_folder

    path = root / "train.parquet"
    if not path.is_file():
        photo_crops(root / "photos", sizes["train_images"], 640, 480, suffix=".jpg", seed=1)
        build_folder(root / "photos", features="histogram", top_k=2, synthetic=2, progress=False,
                     filters=FilterSettings(enabled=False), workers=workers).save(path)
    return path


def _train_config(model: str, sizes: dict, models: dict, tasks: dict, workers: int) -> dict:
    config = {"batch_size": sizes["batch"], "amp": "bf16", "workers": workers, "checkpoint_every": 10 ** 9,
              "log_every": 1, "model": models[model]}
    if tasks.get(model):
        config["task"] = tasks[model]
    return config


def _task(model: str, config: dict):
    """The training task of ``model`` (phase 1) with ``config`` over its defaults."""
    from bench.core.registry import resolve
    from reference_models.registry import get_model
    from reference_models.training.config import TrainConfig

    task_class = resolve(get_model(model).task)
    return task_class(TrainConfig.from_dict(config, task_class.default_config(1)), 1)


def _loader_rate(model: str, split, config: dict, cache: Path, batches: int, workers: int) -> float:
    """Samples/s of the training DataLoader alone (the model's views and samples, its collate)."""
    from bench.core.workers import data_loader
    from pairing.sampler import ReferenceSampler
    from reference_models.training.data import PairData, epoch_batches

    os.environ["COLORBENCH_CACHE"] = str(cache)
    task = _task(model, config)
    data = PairData(split, task, use_masks=False, seed=0)
    sampler = ReferenceSampler(split, seed=0)
    plan, epoch = [], 0
    while len(plan) < batches:
        plan += epoch_batches(sampler, epoch, config["batch_size"])
        epoch += 1
    plan = plan[:batches]
    start = time.perf_counter()
    for _ in data_loader(data, batch_sampler=plan, collate_fn=task.collate, num_workers=min(workers, len(plan))):
        pass
    return sum(len(batch) for batch in plan) / (time.perf_counter() - start)


def part_spc(report: Report, sizes: dict, device: str) -> None:
    import torch
    from spc_bench import class_maps

    from reference_models.spcolor.correspondence import semantic_correspondence

    batch, channels, side = sizes["spc"]
    generator = torch.Generator().manual_seed(0)
    theta = torch.randn(batch, side, side, channels, generator=generator).to(device).permute(0, 3, 1, 2)
    phi = torch.randn(batch, side, side, channels, generator=generator).to(device).permute(0, 3, 1, 2)
    values = torch.rand(batch, 3, side, side, generator=generator).to(device)

    def best(fn) -> float:
        fn()  # warm-up
        times = []
        for _ in range(sizes["spc_repeats"]):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        return min(times)

    for k in sizes["spc_k"]:
        target, reference = (class_maps(k, batch, side, generator).to(device) for _ in range(2))
        with torch.inference_mode():
            timing = {method: best(lambda m=method: semantic_correspondence(theta, phi, values, target, reference, k,
                                                                             method=m))
                      for method in ("batched", "loop")}
        ratio = timing["loop"] / timing["batched"]
        target_text = _ratio(ratio, TARGETS["spc_k22"]) if k == 22 else ""
        report.add("spc", f"k = {k}: batched {timing['batched'] * 1e3:.1f} ms, lean loop {timing['loop'] * 1e3:.1f} ms "
                   f"(batch {batch}, {channels} ch, {side} x {side})", ratio, "x (loop / batched)", target_text)


def part_colorize(report: Report, root: Path, sizes: dict, models: dict, tasks: dict, device: str, workers: int,
                  checkpoints: dict) -> None:
    from pairing import FilterSettings, build_folder
    from reference_models import colorize_split
    from reference_models.training.loop import train

    photo_crops(root / "colorize-images", sizes["colorize"], sizes["side"], seed=2)
    split = build_folder(root / "colorize-images", features="histogram", top_k=1, synthetic=0, progress=False,
                         filters=FilterSettings(enabled=False), workers=workers)
    for model in models:
        if model not in checkpoints:  # not trained by the training part: one step makes a checkpoint
            os.environ["COLORBENCH_CACHE"] = str(root / f"cache-train-{model}")
            checkpoints[model] = train(model, _train_split(root, sizes, workers), root / f"run-{model}",
                                       config=_train_config(model, sizes, models, tasks, workers), max_steps=1,
                                       device=device, progress=False).checkpoint
        run = colorize_split(model, checkpoints[model], split, root / f"colorized-{model}", device=device,
                             batch_size=sizes["colorize_batch"], workers=workers, progress=False)
        report.add("colorize", f"{model}, {run.written} pairs of {sizes['side']} x {sizes['side']}, batch "
                   f"{sizes['colorize_batch']}, {workers} workers (decode, prepare, network, PNG)",
                   run.pairs_per_second, "pairs/s")


def part_torchrun(report: Report, root: Path, data: dict, sizes: dict, env: dict, workers: int,
                  scored: float | None = None) -> None:
    """``scored``: the seconds of the scoring part's colorbench run of the same command (ssim + lpips + fid,
    first method, nothing cached), when it ran; a smoke run takes it as its one-process time."""
    times: dict[int, list[float]] = {1: [], 2: []}
    order = sizes["torchrun_order"]
    if scored is not None and sizes["torchrun_reuses_scoring"]:
        times[1].append(scored)
        order = [processes for processes in order if processes != 1]
    for processes in order:  # alternated
        out = root / f"torchrun-{processes}-{len(times[processes])}"
        args = ["score", "--split", data["split"], "--pred", data["pred"]["a"], "--out", out, "--metrics", THREE,
                "--workers", max(1, workers // processes)]
        launcher = colorbench_command() if processes == 1 else torchrun_command(2, colorbench=True)
        run = timed([*launcher, *args], {**env, "COLORBENCH_CACHE": str(out / "cache")}, out.with_suffix(".log"))
        times[processes].append(run.seconds)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    reused = " (the scoring part's run)" if 1 not in order else ""
    report.add("torchrun", f"score ({THREE}), {data['n']} pairs, nothing cached: one process {one:.1f} s{reused}, "
               f"torchrun --nproc_per_node 2 on the same device {two:.1f} s (medians of {len(times[2])})", one / two,
               "x (one process / two)")


# -------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("gpu-suite"), help="where the report goes")
    parser.add_argument("--device", default="cuda", help="the device measured (default: cuda)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {', '.join(PARTS)}")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="DataLoader workers")
    parser.add_argument("--smoke", action="store_true", help="every part on the CPU at toy sizes (a test)")
    args = parser.parse_args()
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    kind = "smoke" if args.smoke else "full"
    device = "cpu" if args.smoke else args.device
    workers = min(args.workers, 2) if args.smoke else args.workers
    sizes, models, tasks = SIZES[kind], MODELS[kind], TASKS[kind]

    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --smoke on a CPU, or on a GPU machine")
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    env, random = stand_in_weights(work, NETWORKS[kind], processes=2 if args.smoke else 1)
    os.environ.update({"TORCH_HOME": env.get("TORCH_HOME", os.environ.get("TORCH_HOME", "")),
                       "COLORBENCH_OFFLINE": "1"})
    if not os.environ["TORCH_HOME"]:
        del os.environ["TORCH_HOME"]
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    note = ("SMOKE RUN: toy sizes, tiny models, figures mean nothing; " if args.smoke else "") + \
        ("random stand-in weights: speeds only" if random else "real weights")
    report = Report(args.out, {"device": name, "torch": torch.__version__, "workers": workers, "kind": kind,
                               "note": note})
    print(f"GPU suite ({kind}) on {name}, {workers} workers; {note}", flush=True)
    data, checkpoints, scored = None, {}, {}
    if {"scoring", "torchrun"} & set(parts):
        data = _pair_data(work / "pairs", sizes["pairs"], sizes["side"], workers)
        print(f"data: {data['n']} pairs of {sizes['side']} x {sizes['side']} ready", flush=True)
    for part in parts:
        if part == "scoring":
            scored = part_scoring(report, data, sizes, env, device, workers, work)
        elif part == "pairs":
            part_pairs(report, work, sizes, device, workers)
        elif part == "training":
            checkpoints.update(part_training(report, work, sizes, models, tasks, device, workers))
        elif part == "spc":
            part_spc(report, sizes, device)
        elif part == "colorize":
            part_colorize(report, work, sizes, models, tasks, device, workers, checkpoints)
        elif part == "torchrun":
            part_torchrun(report, work, data, sizes, env, workers, scored.get((THREE, "a")))
    print(f"report: {args.out / 'gpu_suite.md'} and {args.out / 'gpu_suite.json'}", flush=True)


if __name__ == "__main__":
    main()
