"""Baseline throughput: images/s of each training-free baseline.

    python benchmarks/baselines_bench.py [--pairs 64] [--side 256] [--workers 2]

Two figures per baseline on N pairs of side x side photo stand-ins (targets and references of
the same size): the method alone (its function on decoded inputs, one process) and the whole
``run_baseline`` on a split (decode, colorize, PNG write; DataLoader workers).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _photo(rng: np.random.Generator, side: int) -> np.ndarray:
    from PIL import Image

    low = rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(low).resize((side, side), Image.BICUBIC), dtype=np.float64)
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from baselines.registry import get_baseline, list_baselines
    from baselines.run import pair_inputs, pair_rng, run_baseline
    from bench.core.images import write_png
    from bench.pairs_io import load_sources
    from pairing import FilterSettings, build_folder

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "images").mkdir()
        for i in range(args.pairs):
            write_png(root / "images" / f"img_{i:04d}.png", _photo(rng, args.side))
        split = build_folder(root / "images", features="histogram", top_k=1, synthetic=0, progress=False,
                             filters=FilterSettings(min_size=min(args.side, 256)))
        path = split.save(root / "split.parquet")
        items = []
        for row in split.table.to_dict("records")[: args.pairs]:
            items.append(load_sources(row, split.root("images"), split.root("pool"), split.recipe, False))
        print(f"{len(items)} pairs of {args.side}x{args.side}; run_baseline with {args.workers} workers")
        print(f"{'baseline':<16} {'method alone':>14} {'run_baseline':>14}")
        for name in list_baselines():
            spec = get_baseline(name)
            if not spec.supports(split.level):
                continue  # needs an object split; costs what reinhard costs plus two boolean selections
            inputs = [pair_inputs(item, spec) for item in items]
            start = time.perf_counter()
            for pair in inputs:
                spec.fn(pair, pair_rng(0, pair.pair_id))
            alone = len(inputs) / (time.perf_counter() - start)
            run = run_baseline(name, path, root / "out" / name, workers=args.workers, progress=False)
            print(f"{name:<16} {alone:11.1f} /s {run.images_per_second:11.1f} /s")

if __name__ == "__main__":
    main()
