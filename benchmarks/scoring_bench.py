"""Scoring throughput: colorbench's one-pass scorer against the peers run one after another.

    python benchmarks/scoring_bench.py [--pairs 500] [--side 256] [--device auto]

The same N pairs (side x side) are scored with ssim + lpips + fid + delta_his by

* the peers, one after another, as a user would chain them: a scikit-image SSIM loop, an lpips
  package loop, and torch-fidelity's FID on the two folders (delta_his has no public peer);
* colorbench, (a) as the first method on the split (nothing cached) and (b) as a second method on
  the same split (ground-truth features cached).

It checks that both sides give the same values and prints both speed ratios. Weights: the real
files when present; otherwise randomly initialised stand-ins in a temporary TORCH_HOME (the printed
figures are then speeds, never results).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _photo(rng: np.random.Generator, side: int) -> np.ndarray:
    from PIL import Image

    low = rng.uniform(0, 255, (5, 5, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(low).resize((side, side), Image.BICUBIC), dtype=np.float64)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _make_data(root: Path, n: int, side: int):
    """A folder of N ground truths, a one-pair-per-target split over it, and two methods' outputs."""
    from PIL import Image

    from bench.core.images import write_png
    from pairing import FilterSettings, build_folder

    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    for i in range(n):
        write_png(root / "images" / f"img_{i:05d}.png", _photo(rng, side))
    split = build_folder(root / "images", features="histogram", top_k=1, synthetic=0, progress=False,
                         filters=FilterSettings(min_size=min(side, 256)))
    split_path = split.save(root / "split.parquet")
    for method, cast in (("method_a", (14, -9, 6)), ("method_b", (-6, 11, -4))):
        (root / method).mkdir()
        for row in split.table.itertuples():
            gt = np.asarray(Image.open(root / "images" / row.target_path))
            write_png(root / method / f"{row.pair_id}.png", np.clip(gt.astype(int) + cast, 0, 255).astype(np.uint8))
    return split, split_path


def _peers(root: Path, split, method: str, device: str) -> tuple[float, dict]:
    import lpips
    import torch_fidelity
    from PIL import Image
    from skimage.metrics import structural_similarity

    start = time.perf_counter()
    ssim, lp = [], []
    net = lpips.LPIPS(net="alex", verbose=False).to(device)
    for row in split.table.itertuples():
        gt = np.asarray(Image.open(root / "images" / row.target_path).convert("RGB"))
        pred = np.asarray(Image.open(root / method / f"{row.pair_id}.png").convert("RGB"))
        ssim.append(structural_similarity(gt, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                          data_range=255, channel_axis=-1))
        with torch.no_grad():
            lp.append(float(net(lpips.im2tensor(pred).to(device), lpips.im2tensor(gt).to(device))))
    fid = torch_fidelity.calculate_metrics(input1=str(root / method), input2=str(root / "images"), fid=True,
                                           cuda=device.startswith("cuda"), verbose=False, cache=False)
    seconds = time.perf_counter() - start
    return seconds, {"ssim": float(np.mean(ssim)), "lpips": float(np.mean(lp)),
                     "fid": fid["frechet_inception_distance"]}


def _ours(split_path: Path, pred: Path, device: str, workers: int) -> tuple[float, dict]:
    from bench import score

    start = time.perf_counter()
    result = score(split_path, pred, metrics=["ssim", "lpips", "fid", "delta_his"], device=device, workers=workers,
                   progress=False, batch_size=32)
    seconds = time.perf_counter() - start
    return seconds, {name: entry["value"] for name, entry in result.summary["metrics"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from bench.core.device import resolve_device
    from bench.core.weights import is_present

    device = str(resolve_device(args.device))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["COLORBENCH_CACHE"] = str(root / "cache")
        if not (is_present("alexnet") and is_present("inception_fid")):
            from bench.testing import write_random_weights

            os.environ["TORCH_HOME"] = str(root / "torch_home")
            write_random_weights(root / "torch_home", ["alexnet", "inception_fid"])
            print("(weights absent: timing randomly initialised stand-ins; speeds only, never results)")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}; "
              f"{args.pairs} pairs of {args.side}x{args.side}")
        split, split_path = _make_data(root, args.pairs, args.side)
        peer_s, peer = _peers(root, split, "method_a", device)
        first_s, first = _ours(split_path, root / "method_a", device, args.workers)
        second_s, second = _ours(split_path, root / "method_b", device, args.workers)
        print(f"peers (skimage SSIM loop + lpips loop + torch-fidelity FID on folders): {peer_s:7.1f} s")
        print(f"colorbench, first method on the split (+ delta_his):                  {first_s:7.1f} s  "
              f"ratio {peer_s / first_s:4.2f}x  (target >= 1)")
        print(f"colorbench, second method (ground-truth features cached):              {second_s:7.1f} s  "
              f"ratio {peer_s / second_s:4.2f}x  (target >= 2)")
        for name in ("ssim", "lpips", "fid"):
            print(f"  {name:<6} peers {peer[name]:.6f}  colorbench {first[name]:.6f}  "
                  f"|diff| {abs(peer[name] - first[name]):.2e}")
        print(f"  throughput: {args.pairs / first_s:.1f} pairs/s (first method), "
              f"{args.pairs / second_s:.1f} pairs/s (second)")


if __name__ == "__main__":
    main()
