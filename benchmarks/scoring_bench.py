"""Scoring speed, measured as a user meets it: whole fresh processes, alternated, on real photographs.

    python benchmarks/scoring_bench.py [--pairs 192] [--side 256] [--runs 3] [--warmup 1] [--workers 2]
                                       [--device cpu] [--check both|a|none] [--keep DIR]

Data: N side x side crops (several offsets and scales, seeded) of the colour photographs that ship
with scikit-image and matplotlib, as the demo uses them (:func:`harness.photo_crops`: the demo set
``bench/demo_data/images`` plus scikit-image's other colour photographs). A one-reference-per-target
split over them (``pairing.build_folder``, histogram retrieval, filters off so every crop is a
target), and two methods' outputs: ``method_a`` = the ``reinhard`` baseline, ``method_b`` = the
``luminance-rank`` baseline (real colorizations from the retrieved reference).

Every timed run is a fresh process started the same way (:func:`harness.timed`: an entry point of
this environment's python, ``colorbench`` being the console script a user types), its wall time
measured from the parent (interpreter start, imports, network loading, decoding, scoring, writing
included) and its peak RSS from ``wait4`` (the largest process of its tree, as ``/usr/bin/time -v``
reports it):

* ``colorbench, first method``: ``colorbench score --split S --pred method_a --out OUT
  --metrics ssim,lpips,fid --level image --device D`` with an empty ``$COLORBENCH_CACHE``;
* ``colorbench, second method``: the same command on ``method_b`` with ``$COLORBENCH_CACHE``
  holding what a first method's run left (the ground truths' Inception features), as a user's
  cache holds it after scoring one method on the split;
* ``torchmetrics`` on method_a and on method_b: ``python SCRIPT PAIRS.json D``, the script
  :data:`harness.TORCHMETRICS_SCRIPT` (written into the work folder; the same device D; PIL decode,
  batches of 32, ``StructuralSimilarityIndexMeasure``,
  ``LearnedPerceptualImagePatchSimilarity("alex", normalize=True)``,
  ``FrechetInceptionDistance(feature=2048)``). torchmetrics has no feature cache, so for a second
  method it computes the ground truths' Inception features again: that is what its user pays.

After ``--warmup`` untimed rounds (file cache, first-import costs), ``--runs`` rounds each run all
four, the order alternating between rounds (colorbench first, then torchmetrics first). Reported:
median and min-max of each, ratios of the medians (torchmetrics / colorbench) and the min-max of
the per-round ratios, peak RSS; the last lines are a Markdown table to paste.

Values (``--check``): each colorbench result is compared with the reference implementations of the
README's table, run once per method in a fresh process (``loops``: scikit-image
``structural_similarity`` per image, the ``lpips`` package per image, ``torch_fidelity``'s FID on the
two folders), within the tolerances of the tests (SSIM 1e-5, LPIPS 1e-6, FID rel 1e-4 or abs 1e-3);
torchmetrics' own values are printed beside them (its SSIM window differs slightly from skimage's).

Weights: the real files in ``$TORCH_HOME/hub/checkpoints`` when present; otherwise randomly
initialised stand-ins (``bench.testing.write_random_weights``) in a temporary TORCH_HOME that both
sides read (torchvision's AlexNet and torch-fidelity's Inception file; the LPIPS heads ship with
lpips and with torchmetrics, checked identical). Nothing is downloaded: the files exist before
any process starts (``COLORBENCH_OFFLINE=1``; torch.hub reads a present file without a download).
With stand-ins, the figures are speeds only, never results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from harness import (
    TORCHMETRICS_SCRIPT,
    Run,
    colorbench_command,
    median_spread,
    photo_crops,
    photos,
    stand_in_weights,
    timed,
)

METRICS = "ssim,lpips,fid"
NETWORKS = ["alexnet", "inception_fid"]
#: Tolerances of the tests in tests/bench/metrics (ssim vs skimage, lpips vs the package, fid vs torch-fidelity).
TOLERANCES = {"ssim": (0.0, 1e-5), "lpips": (0.0, 1e-6), "fid": (1e-4, 1e-3)}  # (rel, abs)

LOOPS_SCRIPT = '''\
"""The reference implementations, one image at a time: skimage SSIM, the lpips package, torch-fidelity FID."""
import json
import sys

import lpips
import numpy as np
import torch
import torch_fidelity
from PIL import Image
from skimage.metrics import structural_similarity

pairs = json.load(open(sys.argv[1]))  # [[ground truth path, output path], ...]
gt_dir, pred_dir = sys.argv[2], sys.argv[3]
net = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
ssim, lp = [], []
for g, p in pairs:
    gt = np.asarray(Image.open(g).convert("RGB"))
    pred = np.asarray(Image.open(p).convert("RGB"))
    ssim.append(structural_similarity(gt, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=255, channel_axis=-1))
    with torch.no_grad():
        lp.append(float(net(lpips.im2tensor(pred), lpips.im2tensor(gt))))
fid = torch_fidelity.calculate_metrics(input1=pred_dir, input2=gt_dir, fid=True, cuda=False, verbose=False,
                                       cache=False)
print(json.dumps({"ssim": float(np.mean(ssim)), "lpips": float(np.mean(lp)),
                  "fid": fid["frechet_inception_distance"]}))
'''


def _make_data(root: Path, n: int, side: int, workers: int) -> tuple[Path, dict[str, Path]]:
    """The crops, the split, both methods' outputs (kept from an earlier run into the same ``--keep``
    folder); returns the split and each method's list of (ground truth, output) paths."""
    from baselines import run_baseline
    from pairing import FilterSettings, build_folder

    lists = {method: root / f"pairs_{method}.json" for method in ("a", "b")}
    if lists["b"].is_file():  # written last
        print(f"data: reusing {root}")
        return root / "split.parquet", lists
    photo_crops(root / "images", n, side)
    sources = photos()
    print(f"data: {n} crops of {side}x{side} from {len(sources)} photographs "
          f"({', '.join(path.stem for path in sources)})")
    split = build_folder(root / "images", features="histogram", top_k=1, synthetic=0, progress=False,
                         filters=FilterSettings(enabled=False), device="cpu")
    if len(split.table) != n:
        raise SystemExit(f"the split has {len(split.table)} pairs, not {n}")
    split_path = split.save(root / "split.parquet")
    for method, baseline in (("a", "reinhard"), ("b", "luminance-rank")):
        run_baseline(baseline, split, root / f"method_{method}", workers=workers, progress=False)
        lists[method].write_text(json.dumps([[str(root / "images" / row.target_path),
                                              str(root / f"method_{method}" / f"{row.pair_id}.png")]
                                             for row in split.table.itertuples()]))
    return split_path, lists


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_lpips_heads() -> None:
    """torchmetrics ships its own copy of the LPIPS v0.1 heads; both sides must read the same numbers."""
    import lpips
    import torchmetrics

    ours = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    theirs = Path(torchmetrics.__file__).parent / "functional" / "image" / "lpips_models" / "alex.pth"
    same = theirs.is_file() and _sha256(ours) == _sha256(theirs)
    print(f"LPIPS AlexNet heads: lpips' and torchmetrics' files {'identical' if same else 'DIFFER'}")


