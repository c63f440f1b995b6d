"""Pairing throughput: ranking-feature extraction (images/s) and exact kNN time.

    python benchmarks/pairing_bench.py [--images N] [--sizes 10000,100000] [--imagenet N] [--device auto]

* Feature extraction runs the real ``pairing.describe.describe`` pass (read, hash, decode, gray,
  resize, VGG19 relu5_4 + average pool, or the histogram descriptor) over N generated 640x480
  JPEGs, with DataLoader workers. Throughput does not depend on the weights' values: when the
  VGG19 file is absent a randomly initialised one is written to a temporary TORCH_HOME (the
  printed figure is a speed, never a result).
* ``--imagenet N``: the ``imagenet`` builder (``--ranking vgg19`` and ``he2018``) on a class-folder
  tree of N 500x375 JPEGs, the whole build timed, printed per 1k images.
* kNN runs ``pairing.knn.knn`` (faiss IndexFlatL2 in blocks, float64 re-scoring, exclusion of the
  query itself) on synthetic 512-d features, Q x Q, against the peer: blocked torch matmul +
  topk, and checks that both return the same neighbours.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _make_images(folder: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        low = rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8)
        image = Image.fromarray(low).resize((640, 480), Image.BICUBIC)
        image.save(folder / f"img_{i:05d}.jpg", quality=90)


def bench_features(n_images: int, device: str, workers: int) -> None:
    from bench.core.cache import CACHE_ENV
    from bench.core.weights import is_present
    from pairing.collection import folder_collection
    from pairing.describe import FeatureSettings, describe

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ[CACHE_ENV] = str(tmp / "cache")  # never serve the timing from a cache
        if not is_present("vgg19"):
            from bench.testing import write_random_weights

            os.environ["TORCH_HOME"] = str(tmp / "torch_home")
            write_random_weights(tmp / "torch_home", ["vgg19"])
            print("(VGG19 weights absent: timing a randomly initialised VGG19; speed only)")
        (tmp / "images").mkdir()
        _make_images(tmp / "images", n_images)
        collection = folder_collection(tmp / "images")
        for name in ("histogram", "vgg19"):
            settings = FeatureSettings(name)
            os.environ[CACHE_ENV] = str(tmp / f"cache-{name}")  # a fresh, empty cache for each timing
            start = time.perf_counter()
            describe(collection, settings, device=device, workers=workers, progress=False, batch_size=32)
            seconds = time.perf_counter() - start
            print(f"features {name:<9} {n_images} images 640x480, {workers} workers, {device}: "
                  f"{n_images / seconds:8.1f} images/s ({seconds:.1f} s)")


def bench_imagenet(n_images: int, device: str, workers: int, classes: int = 10) -> None:
    """The ``imagenet`` builder on a class-folder tree of ``n_images`` 500 x 375 JPEGs (ImageNet's
    typical size), every image a target with 3 references from its class, per ranking: the
    describe pass (each image decoded once) and the ranking; printed per 1k images."""
    from bench.core.cache import CACHE_ENV
    from bench.core.weights import is_present
    from pairing import build_imagenet10k

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not is_present("vgg19"):
            from bench.testing import write_random_weights

            os.environ["TORCH_HOME"] = str(tmp / "torch_home")
            write_random_weights(tmp / "torch_home", ["vgg19"])
        rng = np.random.default_rng(1)
        from PIL import Image

        for i in range(n_images):
            folder = tmp / "train" / f"n{i % classes:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            low = rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8)
            Image.fromarray(low).resize((500, 375), Image.BICUBIC).save(folder / f"img_{i:05d}.JPEG", quality=90)
        for ranking in ("vgg19", "he2018"):
            os.environ[CACHE_ENV] = str(tmp / f"cache-{ranking}")  # nothing served from a cache
            start = time.perf_counter()
            split = build_imagenet10k(tmp / "train", ranking=ranking, top_k=3, device=device, workers=workers,
                                      progress=False)
            seconds = time.perf_counter() - start
            print(f"imagenet builder, --ranking {ranking:<6} {n_images} images 500x375 in {classes} classes, "
                  f"{workers} workers, {device}: {seconds:.1f} s = {1000 * seconds / n_images:.0f} s per 1k images "
                  f"({len(split.table)} pairs)")


def _torch_topk(queries: np.ndarray, pool: np.ndarray, k: int, block: int = 2048) -> np.ndarray:
    q, p = torch.from_numpy(queries), torch.from_numpy(pool)
    p_sq = (p * p).sum(1)
    out = []
    for start in range(0, len(q), block):
        chunk = q[start:start + block]
        d = p_sq[None, :] - 2 * chunk @ p.T
        d[torch.arange(len(chunk)), torch.arange(start, start + len(chunk))] = float("inf")  # not itself
        out.append(torch.topk(d, k, largest=False).indices)
    return torch.cat(out).numpy()


def bench_knn(size: int, k: int = 3, dim: int = 512) -> None:
    from pairing.knn import knn

    rng = np.random.default_rng(size)
    features = rng.normal(size=(size, dim)).astype(np.float32)
    start = time.perf_counter()
    ours, _ = knn(features, features, k, np.arange(size), np.arange(size))  # not itself
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    peer = _torch_topk(features, features, k)
    peer_s = time.perf_counter() - start
    agree = float((np.sort(ours, 1) == np.sort(peer, 1)).all(1).mean())
    print(f"kNN {size} x {size} x {dim}-d, k={k}: colorbench (faiss) {ours_s:7.1f} s | torch matmul+topk "
          f"{peer_s:7.1f} s | ratio {peer_s / ours_s:4.2f}x | same neighbours for {agree:.2%} of queries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256, help="images for the feature benchmark (default: 256)")
    parser.add_argument("--sizes", default="10000,100000", help="kNN sizes Q (Q x Q), comma-separated")
    parser.add_argument("--imagenet", type=int, default=0,
                        help="also time the imagenet builder on this many images (both rankings)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda: {torch.cuda.is_available()}")
    if args.images:
        bench_features(args.images, args.device, args.workers)
    if args.imagenet:
        bench_imagenet(args.imagenet, args.device, args.workers)
    for size in (int(s) for s in args.sizes.split(",") if s):
        bench_knn(size)


if __name__ == "__main__":
    main()
