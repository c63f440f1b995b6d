"""Scoring speed: colorbench's one-pass scorer against the peers users pick, on the same files.

    python benchmarks/scoring_bench.py [--pairs 192,1000] [--side 256] [--peers torchmetrics,loops] [--device auto]

For each N, the same N pairs (side x side) are scored with ssim + lpips + fid by

* ``torchmetrics`` (a benchmark extra: ``pip install torchmetrics``), batched by 32 as its users
  write it: PIL decode, ``StructuralSimilarityIndexMeasure(data_range=1.0)`` and
  ``LearnedPerceptualImagePatchSimilarity("alex", normalize=True)`` on float [0, 1],
  ``FrechetInceptionDistance(feature=2048)`` on uint8;
* ``loops`` (the per-image peers, as a user would chain them): a scikit-image SSIM loop, an lpips
  package loop, and torch-fidelity's FID on the two folders;
* colorbench, (a) as the first method on the split (nothing cached) and (b) as a second method on
  the same split (the ground truths' Inception features cached), each a fresh ``bench.score`` call
  that includes loading its networks, as every peer's time includes loading theirs.

It prints each time, the ratios (peer time / colorbench time) and the values each side computed.
Weights: the real files when present; otherwise randomly initialised stand-ins in a temporary
TORCH_HOME (the printed figures are then speeds, never results).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

METRICS = ["ssim", "lpips", "fid"]


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
    (root / "images").mkdir(parents=True)
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


def _read(path: Path) -> torch.Tensor:
    from PIL import Image

    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"))).permute(2, 0, 1)


def _torchmetrics(root: Path, split, method: str, device: str, batch: int = 32) -> tuple[float, dict]:
    start = time.perf_counter()
    from torchmetrics.image import (
        FrechetInceptionDistance,
        LearnedPerceptualImagePatchSimilarity,
        StructuralSimilarityIndexMeasure,
    )

    ssim = StructuralSimilarityIndexMeasure(data_range=1.0).to(device)
    lpips = LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True).to(device)
    fid = FrechetInceptionDistance(feature=2048).to(device)
    rows = list(split.table.itertuples())
    with torch.no_grad():
        for first in range(0, len(rows), batch):
            chunk = rows[first:first + batch]
            gt = torch.stack([_read(root / "images" / row.target_path) for row in chunk]).to(device)
            pred = torch.stack([_read(root / method / f"{row.pair_id}.png") for row in chunk]).to(device)
            ssim.update(pred.float() / 255, gt.float() / 255)
            lpips.update(pred.float() / 255, gt.float() / 255)
            fid.update(gt, real=True)
            fid.update(pred, real=False)
        values = {"ssim": float(ssim.compute()), "lpips": float(lpips.compute()), "fid": float(fid.compute())}
    return time.perf_counter() - start, values


def _loops(root: Path, split, method: str, device: str) -> tuple[float, dict]:
    start = time.perf_counter()
    import lpips
    import torch_fidelity
    from PIL import Image
    from skimage.metrics import structural_similarity

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
    return time.perf_counter() - start, {"ssim": float(np.mean(ssim)), "lpips": float(np.mean(lp)),
                                         "fid": fid["frechet_inception_distance"]}


def _ours(split_path: Path, pred: Path, device: str, workers: int) -> tuple[float, dict]:
    start = time.perf_counter()
    from bench import score

    result = score(split_path, pred, metrics=METRICS, device=device, workers=workers, progress=False)
    return time.perf_counter() - start, {name: entry["value"] for name, entry in result.summary["metrics"].items()}


PEERS = {"torchmetrics": ("torchmetrics (batched 32: SSIM, LPIPS, FID)", _torchmetrics),
         "loops": ("per-image loops (skimage SSIM, lpips, torch-fidelity FID on folders)", _loops)}


def run(root: Path, n: int, side: int, peers: list[str], device: str, workers: int) -> None:
    split, split_path = _make_data(root, n, side)
    timed = {name: PEERS[name][1](root, split, "method_a", device) for name in peers}
    first_s, first = _ours(split_path, root / "method_a", device, workers)
    second_s, second = _ours(split_path, root / "method_b", device, workers)
    print(f"\n{n} pairs of {side}x{side}, {' + '.join(METRICS)}:")
    print(f"  colorbench, first method on the split:                {first_s:7.1f} s  ({n / first_s:.1f} pairs/s)")
    print(f"  colorbench, second method (ground truths cached):     {second_s:7.1f} s  ({n / second_s:.1f} pairs/s)")
    for name, (seconds, values) in timed.items():
        print(f"  {PEERS[name][0]}: {seconds:7.1f} s")
        print(f"    ratio first method {seconds / first_s:4.2f}x, second method {seconds / second_s:4.2f}x")
        for metric in METRICS:
            print(f"    {metric:<6} {name} {values[metric]:.6f}  colorbench {first[metric]:.6f}  "
                  f"|diff| {abs(values[metric] - first[metric]):.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="192,1000", help="comma-separated pair counts")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--peers", default="torchmetrics,loops", help=f"comma-separated, from {', '.join(PEERS)}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from bench.core.device import resolve_device
    from bench.core.weights import is_present

    device = str(resolve_device(args.device))
    peers = [p for p in args.peers.split(",") if p]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["COLORBENCH_CACHE"] = str(root / "cache")
        if not (is_present("alexnet") and is_present("inception_fid")):
            from bench.testing import write_random_weights

            os.environ["TORCH_HOME"] = str(root / "torch_home")
            write_random_weights(root / "torch_home", ["alexnet", "inception_fid"])
            print("(weights absent: timing randomly initialised stand-ins; speeds only, never results)")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
        for n in (int(v) for v in args.pairs.split(",")):
            run(root / f"n{n}", n, args.side, peers, device, args.workers)


if __name__ == "__main__":
    main()