class _Runs:
    """The four timed commands of one N and their results."""

    KINDS = ("colorbench_first", "colorbench_second", "torchmetrics_a", "torchmetrics_b")
    LABELS = {"colorbench_first": "colorbench, first method (nothing cached)",
              "colorbench_second": "colorbench, second method (ground truths cached)",
              "torchmetrics_a": "torchmetrics on method A (batched by 32)",
              "torchmetrics_b": "torchmetrics on method B (recomputes the ground truths)"}

    def __init__(self, root: Path, split: Path, lists: dict[str, Path], env: dict, workers: int, device: str):
        self.root, self.split, self.lists, self.env = root, split, lists, env
        self.workers, self.device = workers, device
        self.script = root / "torchmetrics_score.py"
        self.script.write_text(TORCHMETRICS_SCRIPT)
        self.warm_cache = root / "warm_cache"
        (root / "runs").mkdir(exist_ok=True)
        self.runs: dict[str, list[Run]] = {k: [] for k in self.KINDS}
        self.values: dict[str, dict] = {}
        self.count = 0

    def _colorbench(self, method: str, cache: Path) -> tuple[Run, dict]:
        out = self.root / "runs" / f"{self.count:03d}_{method}"
        command = [*colorbench_command(), "score", "--split", self.split, "--pred", self.root / method, "--out", out,
                   "--metrics", METRICS, "--level", "image", "--workers", self.workers, "--device", self.device]
        run = timed(command, {**self.env, "COLORBENCH_CACHE": str(cache)}, out)
        summary = json.loads((out / "summary.json").read_text())
        return run, {k: v["value"] for k, v in summary["metrics"].items()}

    def run(self, kind: str, record: bool) -> None:
        self.count += 1
        if kind == "colorbench_first":
            cache = self.root / "caches" / f"{self.count:03d}"
            run, values = self._colorbench("method_a", cache)
            if not self.warm_cache.exists():
                shutil.copytree(cache, self.warm_cache)
        elif kind == "colorbench_second":
            cache = self.root / "caches" / f"{self.count:03d}"
            shutil.copytree(self.warm_cache, cache)
            run, values = self._colorbench("method_b", cache)
        else:
            log = self.root / "runs" / f"{self.count:03d}_{kind}"
            run = timed([sys.executable, self.script, self.lists[kind[-1]], self.device], self.env, log)
            values = json.loads(run.stdout.strip().splitlines()[-1])
        self.values[kind] = values
        if record:
            self.runs[kind].append(run)
        print(f"    {'' if record else '(warm-up) '}{self.LABELS[kind]}: {run.seconds:.1f} s (CPU {run.cpu:.1f} s), "
              f"peak RSS {run.rss:.2f} GB", flush=True)

    def round(self, index: int, record: bool) -> None:
        # colorbench's second method needs a warm cache, so the very first round starts with its first method
        order = list(self.KINDS) if index % 2 == 0 else ["torchmetrics_a", "torchmetrics_b", *self.KINDS[:2]]
        for kind in order:
            self.run(kind, record)


