"""Scoring memory and checkpoint cadence: ``colorbench score`` as a user runs it, watched from outside.

    python benchmarks/scoring_memory_bench.py [--large-pairs 120] [--large-size 1000x900]
                                              [--mixed-pairs 600] [--mixed-sizes 80]

1. Large images: N pairs of W x H scored with every default metric (``colorbench score`` in a
   subprocess, 2 DataLoader workers); prints the peak resident memory of the scoring process
   (its high-water mark, ``VmHWM``) and of the whole process tree (sampled every 50 ms), and the
   wall time. Target: under 3 GB.
2. Many sizes: M pairs spread over K different image sizes; prints how long after the command
   started each checkpoint (``OUT/.partial/rank-0/run.json``) appeared, kills the run with SIGKILL after
   the second one, checks that no DataLoader worker outlived it, and resumes it to the end.
   Target: a checkpoint within 10 s of work.

Weights: the real files when present, else random stand-ins in a temporary TORCH_HOME (speeds and
memory only, never results).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NETWORKS = ["alexnet", "vgg19", "inception_fid"]


def _photo(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    from PIL import Image

    low = rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(low).resize((width, height), Image.BICUBIC), dtype=np.float64)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _data(root: Path, sizes: list[tuple[int, int]]) -> tuple[Path, Path]:
    """Images of the given sizes, a one-pair-per-target split over them, and a method's outputs."""
    from PIL import Image

    from bench.core.images import write_png
    from pairing import FilterSettings, build_folder

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    for i, (width, height) in enumerate(sizes):
        write_png(root / "images" / f"img_{i:05d}.png", _photo(rng, width, height))
    split = build_folder(root / "images", features="histogram", top_k=1, synthetic=0, progress=False,
                         filters=FilterSettings(enabled=False))
    split_path = split.save(root / "split.parquet")
    (root / "pred").mkdir()
    for row in split.table.itertuples():
        gt = np.asarray(Image.open(root / "images" / row.target_path))
        write_png(root / "pred" / f"{row.pair_id}.png", np.clip(gt.astype(int) + (12, -9, 6), 0, 255).astype(np.uint8))
    return split_path, root / "pred"


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def _status(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in bytes (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _score_command(split: Path, pred: Path, out: Path, *extra: str) -> list[str]:
    script = Path(sys.executable).with_name("colorbench")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "bench.cli"]
    return head + ["score", "--split", str(split), "--pred", str(pred), "--out", str(out), *extra]


def large_images(root: Path, pairs: int, width: int, height: int) -> None:
    split, pred = _data(root, [(width, height)] * pairs)
    start = time.perf_counter()
    process = subprocess.Popen(_score_command(split, pred, root / "out"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    peak_main = peak_tree = 0
    while process.poll() is None:
        tree = _tree(process.pid)
        peak_main = max(peak_main, _status(process.pid, "VmHWM"))
        peak_tree = max(peak_tree, sum(_status(pid, "VmRSS") for pid in tree))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"colorbench score failed:\n{stderr}")
    metrics = [line.split()[0] for line in stdout.splitlines()[1:] if "skipped" not in line]
    print(f"{pairs} pairs of {width}x{height}, every default metric that runs ({', '.join(metrics)}):")
    print(f"  peak RSS of the scoring process (VmHWM): {peak_main / 2**30:5.2f} GB  (target < 3 GB)")
    print(f"  peak RSS of the process tree (with the 2 DataLoader workers, sampled): {peak_tree / 2**30:5.2f} GB")
    print(f"  wall time: {seconds:.1f} s ({pairs / seconds:.2f} pairs/s)")


def many_sizes(root: Path, pairs: int, sizes: int) -> None:
    rng = np.random.default_rng(1)
    shapes = [(int(w), int(h)) for w, h in rng.integers(96, 480, size=(sizes, 2))]
    split, pred = _data(root, [shapes[i % sizes] for i in range(pairs)])
    out = root / "out"
    index = out / ".partial" / "rank-0" / "run.json"
    start = time.perf_counter()
    process = subprocess.Popen(_score_command(split, pred, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen, last = [], None
    while process.poll() is None and len(seen) < 2:
        stamp = index.stat().st_mtime_ns if index.exists() else None
        if stamp is not None and stamp != last:
            seen.append(time.perf_counter() - start)
            last = stamp
        time.sleep(0.02)
    workers = [pid for pid in _tree(process.pid) if pid != process.pid]
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(2.0)
    alive = [pid for pid in workers if _status(pid, "VmRSS")]
    import json

    saved = len(json.loads(index.read_text())["shards"]) if index.exists() else 0
    print(f"{pairs} pairs of {sizes} different sizes, every default metric that runs:")
    print("  checkpoints appeared at " + ", ".join(f"{t:.1f} s" for t in seen) +
          " after the command started (start-up included; target: every 10 s of work)")
    print(f"  killed with SIGKILL after the second: {saved} shard(s) saved; DataLoader workers alive after 2 s: "
          f"{len(alive)} of {len(workers)}")
    begin = time.perf_counter()
    resumed = subprocess.run(_score_command(split, pred, out, "--resume"), capture_output=True, text=True)
    if resumed.returncode != 0:
        raise SystemExit(f"the resumed run failed:\n{resumed.stderr}")
    print(f"  resumed to the end in {time.perf_counter() - begin:.1f} s: {resumed.stdout.splitlines()[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large-pairs", type=int, default=120)
    parser.add_argument("--large-size", default="1000x900", help="WIDTHxHEIGHT")
    parser.add_argument("--mixed-pairs", type=int, default=600)
    parser.add_argument("--mixed-sizes", type=int, default=80)
    parser.add_argument("--only", choices=("large", "mixed"), help="run one part only")
    args = parser.parse_args()
    from bench.core.weights import is_present

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["COLORBENCH_CACHE"] = str(root / "cache")
        if not all(is_present(name) for name in NETWORKS):
            from bench.testing import write_random_weights

            os.environ["TORCH_HOME"] = str(root / "torch_home")
            write_random_weights(root / "torch_home", NETWORKS)
            print("(weights absent: random stand-ins; memory and speed only, never results)")
        if args.only in (None, "large"):
            width, height = (int(v) for v in args.large_size.lower().split("x"))
            large_images(root / "large", args.large_pairs, width, height)
        if args.only in (None, "mixed"):
            many_sizes(root / "mixed", args.mixed_pairs, args.mixed_sizes)


if __name__ == "__main__":
    main()
