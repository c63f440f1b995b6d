"""Super-attention speed: one batched pass vs a per-sample loop, at MSA's four levels; and SLIC.

    python benchmarks/attention_bench.py [--batch 8] [--side 224] [--repeats 3] [--threads N] [--device cpu]

Inputs are realistic for MSA at 224: a batch of 8 photo stand-ins segmented with the real
superpixel code (SLIC, MSA's default ``MSAConfig().superpixels``: about 150-210,
70-90, 45-60 and 20-28 superpixels at levels 1-4), features of the encoder's widths (64, 128, 256,
512 at 224, 112, 56, 28) and values of VGG19's widths (the same). Per level, the median over
``--repeats`` of:

* ``batched``: one :class:`SuperAttention` call on the whole batch (padding + validity masks);
* ``loop``: the same layer called once per sample (batch of 1) and the outputs stacked, i.e.
  what an implementation without batching does;

each as a forward pass (inference) and forward + backward (training). Also printed: the SLIC time
per image (four levels at 224, uncached) and a cache hit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from functools import partial

import numpy as np
import torch

LEVEL_CHANNELS = (64, 128, 256, 512)


def _photo(rng: np.random.Generator, side: int) -> np.ndarray:
    from PIL import Image

    low = rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(low).resize((side, side), Image.BICUBIC), dtype=np.float64)
    for _ in range(5):  # a few discs: edges for SLIC to follow
        cy, cx, r = rng.uniform(0, side, 3) * (1, 1, 0.3)
        yy, xx = np.mgrid[:side, :side]
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


def _median_time(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up (allocator, kernel selection)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _batched(layer, target, reference, values, t_labels, r_labels, backward: bool = False) -> None:
    """One call on the whole batch."""
    out = layer(target.requires_grad_(backward), reference, values, t_labels, r_labels).features
    if backward:
        out.sum().backward()


def _loop(layer, target, reference, values, t_labels, r_labels, backward: bool = False) -> None:
    """One call per sample (batch of 1), outputs stacked."""
    target = target.requires_grad_(backward)
    out = torch.cat([layer(target[b:b + 1], reference[b:b + 1], values[b:b + 1], t_labels[b:b + 1],
                           r_labels[b:b + 1]).features for b in range(target.shape[0])])
    if backward:
        out.sum().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--side", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    from skimage.color import rgb2lab
    from skimage.transform import resize

    from reference_models.layers.super_attention import SuperAttention
    from reference_models.layers.superpixels import stack_levels, superpixel_levels
    from reference_models.superattention.config import MSAConfig

    rng = np.random.default_rng(0)
    lightness = [rgb2lab(resize(_photo(rng, 320), (args.side, args.side)))[..., 0] / 100
                 for _ in range(2 * args.batch)]
    start = time.perf_counter()
    labels = [superpixel_levels(image, config=MSAConfig().superpixels) for image in lightness]
    slic_ms = 1000 * (time.perf_counter() - start) / len(lightness)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["COLORBENCH_CACHE"] = cache  # this process only: a throw-away cache
        superpixel_levels(lightness[0], config=MSAConfig().superpixels, cache=True)
        start = time.perf_counter()
        for _ in range(20):
            superpixel_levels(lightness[0], config=MSAConfig().superpixels, cache=True)
        hit_ms = 1000 * (time.perf_counter() - start) / 20
    target_labels = [t.to(device) for t in stack_levels(labels[: args.batch])]
    reference_labels = [t.to(device) for t in stack_levels(labels[args.batch:])]

    print(f"superpixels (SLIC, 4 levels, {args.side}x{args.side}, one image): {slic_ms:.1f} ms uncached, "
          f"{hit_ms:.2f} ms from the cache")
    print(f"super-attention, batch {args.batch} at {args.side}, device {device}, torch threads "
          f"{torch.get_num_threads()}, median of {args.repeats}")
    header = (f"{'level':>5} {'C':>4} {'HxW':>9} {'N (T)':>9} {'M (R)':>9} {'fwd batched':>12} {'fwd loop':>10} "
              f"{'speedup':>8} {'f+b batched':>12} {'f+b loop':>10} {'speedup':>8}")
    print(header)
    print("-" * len(header))
    gen = torch.Generator().manual_seed(0)
    totals = np.zeros(4)
    for level, channels in enumerate(LEVEL_CHANNELS):
        side = args.side >> level
        layer = SuperAttention(channels).to(device)
        shape = (args.batch, channels, side, side)
        target, reference, values = (torch.rand(shape, generator=gen).to(device) for _ in range(3))
        t_labels, r_labels = target_labels[level], reference_labels[level]

        inputs = (layer, target, reference, values, t_labels, r_labels)
        with torch.no_grad():
            fwd = [_median_time(partial(_batched, *inputs), args.repeats, device),
                   _median_time(partial(_loop, *inputs), args.repeats, device)]
        train = [_median_time(partial(_batched, *inputs, backward=True), args.repeats, device),
                 _median_time(partial(_loop, *inputs, backward=True), args.repeats, device)]
        totals += fwd + train
        counts_t = [int(t_labels[b].max()) for b in range(args.batch)]
        counts_r = [int(r_labels[b].max()) for b in range(args.batch)]
        print(f"{level + 1:>5} {channels:>4} {f'{side}x{side}':>9} {f'{min(counts_t)}-{max(counts_t)}':>9} "
              f"{f'{min(counts_r)}-{max(counts_r)}':>9} {1000 * fwd[0]:>9.1f} ms {1000 * fwd[1]:>7.1f} ms "
              f"{fwd[1] / fwd[0]:>7.2f}x {1000 * train[0]:>9.1f} ms {1000 * train[1]:>7.1f} ms "
              f"{train[1] / train[0]:>7.2f}x")
    print(f"{'all':>5} {'':>4} {'':>9} {'':>9} {'':>9} {1000 * totals[0]:>9.1f} ms {1000 * totals[1]:>7.1f} ms "
          f"{totals[1] / totals[0]:>7.2f}x {1000 * totals[2]:>9.1f} ms {1000 * totals[3]:>7.1f} ms "
          f"{totals[3] / totals[2]:>7.2f}x")


if __name__ == "__main__":
    main()