def _report(n: int, side: int, runs: _Runs) -> list[str]:
    """Print the figures of one N; return its rows of the Markdown table."""
    seconds = {k: [r.seconds for r in v] for k, v in runs.runs.items()}
    median = {k: statistics.median(v) for k, v in seconds.items()}
    print(f"\n{n} pairs of {side}x{side}, {METRICS}, {len(seconds['colorbench_first'])} runs each; wall time median "
          "(min-max), CPU time (user + system, workers included) median, peak RSS median (max):")
    for kind in runs.KINDS:
        rss = [r.rss for r in runs.runs[kind]]
        print(f"  {runs.LABELS[kind]:<56} {median_spread(seconds[kind]) + ' s':>22}  {n / median[kind]:5.1f} pairs/s  "
              f"CPU {statistics.median(r.cpu for r in runs.runs[kind]):6.1f} s  "
              f"RSS {statistics.median(rss):.2f} GB ({max(rss):.2f})")
    rows = []
    for what, ours, peer in (("first", "colorbench_first", "torchmetrics_a"),
                             ("second", "colorbench_second", "torchmetrics_b")):
        per_round = [p / o for p, o in zip(seconds[peer], seconds[ours])]
        ratio = median[peer] / median[ours]
        print(f"  torchmetrics / colorbench, {what} method: {ratio:.2f}x (per round {min(per_round):.2f}-"
              f"{max(per_round):.2f})")
        rows.append(f"| {n} | {what} | {median_spread(seconds[ours])} s | {median_spread(seconds[peer])} s | "
                    f"**{ratio:.2f}x** ({min(per_round):.2f}-{max(per_round):.2f}) | "
                    f"{statistics.median(r.rss for r in runs.runs[ours]):.2f} GB | "
                    f"{statistics.median(r.rss for r in runs.runs[peer]):.2f} GB |")
    return rows


