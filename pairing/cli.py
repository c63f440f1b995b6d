"""``colorbench pairs`` and ``colorbench materialize``."""

from __future__ import annotations

import argparse

from bench.cli_common import (
    add_command,
    add_device_option,
    add_image_roots_options,
    add_seed_option,
    add_workers_option,
    fraction,
    nonnegative_float,
    nonnegative_int,
    positive_int,
)
from bench.core.errors import ColorbenchError

_PAIRS = """\
Build a standard target/reference split: a Parquet table plus a JSON sidecar (SPLIT.json).

builders:
{builders}

filters (on by default, each drop counted once, under its first reason, in the sidecar's report):
grayscale images, images whose short side is under --min-size (256) px, near-monochrome images
(one gray value on more than 80% of the pixels). --no-filters keeps them. They are SPColor's
(its ImageNet training data); the MSA paper names no filter for its COCO splits (image-level,
object-level), where they stay on by colorbench's choice: a grayscale photograph is a target whose
ground-truth colour is gray and a reference with no colour to give. --no-filters turns them off.

--top-k 1 --synthetic 0 gives one pair per target (the usual test protocol); --references 0 gives a
reference-free split (targets only, for automatic colorization; no ranking, no VGG19 weights).
imagenet10k keeps every listed test target unless --filters is given (a published test list is
kept whole; the filters still apply to the reference pool).
The same inputs and --seed give the same table and split_id on any machine. Options that do not
apply to the chosen builder are refused.
"""


def _pairs_description() -> str:
    import textwrap

    from .registry import BUILDERS

    lines = []
    width = max(len(name) for name in BUILDERS.names()) + 2
    for name, spec in BUILDERS.items():
        wrapped = textwrap.wrap(spec.description, 80)
        lines.append(f"  {name:<{width}}{wrapped[0]}")
        lines += [" " * (2 + width) + line for line in wrapped[1:]]
    return _PAIRS.format(builders="\n".join(lines))


_MATERIALIZE = """\
Write what any method needs to run on a split:
  targets/<pair_id>.png     the gray target (CIELAB lightness as neutral gray)
  references/<pair_id>.png  the reference (synthetic ones rendered from their seed)
  gt/<pair_id>.png          the colour ground truth
  masks/<pair_id>_target.png, masks/<pair_id>_reference.png   at object level (0/255)
  pairs.csv                 one row per pair with the paths above
Images are checked against the SHA-256 recorded in the split.
"""

# CLI flag dest -> builder keyword (dests not listed map to themselves).
_RENAMED = {"list": "list_file"}
# dest -> the flag a user typed, where they differ (for messages)
_FLAG = {"filter_targets": "--filters"}
_NOT_BUILDER_OPTIONS = {"builder", "out", "func", "command", "min_size", "no_filters", "runs_distributed"}


def register_pairs(subparsers) -> None:
    from .registry import list_builders

    parser = add_command(subparsers, "pairs", "build a target/reference split", _pairs_description())
    parser.add_argument("builder", choices=list_builders(), metavar="BUILDER",
                        help=f"split builder: {', '.join(list_builders())} (described above)")
    parser.add_argument("--images", required=True, metavar="DIR", help="folder of the target images")
    parser.add_argument("--annotations", metavar="COCO.json", help="COCO instances file (object-level; optional for "
                                                                   "others)")
    parser.add_argument("--pool-images", metavar="DIR", help="reference pool folder (default: --images)")
    parser.add_argument("--list", metavar="FILE",
                        help="imagenet10k: the ctest10k list ('/<wnid>/<file> <label>' lines); imagenet: optional "
                             "(default: every image of the class folders)")
    parser.add_argument("--out", required=True, metavar="SPLIT.parquet", help="where to write the split")
    parser.add_argument("--num-targets", type=positive_int, help="seeded subset of targets (default: all)")
    parser.add_argument("--top-k", type=nonnegative_int, help="retrieved references per target (default: 3)")
    parser.add_argument("--references", type=nonnegative_int, metavar="N",
                        help="image-level, folder: N retrieved references per target and no synthetic ones; 0: a "
                             "reference-free split (targets only, for automatic colorization)")
    parser.add_argument("--count", type=positive_int,
                        help="imagenet-val5k: the first N validation images (default: 5000, as CT2 and DDColor)")
    parser.add_argument("--refs", type=nonnegative_int, help="object-level: same-category references (default: 3)")
    parser.add_argument("--synthetic", type=nonnegative_int,
                        help="TPS synthetic references per target (default: 2; imagenet10k: 0)")
    parser.add_argument("--min-area", type=fraction, help="object-level: minimum mask coverage (default: 0.30)")
    parser.add_argument("--features", choices=("vgg19", "histogram"),
                        help="ranking features: vgg19 (default, the papers' protocol) or the weight-free histogram")
    parser.add_argument("--layer", help="VGG19 layer for ranking (default: relu5_4, averaged over space; fc6 also "
                                        "works)")
    parser.add_argument("--ranking", choices=("vgg19", "he2018"), help="imagenet10k retrieval (default: vgg19)")
    parser.add_argument("--near-duplicate", type=nonnegative_float,
                        help="relative feature distance under which a reference is a near-duplicate (default: 0.05)")
    parser.add_argument("--min-size", type=nonnegative_int, default=256,
                        help="drop images whose short side is smaller (default: 256)")
    parser.add_argument("--no-filters", action="store_true", help="keep grayscale, small and near-monochrome images")
    parser.add_argument("--filters", dest="filter_targets", action="store_true",
                        help="imagenet10k: apply the filters to the listed test targets too (default: every listed "
                             "target is kept, as the published test set has it)")
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="leave out unreadable or missing images (counted) instead of stopping")
    parser.add_argument("--batch-size", type=positive_int,
                        help="images per decoding and network batch (default: 32)")
    add_workers_option(parser, default=None)
    add_device_option(parser)
    add_seed_option(parser)
    parser.set_defaults(func=run_pairs, device=None, runs_distributed=True)


