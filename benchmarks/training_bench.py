"""Training throughput: the data pipeline (cold and warm view cache), training steps, colorize.

    python benchmarks/training_bench.py [--images 48] [--samples 96] [--steps 3] [--device auto]
                                        [--models msa,spcolor]

* loader: MSA's samples at 224 (the paper's model) through the real ``PairData`` and DataLoader
  with 1 and 2 workers: cold (every image decoded, resized, segmented into superpixels at four
  levels, synthetic references rendered, and cached) and warm (the cached views read back);
  samples/s and per worker process;
* training: optimiser steps/s of the paper-sized MSA at batch 8, 224 x 224, and of the paper-sized
  SPColor at batch 8, 256 x 256 (bf16 autocast on a GPU), and peak GPU memory when on one;
* colorize: pairs/s of ``colorize_split`` with each trained checkpoint.

Images are photo stand-ins (JPEG, 640 x 480) in an image-level split with one retrieved and one
synthetic reference per target. Weights: the real files when present, else random stand-ins in a
temporary TORCH_HOME (speeds only, never results).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _photos(folder: Path, count: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(count):
        low = rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8)
        image = np.asarray(Image.fromarray(low).resize((640, 480), Image.BICUBIC), dtype=np.float64)
        image += rng.normal(0, 6, image.shape)
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / f"photo_{i:04d}.jpg", quality=92)


def loader_rate(split, task, samples: int, workers: int, cache: Path) -> float:
    """Samples per second through the real data pipeline, ``samples`` of them, batch 8."""
    from bench.core.workers import data_loader
    from pairing.sampler import ReferenceSampler
    from reference_models.training.data import PairData, epoch_batches

    os.environ["COLORBENCH_CACHE"] = str(cache)
    data = PairData(split, task, use_masks=False, seed=0)
    sampler = ReferenceSampler(split, p_synthetic=0.5, seed=0)
    batches, epoch = [], 0
    while sum(len(b) for b in batches) < samples:
        batches += epoch_batches(sampler, epoch, 8)
        epoch += 1
    loader = data_loader(data, batch_sampler=batches, collate_fn=task.collate, num_workers=workers)
    start, seen = time.perf_counter(), 0
    for batch in loader:
        seen += batch.target_l.shape[0]
        if seen >= samples:
            break
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--models", default="msa,spcolor", help="models to train and colorize with")
    args = parser.parse_args()
    from bench.core.device import resolve_device
    from bench.core.weights import is_present
    from pairing import FilterSettings, build_folder
    from reference_models.superattention.training import MSATask
    from reference_models.training.config import TrainConfig

    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        networks = ["vgg19", "vgg16"]
        if not all(is_present(name) for name in networks):
            from bench.testing import write_random_weights

            os.environ["TORCH_HOME"] = str(root / "torch_home")
            write_random_weights(root / "torch_home", networks)
            print("(weights absent: random stand-ins; speeds only, never results)")
        _photos(root / "photos", args.images)
        split = build_folder(root / "photos", features="histogram", top_k=1, synthetic=1, progress=False,
                             filters=FilterSettings(enabled=False))
        split_path = split.save(root / "split.parquet")
        task = MSATask(TrainConfig(model={"pretrained_color_encoder": False}, task={"loss": {"lpips_weight": 0}}))
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, device {device}; "
              f"{len(split.table)} pairs of 640x480 JPEGs (half the references synthetic), MSA views at 224")
        print("\nloader (batch 8)                 samples/s   per worker")
        for workers in (1, 2):
            cache = root / f"cache-{workers}"
            cold = loader_rate(split, task, args.samples, workers, cache)
            warm = loader_rate(split, task, args.samples, workers, cache)
            print(f"  {workers} worker(s), cold cache    {cold:9.1f}   {cold / workers:9.1f}")
            print(f"  {workers} worker(s), warm cache    {warm:9.1f}   {warm / workers:9.1f}")
        if args.skip_training:
            return
        os.environ["COLORBENCH_CACHE"] = str(root / "cache-2")
        for model in args.models.split(","):
            train_and_colorize(model, split_path, root / model, device, args.steps)


#: The paper-sized settings each model trains with here (batch 8; SPColor's prior: k-means, since
#: the STEGO file is the user's).
_SETTINGS = {
    "msa": ({"batch_size": 8, "workers": 2, "checkpoint_every": 10 ** 6},
            "paper-sized MSA (phi trainable), batch 8, 224 x 224"),
    "spcolor": ({"batch_size": 8, "workers": 2, "checkpoint_every": 10 ** 6, "model": {"prior": "kmeans"}},
                "paper-sized SPColor (k = 22, k-means prior), batch 8, 256 x 256, discriminator and generator steps"),
}


def train_and_colorize(model: str, split_path: Path, root: Path, device: torch.device, steps: int) -> None:
    """Steps/s of ``model`` (after a one-step warm-up run) and pairs/s of colorize with its checkpoint."""
    from reference_models.colorize import colorize_split
    from reference_models.training.loop import train

    config, what = _SETTINGS[model]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    warmup = train(model, split_path, root / "warmup", config=config, max_steps=1, device=str(device), progress=False)
    run = train(model, split_path, root / "run", init=warmup.checkpoint, config=config, max_steps=steps,
                device=str(device), progress=False)
    amp = "bf16 autocast" if device.type == "cuda" else "float32"
    print(f"\ntraining, {what}, {amp}: {run.steps / run.seconds:.3f} steps/s ({run.seconds / run.steps:.2f} s/step "
          f"over {run.steps} steps, warm cache)")
    if device.type == "cuda":
        print(f"  peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")
    colorized = colorize_split(model, run.checkpoint, split_path, root / "colorized", device=str(device),
                               batch_size=8, workers=2, progress=False)
    print(f"colorize_split ({model}): {colorized.pairs_per_second:.2f} pairs/s ({colorized.written} pairs, 2 workers, "
          "batch 8; decoding, preprocessing and the network)")


if __name__ == "__main__":
    main()
