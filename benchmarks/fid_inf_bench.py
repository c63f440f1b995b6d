"""FID infinity speed: colorbench's ``fid_infinity`` against the reference recipe's cost.

    python benchmarks/fid_inf_bench.py [--n 2000] [--dim 2048] [--repeats 10] [--points 15] [--scipy-fids 2]

Synthetic Inception-like features (non-negative, a low-rank part plus noise; outputs and ground
truths from two different distributions), N x D each. Times ``bench.metrics.fid.fid_infinity``
(repeats x points FIDs, each an exact float64 eigenvalue problem), then a few FIDs computed the
way the reference code does (``np.cov`` of the subset, ``scipy.linalg.sqrtm(S_1 @ S_2)``),
extrapolated to the same repeats x points FIDs, and the agreement of one subset's FID between the two.
Wall and CPU time are both printed: on a shared machine, wall time depends on the load.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.linalg
import torch


def synthetic_features(n: int, dim: int, rank: int, scale: float, seed: int) -> np.ndarray:
    """Non-negative ``(n, dim)`` features: a rank-``rank`` part (on a basis shared by every call,
    with per-direction spread ``scale``) plus noise, through a ReLU as Inception's pool3 is."""
    basis = np.random.default_rng(12345).standard_normal((rank, dim)) / np.sqrt(rank)
    rng = np.random.default_rng(seed)
    coefficients = rng.standard_normal((n, rank)) * scale
    return np.maximum(coefficients @ basis + 0.3 * rng.standard_normal((n, dim)) + 0.2, 0)


def scipy_fid(x: np.ndarray, mu_gt: np.ndarray, sigma_gt: np.ndarray) -> float:
    """The reference recipe (TTUR / score_infinity.py): np.cov and scipy.linalg.sqrtm of the product."""
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    covmean = scipy.linalg.sqrtm(sigma @ sigma_gt).real
    diff = mu - mu_gt
    return float(diff @ diff + np.trace(sigma) + np.trace(sigma_gt) - 2 * np.trace(covmean))


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="outputs and ground truths (each)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--points", type=int, default=15)
    parser.add_argument("--scipy-fids", type=int, default=2, help="sqrtm FIDs actually timed")
    args = parser.parse_args()

    from bench.metrics.fid import FrechetToReference, fid_infinity, fid_infinity_min_n

    pred = synthetic_features(args.n, args.dim, rank=64, scale=1.2, seed=0)
    gt = synthetic_features(args.n, args.dim, rank=64, scale=1.0, seed=1)
    print(f"features: {args.n} outputs and {args.n} ground truths, {args.dim}-d; {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")

    result, wall, cpu = timed(lambda: fid_infinity(pred, gt, points=args.points, repeats=args.repeats, seed=0))
    n_fids = args.repeats * args.points
    print(f"colorbench fid_infinity: {n_fids} FIDs ({args.repeats} repeats x {args.points} points, "
          f"min_n {result['min_n']}): {wall:.1f} s wall, {cpu:.1f} s CPU; "
          f"value {result['value']:.4f} +- {result['std']:.4f}")

    min_n = fid_infinity_min_n(args.n)
    sizes = np.linspace(min_n, args.n, args.scipy_fids + 2).astype(int)[1:-1]  # mid-range sizes
    rng = np.random.default_rng(0)
    subsets = [rng.permutation(args.n)[:size] for size in sizes]
    mu_gt, sigma_gt = gt.mean(0), np.cov(gt, rowvar=False)
    scipy_values, scipy_wall, scipy_cpu = timed(lambda: [scipy_fid(pred[index], mu_gt, sigma_gt) for index in subsets])
    per_fid = scipy_wall / len(subsets)
    print(f"scipy.linalg.sqrtm FID: {per_fid:.1f} s wall ({scipy_cpu / len(subsets):.1f} s CPU) per FID "
          f"(sizes {', '.join(map(str, sizes))}); x {n_fids} FIDs = {per_fid * n_fids / 60:.1f} min extrapolated")
    print(f"ratio (extrapolated scipy / colorbench, wall): {per_fid * n_fids / wall:.0f}x")
    ours = FrechetToReference(pred, gt).distances(subsets)
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours, scipy_values))
    print(f"same subsets, colorbench vs scipy FID: {', '.join(f'{a:.6f}/{b:.6f}' for a, b in zip(ours, scipy_values))}"
          f" (largest relative difference {worst:.1e})")


if __name__ == "__main__":
    main()
