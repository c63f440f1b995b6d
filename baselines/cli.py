"""``colorbench baseline``: run a training-free method on every pair of a split."""

from __future__ import annotations

import argparse

from bench.cli_common import (
    add_command,
    add_image_roots_options,
    add_method_outputs_options,
    add_seed_option,
    add_workers_option,
)

from .registry import get_baseline, list_baselines, reference_free_baselines


def _description() -> str:
    lines = ["Colorize every pair of a split with a method that needs no training; writes OUT/<pair_id>.png at",
             "the target's original size (the target's lightness is kept; methods predict colour).", ""]
    lines += [f"  {name:<17}{get_baseline(name).description}" for name in list_baselines()]
    lines += ["", f"On a reference-free split (colorbench pairs ... --references 0, imagenet-val5k) only those that "
              f"need no reference run: {', '.join(reference_free_baselines())}."]
    return "\n".join(lines) + "\n"


def register(subparsers) -> None:
    parser = add_command(subparsers, "baseline", "run a training-free colorization baseline on a split", _description())
    parser.add_argument("name", choices=list_baselines(), metavar="NAME", help="baseline method (listed above)")
    parser.add_argument("--split", required=True, metavar="SPLIT.parquet", help="the split to colorize")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for <pair_id>.png")
    add_method_outputs_options(parser)
    add_workers_option(parser)
    add_image_roots_options(parser)
    add_seed_option(parser)
    parser.set_defaults(func=_run, runs_distributed=True)


def _run(args: argparse.Namespace) -> int:
    from .run import run_baseline

    run = run_baseline(args.name, args.split, args.out, seed=args.seed, resume=args.resume, overwrite=args.overwrite,
                       workers=args.workers, images_root=args.images, pool_root=args.pool_images)
    print(f"{run.name}: wrote {run.written} outputs to {run.out_dir} ({run.images_per_second:.1f} images/s)"
          + (f"; {run.skipped_existing} were already there" if run.skipped_existing else ""))
    return 0