def builder_kwargs(args: argparse.Namespace) -> dict:
    """The builder's keyword arguments from the parsed flags; a flag that does not apply to the
    builder is an error rather than silently ignored."""
    from .collection import FilterSettings
    from .registry import builder_options

    accepted = builder_options(args.builder)
    if getattr(args, "references", None) is not None:
        given = [flag for flag, value in (("--top-k", args.top_k), ("--synthetic", args.synthetic))
                 if value is not None]
        if given:
            raise ColorbenchError(f"--references sets the references per target on its own; drop "
                                  f"{' and '.join(given)}")
    if getattr(args, "filter_targets", False) and args.no_filters:
        raise ColorbenchError("--filters and --no-filters contradict each other; pass one")
    kwargs = {}
    for dest, value in vars(args).items():
        if dest in _NOT_BUILDER_OPTIONS or value is None or value is False:
            continue
        name = _RENAMED.get(dest, dest)
        if name not in accepted:
            flag = _FLAG.get(dest, f"--{dest.replace('_', '-')}")
            raise ColorbenchError(f"{flag} does not apply to the {args.builder} builder")
        kwargs[name] = value
    if args.no_filters or args.min_size != 256:
        if "filters" not in accepted:
            flag = "--no-filters" if args.no_filters else "--min-size"
            raise ColorbenchError(f"{flag} does not apply to the {args.builder} builder (it filters nothing)")
        kwargs["filters"] = FilterSettings(enabled=not args.no_filters, min_size=args.min_size)
    return kwargs


def run_pairs(args: argparse.Namespace) -> int:
    from bench.core.paths import check_output_file
    from bench.core.splits import sidecar_path

    from .registry import get_builder

    builder = get_builder(args.builder)
    kwargs = builder_kwargs(args)
    check_output_file(args.out, suffixes=(".parquet",))
    check_output_file(sidecar_path(args.out), "--out's sidecar")
    split = builder(**kwargs)
    if split is None:  # under torchrun, a process other than the main one: its share is decoded and cached
        return 0
    path = split.save(args.out)
    print(describe_split(split, path))
    return 0


def describe_split(split, path) -> str:
    """A short text summary of a saved split for the terminal."""
    meta = split.meta
    features = meta.get("features") or {}
    lines = [f"wrote {path} and {path.with_suffix('.json').name}: split_id {meta['split_id']}, "
             f"{meta['num_pairs']} pairs, {meta['num_targets']} target images ({meta['builder']}, "
             f"{meta['level']} level)"]
    if features:
        layer = f" ({features['layer']})" if features.get("layer") else ""
        lines.append(f"  ranking features: {features['name']}{layer}")
    if not split.has_references:
        lines.append("  reference-free: one row per target, no references (automatic colorization)")
    for reason, count in meta["report"]["counts"].items():
        lines.append(f"  {reason}: {count}")
    return "\n".join(lines)


def register_materialize(subparsers) -> None:
    parser = add_command(subparsers, "materialize", "write a split's targets, references, ground truth and masks",
                         _MATERIALIZE)
    parser.add_argument("--split", required=True, metavar="SPLIT.parquet", help="the split to write out")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_image_roots_options(parser)
    parser.add_argument("--resume", action="store_true", help="skip pairs whose files are already written")
    parser.set_defaults(func=run_materialize)


def run_materialize(args: argparse.Namespace) -> int:
    from .materialize import materialize

    csv_path = materialize(args.split, args.out, images_root=args.images, pool_root=args.pool_images,
                           resume=args.resume)
    print(f"wrote {csv_path.parent} ({csv_path.name} lists every pair)")
    return 0