def _check_values(root: Path, runs: _Runs, lists: dict[str, Path], env: dict, which: str) -> bool:
    """colorbench's values against the reference implementations (a fresh process per method)."""
    script = root / "reference_loops.py"
    script.write_text(LOOPS_SCRIPT)
    ok = True
    for method in ("a", "b") if which == "both" else ("a",):
        kind = "colorbench_first" if method == "a" else "colorbench_second"
        run = timed([sys.executable, script, lists[method], root / "images", root / f"method_{method}"], env,
                    root / "runs" / f"loops_{method}")
        reference = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"  values, method {method.upper()} ({runs.LABELS[kind].split(',')[1].strip()}); reference loops "
              f"{run.seconds:.1f} s (one run, CPU):")
        for metric in METRICS.split(","):
            ours, want = runs.values[kind][metric], reference[metric]
            peer = runs.values[f"torchmetrics_{method}"][metric]
            rel, absolute = TOLERANCES[metric]
            good = abs(ours - want) <= max(rel * abs(want), absolute)
            ok &= good
            print(f"    {metric:<6} colorbench {ours:.8g}  reference {want:.8g}  |diff| {abs(ours - want):.2e} "
                  f"({'within' if good else 'OUTSIDE'} tolerance)  torchmetrics {peer:.8g}")
    return ok


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="192", help="comma-separated pair counts")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3, help="timed rounds (each runs all four commands)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--workers", type=int, default=2, help="colorbench's DataLoader workers")
    parser.add_argument("--device", default="cpu", help="where both sides run (cpu, cuda, cuda:1, auto)")
    parser.add_argument("--check", choices=("both", "a", "none"), default="both",
                        help="compare the values with the reference implementations (methods A and B, A, none)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR (kept) instead of a temporary folder")
    args = parser.parse_args()
    import torch

    device = _device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep or tmp)
        base.mkdir(parents=True, exist_ok=True)
        env, random_weights = stand_in_weights(base, NETWORKS)
        print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
              f"device {device}; colorbench started as {' '.join(Path(c).name for c in colorbench_command())}, "
              f"torchmetrics as {Path(sys.executable).name} SCRIPT")
        if random_weights:
            print("weights absent: randomly initialised stand-ins in a temporary TORCH_HOME read by both sides; "
                  "the figures are speeds only, never results")
        _check_lpips_heads()
        rows, ok = [], True
        for n in (int(v) for v in args.pairs.split(",")):
            root = base / f"n{n}"
            split, lists = _make_data(root, n, args.side, args.workers)
            runs = _Runs(root, split, lists, env, args.workers, device)
            for index in range(args.warmup + args.runs):
                print(f"  round {index + 1} of {args.warmup + args.runs}", flush=True)
                runs.round(index, record=index >= args.warmup)
            rows += _report(n, args.side, runs)
            if args.check != "none":
                ok &= _check_values(root, runs, lists, env, args.check)
        print(f"\nMarkdown ({args.side} x {args.side} crops of real photographs, {METRICS}, device {device}, "
              f"{os.cpu_count()} CPUs, whole fresh processes alternated, median (min-max) of {args.runs} runs "
              f"after {args.warmup} warm-up round(s)):\n")
        print("| pairs | method on the split | colorbench | torchmetrics (batched by 32) | torchmetrics / colorbench "
              "(per round) | peak RSS colorbench | peak RSS torchmetrics |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(rows))
        if not ok:
            raise SystemExit("colorbench's values are outside the tolerances")


if __name__ == "__main__":
    main()
