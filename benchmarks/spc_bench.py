"""SPColor's semantic correspondence (SPC): the vectorised version against the per-class loop.

    python benchmarks/spc_bench.py [--device cpu|cuda] [--batch 8] [--side 64] [--classes 1,2,5,22,27]
                                   [--repeats 5] [--threads N] [--module] [--train]

For each number of classes k, the same inputs go through:

* ``batched``: :func:`reference_models.spcolor.correspondence.semantic_correspondence` with
  ``method="batched"`` (one computation over samples and classes);
* ``loop``: the same with ``method="loop"``
  (:func:`reference_models.spcolor.class_loop.class_loop_correspondence`: one small problem per
  sample and class, positions sorted by (sample, class) once and each group a slice);
* ``loop, as released``: :func:`spc_released_loop.released_loop_correspondence`, the
  released code's selection (the class map repeated over the 256 channels, boolean indexing of the
  (C, h, w) map) over all 27 classes whatever k is, as ``WarpNet.forward`` does.

``method="auto"`` (what the model runs) is the loop on a CPU for k >= 2 and the batched form on a
GPU or for k = 1 (:func:`~reference_models.spcolor.correspondence.auto_method`); the ``auto`` column
says which it picks here.

Inputs: batch x 256-channel features at side x side (the correspondence resolution: 64 x 64 at a
256 input), three warped values (a, b, confidence), and class maps like STEGO's: the argmax of k
smooth random fields at side / 2 (STEGO's 32 x 32 at a 256 input), nearest-upsampled, drawn
independently for target and reference (so some classes are on one side only). ``--module`` also
times the whole :class:`~reference_models.spcolor.correspondence.CorrespondenceNet` forward (random
weights, random VGG-shaped inputs, ``method="auto"``). Times are the minimum over ``--repeats`` interleaved runs
(wall clock, with CUDA synchronisation) and the process CPU time of that run, under
``torch.inference_mode``; with ``--train``, of a forward and backward pass (gradients of the
features and values, as in training), without the released loop and the module.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from functools import partial

import torch
import torch.nn.functional as F


def class_maps(k: int, batch: int, side: int, generator: torch.Generator, sigma: float = 2.0) -> torch.Tensor:
    """``(batch, side, side)`` int64: argmax of k Gaussian-smoothed noise fields at side / 2, nearest x2."""
    low = side // 2
    noise = torch.randn(batch * k, 1, low, low, generator=generator)
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    noise = F.conv2d(F.pad(noise, (radius, radius, 0, 0), mode="circular"), kernel.view(1, 1, 1, -1))
    noise = F.conv2d(F.pad(noise, (0, 0, radius, radius), mode="circular"), kernel.view(1, 1, -1, 1))
    labels = noise.view(batch, k, low, low).argmax(1, keepdim=True).float()
    return F.interpolate(labels, size=(side, side), mode="nearest")[:, 0].long()


def _forward_backward(fn) -> None:
    out = fn()
    (out.warped.sum() + out.best.sum()).backward()


def _timed(fn, device: torch.device) -> tuple[float, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--classes", default="1,2,5,22,27")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--module", action="store_true", help="also time the whole CorrespondenceNet forward")
    parser.add_argument("--train", action="store_true", help="time forward + backward (training), not inference")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from spc_released_loop import released_loop_correspondence

    from reference_models.spcolor.correspondence import CorrespondenceNet, auto_method, semantic_correspondence

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(args.seed)
    b, c, s = args.batch, args.channels, args.side
    # channels-last memory, as CorrespondenceNet's per-position theta / phi produce them
    theta = torch.randn(b, s, s, c, generator=generator).to(device).requires_grad_(args.train).permute(0, 3, 1, 2)
    phi = torch.randn(b, s, s, c, generator=generator).to(device).requires_grad_(args.train).permute(0, 3, 1, 2)
    values = torch.cat([torch.rand(b, 2, s, s, generator=generator) * 120 - 60,
                        torch.rand(b, 1, s, s, generator=generator)], 1).to(device).requires_grad_(args.train)
    net = vgg = None
    if args.module and not args.train:
        net = CorrespondenceNet().to(device).eval()
        image = 4 * s
        vgg = {name: torch.randn(b, ch, image // d, image // d, generator=generator).relu().to(device)
               for name, ch, d in (("relu2_2", 128, 2), ("relu3_2", 256, 4), ("relu4_2", 512, 8), ("relu5_2", 512, 16))}
        ref_ab = (torch.rand(b, 2, image, image, generator=generator) * 120 - 60).to(device)
    print(f"SPC on {device} ({torch.get_num_threads()} CPU threads): batch {b}, {c} channels, {s}x{s} positions, "
          f"min of {args.repeats} runs, {'forward + backward' if args.train else 'inference'}, ms wall (ms CPU)")
    header = (f"{'k':>3} {'classes/img':>11} {'batched':>16} {'loop':>16} {'loop, as released':>18} "
              f"{'loop/batched':>12} {'auto':>7}")
    print(header + (f" {'module':>16}" if args.module else ""))
    batched_by_k = {}
    for k in [int(x) for x in args.classes.split(",")]:
        target = class_maps(k, b, s, generator).to(device)
        reference = class_maps(k, b, s, generator).to(device)
        runs = {
            "batched": partial(semantic_correspondence, theta, phi, values, target, reference, k, method="batched"),
            "loop": partial(semantic_correspondence, theta, phi, values, target, reference, k, method="loop"),
        }
        if not args.train:
            runs["released"] = partial(released_loop_correspondence, theta, phi, values, target, reference, max(k, 27))
        else:
            runs = {name: partial(_forward_backward, fn) for name, fn in runs.items()}
        if net is not None:
            conf = torch.rand(b, s, s, generator=generator).to(device)
            runs["module"] = partial(net, vgg, vgg, ref_ab, target, conf, reference, conf, k)
        best = {name: (float("inf"), 0.0) for name in runs}
        with contextlib.nullcontext() if args.train else torch.inference_mode():
            for name, fn in runs.items():  # warm-up
                fn()
            for _ in range(args.repeats):
                for name, fn in runs.items():
                    wall, cpu = _timed(fn, device)
                    if wall < best[name][0]:
                        best[name] = (wall, cpu)
        batched_by_k[k] = best["batched"][0]
        present = sum(len(torch.unique(t)) for t in target) / b

        cells = {name: f"{wall * 1e3:7.1f} ({cpu * 1e3:6.1f})" for name, (wall, cpu) in best.items()}
        cells.setdefault("released", "-")
        line = (f"{k:>3} {present:>11.1f} {cells['batched']:>16} {cells['loop']:>16} {cells['released']:>18} "
                f"{best['loop'][0] / best['batched'][0]:>12.2f} {auto_method(device, k):>7}")
        print(line + (f" {cells['module']:>16}" if net is not None else ""), flush=True)
    if 1 in batched_by_k and 27 in batched_by_k:
        print(f"batched at k=27 / batched at k=1: {batched_by_k[27] / batched_by_k[1]:.2f}")


if __name__ == "__main__":
    main()
