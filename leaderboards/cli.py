"""``colorbench leaderboard`` and ``colorbench demo``."""

from __future__ import annotations

import argparse

from bench.cli_common import add_command, add_device_option, add_seed_option
from bench.core.errors import ColorbenchError

_LEADERBOARD = """\
Turn result files (summary.json from 'colorbench score') into one table, optionally beside a
paper's published table; rows measured here and rows quoted from papers are marked; the best
value per column is bold, honouring each metric's direction; results from different splits or
metric settings are flagged, never silently mixed.
"""

_DEMO = """\
Run the benchmark loop on the photographs bundled with colorbench, offline: check the set and
its object masks, build an image-level and an object-level split (one reference per target),
run the baselines, score them with every metric whose network is present (the others are listed
as skipped, with the missing file), print the leaderboards in Markdown, and write them as
Markdown, CSV, HTML and LaTeX with a per-metric chart and a qualitative grid. Writes everything
under --out.
"""


def register_leaderboard(subparsers) -> None:
    from .render import FORMATS

    parser = add_command(subparsers, "leaderboard", "tables and figures from score results", _LEADERBOARD)
    parser.add_argument("results", nargs="+", metavar="RESULT", help="summary.json files (or folders holding one)")
    parser.add_argument("--published", metavar="TABLE",
                        help="a published table to show beside: " + ", ".join(_published_ids()))
    parser.add_argument("--format", choices=FORMATS, default="md", help="output format")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the table")
    parser.add_argument("--grid", metavar="PAIR_IDS",
                        help="comma-separated pair ids: also write FILE's stem + '-grid.png' (gray target | "
                             "reference | each method | ground truth)")
    parser.add_argument("--split", metavar="SPLIT.parquet",
                        help="the split for --grid (default: the split file recorded in the results)")
    parser.add_argument("--no-chart", action="store_true", help="do not write FILE's stem + '-chart.png'")
    parser.set_defaults(func=_run_leaderboard)


def _published_ids() -> list[str]:
    from .published_tables import list_published

    return list_published()


def _run_leaderboard(args: argparse.Namespace) -> int:
    from .make import make_leaderboard

    grid = [pid.strip() for pid in args.grid.split(",") if pid.strip()] if args.grid else None
    files = make_leaderboard(args.results, args.out, fmt=args.format, published=args.published, grid=grid,
                             split=args.split, chart=not args.no_chart)
    written = [str(p) for p in (files.table, files.provenance, files.chart, files.grid) if p is not None]
    print(f"wrote {', '.join(written)}")
    for flag in files.board.flags:
        print(f"note: {flag}")
    return 0


def register_demo(subparsers) -> None:
    parser = add_command(subparsers, "demo", "run the benchmark loop on the bundled demo set", _DEMO)
    parser.add_argument("--out", default="demo-out", metavar="DIR", help="output folder (default: demo-out)")
    parser.add_argument("--images", metavar="DIR", help="run on this folder instead of the bundled photographs")
    parser.add_argument("--annotations", metavar="COCO.json", help="the COCO instances file for --images")
    parser.add_argument("--baselines", metavar="NAMES", help="comma-separated baselines to run (default: all)")
    add_device_option(parser)
    add_seed_option(parser)
    parser.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import format_report, run_demo

    if bool(args.images) != bool(args.annotations):
        raise ColorbenchError("--images and --annotations go together (or leave both out for the bundled set)")
    report = run_demo(args.out, images_dir=args.images, annotations=args.annotations, device=args.device,
                      seed=args.seed, baselines=args.baselines.split(",") if args.baselines else None)
    print(format_report(report))
    return 0
