"""How cost grows with the data, measured on this machine, and what that means at COCO and ImageNet scale.

    python benchmarks/scaling_bench.py [--base 32] [--factors 1,4,16] [--runs 2] [--workers 2]

Two commands, each run as a whole fresh process (start-up included) on crops of real photographs
(:func:`harness.photo_crops`), with an empty cache every time:

* ``pairs``: ``colorbench pairs folder --features histogram --top-k 3 --synthetic 0`` on N JPEGs of
  640 x 480 (the decoding pass, the filters, the weight-free descriptor, exact kNN, the table);
  beside it the same decoding pass without a descriptor (``--top-k 0 --synthetic 1``: read, hash,
  decode, filter statistics), which tells what bounds it;
* ``score``: ``colorbench score --metrics ssim,lpips,fid`` of N pairs of 256 x 256 (one reference
  per target), a method's outputs made by the ``reinhard`` baseline.

For each: the time at ``base`` x each factor, the exponent of the growth (least squares on log-log of
the time minus the start-up, the same command on 4 images), peak RSS; at the largest size one
process against ``torchrun --nproc_per_node 2`` (alternated, ``--runs`` each, medians and spread),
with each rank's peak RSS (``rank_peak_memory.py``). Exact kNN (``pairing.knn.knn`` on 512-d
features) is timed at 5k and 20k queries for its own exponent. The last table extrapolates to COCO
train (118,287 images) and ImageNet train (1,281,167): EXTRAPOLATIONS from these figures, not
measurements. Weights: the real files when present, else random stand-ins (speeds only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import colorbench_command, median_spread, photo_crops, stand_in_weights, timed, torchrun_command

COCO_TRAIN = 118_287
IMAGENET_TRAIN = 1_281_167
IMAGENET_CLASS = IMAGENET_TRAIN // 1000  # the imagenet builder retrieves within each class
PAIRS_SIDE = (640, 480)
SCORE_SIDE = 256
METRICS = "ssim,lpips,fid"
#: Set-metric features the main process of ``score`` holds per pair: FID's 2048-d pool3 of the
#: output and of the ground truth, float64.
FEATURE_BYTES_PER_PAIR = 2 * 2048 * 8
#: The start-up run's size: the smallest input every command accepts (top-k 3 needs 3 other images).
STARTUP_N = 4


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """The slope of log(seconds) on log(size), least squares."""
    return float(np.polyfit(np.log(sizes), np.log(np.maximum(seconds, 1e-9)), 1)[0])


def _pairs_command(images: Path, describe_only: bool, workers: int):
    retrieval = (["--top-k", "0", "--synthetic", "1"] if describe_only else
                 ["--features", "histogram", "--top-k", "3", "--synthetic", "0"])
    return lambda out: ["pairs", "folder", "--images", images, *retrieval, "--no-filters", "--workers", workers,
                        "--out", out.with_suffix(".parquet")]


def _score_command(split: Path, pred: Path, workers: int):
    return lambda out: ["score", "--split", split, "--pred", pred, "--out", out, "--metrics", METRICS,
                        "--workers", workers]


class Bench:
    """Timed runs, each in a folder of its own with an empty cache; ``command(out)`` gives the
    arguments of colorbench for an output path inside that folder."""

    def __init__(self, root: Path, env: dict):
        self.root, self.env, self.count = root, env, 0

    def _fresh(self, name: str) -> tuple[dict, Path]:
        self.count += 1
        run = self.root / "runs" / f"{self.count:03d}-{name.split()[0]}"
        run.mkdir(parents=True)
        return {**self.env, "COLORBENCH_CACHE": str(run / "cache")}, run

    def one(self, name: str, command) -> tuple[float, float]:
        """One process: wall seconds and peak RSS (GB)."""
        env, run = self._fresh(name)
        result = timed([*colorbench_command(), *command(run / "out")], env, run / "log")
        return result.seconds, result.rss

    def two(self, name: str, command) -> tuple[float, list[float]]:
        """Two processes under torchrun: wall seconds and each rank's peak RSS (itself or a worker)."""
        env, run = self._fresh(name)
        env["PEAK_MEMORY_DIR"] = str(run / "memory")
        script = Path(__file__).with_name("rank_peak_memory.py")
        result = timed([*torchrun_command(2), script, *command(run / "out")], env, run / "log")
        ranks = [json.loads((run / "memory" / f"rank-{rank}.json").read_text()) for rank in range(2)]
        return result.seconds, [max(rank["process"], rank["workers"]) for rank in ranks]


