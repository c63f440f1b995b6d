"""``colorbench train`` and ``colorbench colorize``: the papers' reference models."""

from __future__ import annotations

import argparse

from bench.cli_common import (
    add_command,
    add_device_option,
    add_image_roots_options,
    add_method_outputs_options,
    add_workers_option,
    positive_int,
)
from bench.core.errors import ColorbenchError

_TRAIN = """\
Train a reference model on a split (GPU recommended; several GPUs with
'torchrun --nproc_per_node N $(which colorbench) train MODEL ...').

models:
{models}

Defaults are the papers' (MSA: Adam lr 1e-5, betas (0.9, 0.99), batch 8, 224 x 224, 40 epochs in
phase 1 on an image-level split, 10 in phase 2 on an object-level split with masks, from phase 1's
weights via --init; SPColor: lr 2e-5 (discriminator 2e-4), betas (0.5, 0.999), batch 16 per process (the
released code's 8 x 2 GPUs; the paper states none), 256 x 256,
120k steps, /10 at 100k, the STEGO prior (or [model] prior = "kmeans", fit on the split's targets)).
--config FILE (TOML or JSON) changes any setting: the run's at the top level (batch_size, epochs,
max_steps, seed, ...), the model's in its [model] table (SPColor: also its losses and optimisers, or
a preset), the training task's in [task] (MSA, SA: lr, betas, loss; SPColor: prior_fit_images);
the resolved settings go to RUN/config.json. Checkpoints: RUN/checkpoints/
(weights as safetensors) every checkpoint_every steps and at the end; --resume continues exactly;
losses in RUN/log.csv.
"""

_COLORIZE = """\
Colorize with a trained reference model:

  split:       --split S.parquet --out DIR     every pair as DIR/<pair_id>.png at the target's size,
                                               ready for 'colorbench score' (object splits: masks)
  single pair: --target GRAY.png --reference REF.jpg [--target-mask M.png --reference-mask M.png]
               --out OUT.png

--checkpoint: a .safetensors written by 'colorbench train', or for sa the authors' checkpoint.pt.
"""


def _models_text() -> str:
    from .registry import MODELS

    return "\n".join(f"  {name:<9}{spec.description}" for name, spec in MODELS.items())


def _model_argument(parser: argparse.ArgumentParser) -> None:
    from .registry import list_models

    parser.add_argument("model", choices=list_models(), metavar="MODEL",
                        help=f"the reference model: {', '.join(list_models())}")


def register_train(subparsers) -> None:
    parser = add_command(subparsers, "train", "train a reference model (MSA, SA, SPColor) on a split",
                         _TRAIN.format(models=_models_text()))
    _model_argument(parser)
    parser.add_argument("--split", required=True, metavar="SPLIT.parquet", help="the training split")
    parser.add_argument("--out", required=True, metavar="RUN", help="folder for checkpoints, logs and settings")
    parser.add_argument("--phase", type=positive_int, default=1,
                        help="msa: 1 = full images (image-level split), 2 = masked objects (object-level split)")
    parser.add_argument("--init", metavar="CKPT.safetensors", help="start from these weights (msa phase 2: phase 1's)")
    parser.add_argument("--config", metavar="FILE", help="settings file (TOML or JSON)")
    parser.add_argument("--max-steps", type=positive_int, help="stop after this many steps (default: the epochs)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add_device_option(parser)
    add_image_roots_options(parser)
    parser.set_defaults(func=_run_train, runs_distributed=True)


def _run_train(args: argparse.Namespace) -> int:
    from .training.loop import train

    run = train(args.model, args.split, args.out, phase=args.phase, init=args.init, config_file=args.config,
                max_steps=args.max_steps, device=args.device, resume=args.resume, images_root=args.images,
                pool_root=args.pool_images)
    losses = "" if run.first_loss is None else f"; loss {run.first_loss:.4f} -> {run.last_loss:.4f}"
    print(f"{args.model}: {run.steps} steps in {run.seconds:.1f} s ({run.steps_per_second:.2f} steps/s), "
          f"{run.total_steps} in all{losses}; last checkpoint {run.checkpoint}")
    return 0


def register_colorize(subparsers) -> None:
    parser = add_command(subparsers, "colorize", "colorize a split or a pair with a trained reference model",
                         _COLORIZE)
    _model_argument(parser)
    parser.add_argument("--checkpoint", required=True, metavar="CKPT", help="the trained weights")
    parser.add_argument("--split", metavar="SPLIT.parquet", help="colorize every pair of this split")
    parser.add_argument("--target", metavar="GRAY.png", help="single pair: the gray photo")
    parser.add_argument("--reference", metavar="REF.jpg", help="single pair: the colour reference")
    parser.add_argument("--target-mask", metavar="MASK.png", help="single pair: the target object's mask")
    parser.add_argument("--reference-mask", metavar="MASK.png", help="single pair: the reference object's mask")
    parser.add_argument("--out", required=True, metavar="DIR|OUT.png", help="output folder (split) or file (pair)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="pairs per network batch (default: 8)")
    add_method_outputs_options(parser)
    add_workers_option(parser)
    add_device_option(parser)
    add_image_roots_options(parser)
    parser.set_defaults(func=_run_colorize, runs_distributed=True)


def _run_colorize(args: argparse.Namespace) -> int:
    from .colorize import colorize_pair, colorize_split

    single = [args.target, args.reference]
    if args.split and any(single + [args.target_mask, args.reference_mask]):
        raise ColorbenchError("give either --split or --target/--reference (a single pair), not both")
    if args.split:
        run = colorize_split(args.model, args.checkpoint, args.split, args.out, device=args.device,
                             batch_size=args.batch_size, workers=args.workers, resume=args.resume,
                             overwrite=args.overwrite, images_root=args.images, pool_root=args.pool_images)
        print(f"{args.model}: wrote {run.written} outputs to {run.out_dir} ({run.pairs_per_second:.2f} pairs/s)"
              + (f"; {run.skipped_existing} were already there" if run.skipped_existing else ""))
        return 0
    if not all(single):
        raise ColorbenchError("give --split, or --target and --reference for a single pair")
    path = colorize_pair(args.model, args.checkpoint, args.target, args.reference, args.out,
                         target_mask=args.target_mask, reference_mask=args.reference_mask, device=args.device)
    print(f"{args.model}: wrote {path}")
    return 0
