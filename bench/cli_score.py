"""``colorbench score``: score a method's outputs on a split."""

from __future__ import annotations

import argparse
import json

from .cli_common import (
    add_command,
    add_device_option,
    add_image_roots_options,
    add_seed_option,
    add_workers_option,
    positive_int,
)
from .config import DEFAULT_BATCH_PIXELS, DEFAULT_BATCH_SIZE

_DESCRIPTION = """\
Score a method's outputs on a split and write the files the leaderboard reads.

Outputs are read as PRED/<pair_id>.png. Writes OUT/per_image.parquet (a row per pair, a column
per per-image metric; object-level columns end in @object) and OUT/summary.json (method,
split_id, level, each metric's value with ci95 or std, direction and n, and the settings, weight
checksums and device used).

Metrics (* runs only when named in --metrics):
{metrics}

--protocol NAME scores under a paper's rules (`colorbench protocols` lists them): its metrics,
level, resizing and every setting, recorded in summary.json; the split must fit it.

Without --metrics every default metric the split supports runs; one whose pretrained network is
missing is skipped, with the reason in summary.json (never a number).
Each image is decoded once; networks run batched, on GPU when present; ground-truth features are
cached on disk keyed by content, so a second method on the same split pays only for its own.

Outputs must have their target's size (--resize: bicubic to the target's size); gray, RGBA,
palette or 16-bit outputs are converted to RGB with a warning, and so is a JPEG named .png;
missing outputs are an error (--allow-missing scores the rest; the result is marked partial).

OUT must not hold a result already (--overwrite replaces it); one run at a time may write into
OUT. Progress is checkpointed at least every 10 s under OUT/.partial; --resume continues the same
run (same split, outputs, method, metrics and settings; anything else is refused, naming it).
"""


def _description() -> str:
    from .metrics.registry import METRICS

    lines = [f"  {name + ('' if spec.default else '*'):<19}{spec.description}" for name, spec in METRICS.items()]
    return _DESCRIPTION.format(metrics="\n".join(lines))


def register(subparsers) -> None:
    parser = add_command(subparsers, "score", "score a method's outputs on a split", _description())
    parser.add_argument("--split", required=True, metavar="SPLIT.parquet", help="the split the outputs answer")
    parser.add_argument("--pred", required=True, metavar="DIR", help="folder of outputs named <pair_id>.png")
    parser.add_argument("--out", required=True, metavar="OUT", help="folder for per_image.parquet and summary.json")
    parser.add_argument("--method", help="method name recorded in the summary (default: the --pred folder's name)")
    parser.add_argument("--metrics", help="comma-separated metric names, from those listed above (default: every "
                                          "default metric the split supports)")
    parser.add_argument("--level", choices=("image", "object", "both"), default="both",
                        help="image level, object crops, or both (default: both; object needs an object split)")
    add_device_option(parser)
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE,
                        help=f"at most this many pairs per batch (default: {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--batch-pixels", type=positive_int, default=DEFAULT_BATCH_PIXELS,
                        help=f"at most this many output pixels per batch, which bounds memory for large images "
                             f"(default: {DEFAULT_BATCH_PIXELS})")
    add_workers_option(parser)
    add_image_roots_options(parser)
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in OUT")
    parser.add_argument("--overwrite", action="store_true", help="replace a result already in OUT")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score the outputs present and report the missing ones (default: error)")
    parser.add_argument("--resize", action="store_true",
                        help="resize outputs whose size differs from the target (bicubic) instead of failing")
    parser.add_argument("--config", metavar="JSON",
                        help="metric settings as a JSON object, e.g. '{\"lpips_r_h\": 0.1}'; with --protocol, "
                             "single settings that override the protocol's (recorded)")
    parser.add_argument("--protocol", metavar="NAME",
                        help="score under a paper's evaluation rules (its metrics, level, resizing and every "
                             "setting; `colorbench protocols` lists them); the split must fit it")
    add_seed_option(parser)
    parser.set_defaults(func=run, runs_distributed=True)


def run(args: argparse.Namespace) -> int:
    from .config import ScoreConfig
    from .core.errors import ColorbenchError
    from .scorer import score

    try:
        settings = json.loads(args.config) if args.config else {}
    except json.JSONDecodeError as exc:
        raise ColorbenchError(f"--config is not valid JSON ({exc})") from None
    if not isinstance(settings, dict):
        raise ColorbenchError("--config must be a JSON object of metric settings")
    settings.setdefault("bootstrap_seed", args.seed)
    settings.setdefault("fid_inf_seed", args.seed)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    result = score(args.split, args.pred, metrics=metrics, level=args.level, method=args.method, out_dir=args.out,
                   device=args.device, batch_size=args.batch_size, batch_pixels=args.batch_pixels,
                   workers=args.workers, resume=args.resume, overwrite=args.overwrite,
                   allow_missing=args.allow_missing, resize=args.resize,
                   config=settings if args.protocol else ScoreConfig.from_dict(settings), protocol=args.protocol,
                   images_root=args.images, pool_root=args.pool_images)
    print(format_summary(result.summary))
    return 0


def format_summary(summary: dict) -> str:
    """The summary as a short text table."""
    pairs = summary["pairs"]
    partial = f" of {pairs['total']}, PARTIAL" if pairs["scored"] < pairs["total"] else ""
    protocol = (summary.get("meta") or {}).get("protocol")
    rules = f", protocol {protocol['name']}" if protocol else ""
    lines = [f"{summary['method']} on split {summary['split_id']} ({summary['level']} level, "
             f"{pairs['scored']}{partial} pairs{rules})"]
    for name, entry in summary["metrics"].items():
        value = entry["value"]
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        extra = ""
        if entry.get("ci95"):
            extra = f"  [{entry['ci95'][0]:.4f}, {entry['ci95'][1]:.4f}]"
        elif entry.get("std") is not None:
            extra = f"  +- {entry['std']:.4f}"
        lines.append(f"  {name:<24} {text:>12}{extra}  ({entry['direction']} is better)")
    for name, reason in summary["skipped"].items():
        lines.append(f"  {name:<24} skipped: {reason}")
    return "\n".join(lines)