def _data(root: Path, sizes: list[int], workers: int) -> dict:
    """Per size: the pairs' JPEG folder, and the score split with a method's outputs."""
    from baselines import run_baseline
    from pairing import FilterSettings, build_folder

    data = {}
    for n in sorted(set(sizes) | {STARTUP_N}):
        folder = root / f"jpegs-{n}"
        photo_crops(folder, n, *PAIRS_SIDE, suffix=".jpg", seed=n)
        squares = root / f"squares-{n}"
        photo_crops(squares, n, SCORE_SIDE, seed=10_000 + n)
        split = build_folder(squares, features="histogram", top_k=1, synthetic=0, progress=False,
                             filters=FilterSettings(enabled=False), workers=workers)
        split_path = split.save(root / f"split-{n}.parquet")
        run_baseline("reinhard", split, root / f"pred-{n}", workers=workers, progress=False)
        data[n] = {"jpegs": folder, "split": split_path, "pred": root / f"pred-{n}"}
    return data


def _knn_exponent() -> tuple[list[int], list[float]]:
    from pairing.knn import content_codes, knn

    rng = np.random.default_rng(0)
    sizes, seconds = [5_000, 20_000], []
    for n in sizes:
        features = rng.standard_normal((n, 512)).astype(np.float32)
        codes = content_codes([str(i) for i in range(n)], [str(i) for i in range(n)])
        start = time.perf_counter()
        knn(features, features, 3, *codes, 0.0)
        seconds.append(time.perf_counter() - start)
        print(f"  exact kNN {n:,} x {n:,} x 512-d, k = 3: {seconds[-1]:.1f} s", flush=True)
    return sizes, seconds


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=32, help="images (pairs) at 1x (default: 32)")
    parser.add_argument("--factors", default="1,4,16", help="sizes as multiples of --base (default: 1,4,16)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each side at the largest size (default: 2)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers per process (default: 2)")
    args = parser.parse_args()
    factors = [int(f) for f in args.factors.split(",")]
    sizes = [args.base * f for f in factors]
    lines = ["| step | " + " | ".join(f"{n} ({f}x)" for n, f in zip(sizes, factors)) + " | exponent |",
             "| --- |" + " --- |" * (len(sizes) + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env, random = stand_in_weights(root, ["alexnet", "inception_fid"])
        if random:
            print("(weights absent: random stand-ins; the figures are speeds only)")
        print(f"data: real-photograph crops for {', '.join(map(str, sizes))} images", flush=True)
        data = _data(root, sizes, args.workers)
        bench = Bench(root, env)
        results = {}
        steps = {"pairs (histogram)": lambda n: _pairs_command(data[n]["jpegs"], False, args.workers),
                 "pairs, decoding only": lambda n: _pairs_command(data[n]["jpegs"], True, args.workers),
                 f"score ({METRICS})": lambda n: _score_command(data[n]["split"], data[n]["pred"], args.workers)}
        for step, command in steps.items():
            startup, _ = bench.one(step, command(STARTUP_N))
            times, memory = [], []
            for n in sizes:
                seconds, rss = bench.one(step, command(n))
                times.append(seconds)
                memory.append(rss)
                print(f"{step}: {n} in {seconds:.1f} s (start-up, on {STARTUP_N}: {startup:.1f} s), peak RSS "
                      f"{rss:.2f} GB",
                      flush=True)
            work = [t - startup for t in times]
            # the rate of the marginal work, between the smallest and the largest size (start-up cancels)
            rate = (sizes[-1] - sizes[0]) / max(times[-1] - times[0], 1e-9)
            results[step] = {"sizes": sizes, "seconds": times, "startup": startup, "rss": memory,
                             "exponent": exponent(sizes, work), "rate": rate}
            lines.append(f"| {step}: seconds (peak RSS) | "
                         + " | ".join(f"{t:.1f} ({r:.2f} GB)" for t, r in zip(times, memory))
                         + f" | {results[step]['exponent']:.2f} |")
        print("\n".join(lines), flush=True)

        largest = sizes[-1]
        compare = ["| at the largest size | one process | torchrun --nproc_per_node 2 | speed-up | peak RSS per rank |",
                   "| --- | --- | --- | --- | --- |"]
        for step, command in steps.items():
            if step == "pairs, decoding only":
                continue
            ones, twos, ranks = [], [], []
            for _ in range(args.runs):  # alternated: A B A B
                ones.append(bench.one(step, command(largest))[0])
                seconds, rss = bench.two(step, command(largest))
                twos.append(seconds)
                ranks.append(rss)
            peak = [max(r[i] for r in ranks) for i in range(2)]
            speedup = statistics.median(ones) / statistics.median(twos)
            results[step].update(one=ones, two=twos, rank_rss=peak)
            per_rank = ", ".join(f"rank {i}: {gb:.2f} GB" for i, gb in enumerate(peak))
            compare.append(f"| {step}, {largest} | {median_spread(ones)} s | {median_spread(twos)} s | "
                           f"{speedup:.2f}x | {per_rank} |")
            print(compare[-1], flush=True)
        print("\n".join(compare), flush=True)

        knn_sizes, knn_seconds = _knn_exponent()
        knn_k = exponent(knn_sizes, knn_seconds)
        knn_a = knn_seconds[-1] / knn_sizes[-1] ** knn_k

        def knn_time(n: int) -> float:
            return knn_a * n ** knn_k

        pairs, decode, scoring = (results[s] for s in steps)
        print(_extrapolations(pairs, decode, scoring, knn_time, knn_k))


def _extrapolations(pairs: dict, decode: dict, scoring: dict, knn_time, knn_k: float) -> str:
    lines = ["", "EXTRAPOLATED from the figures above (2-core CPU, one process; not measured):", "",
             "| workload | images / pairs | estimate | bound by |", "| --- | --- | --- | --- |"]
    for name, n, within_class in (("COCO train", COCO_TRAIN, False), ("ImageNet train", IMAGENET_TRAIN, True)):
        describe = n / pairs["rate"]
        decoding = n / decode["rate"]
        neighbours = 1000 * knn_time(IMAGENET_CLASS) if within_class else knn_time(n)
        bound = "decode" if decoding > 0.5 * describe else "descriptor"
        lines.append(f"| `pairs` (histogram), {name} | {n:,} | {_hours(describe + neighbours)}: decoding pass "
                     f"{_hours(describe)} (decoding alone {_hours(decoding)}), exact kNN {_hours(neighbours)} "
                     f"({'1000 classes of ' + format(IMAGENET_CLASS, ',') if within_class else f'{n:,} x {n:,}'}, "
                     f"exponent {knn_k:.2f}) | {bound if neighbours < describe else 'kNN'} |")
    for name, n in (("COCO train", COCO_TRAIN), ("ImageNet train", IMAGENET_TRAIN)):
        seconds = n / scoring["rate"]
        gather = n * FEATURE_BYTES_PER_PAIR / 1024**3
        lines.append(f"| `score` ({METRICS}), {name} | {n:,} | {_hours(seconds)}; the main process then holds "
                     f"{gather:.1f} GB of FID features (gather) | network (Inception, AlexNet) |")
    speedup_pairs = statistics.median(pairs["one"]) / statistics.median(pairs["two"])
    speedup_score = statistics.median(scoring["one"]) / statistics.median(scoring["two"])
    lines.append("")
    lines.append(f"Two processes on these 2 cores: pairs {speedup_pairs:.2f}x, score {speedup_score:.2f}x of one "
                 "process; N GPUs divide the network and decoding time by up to N (decoding needs the cores to match).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
