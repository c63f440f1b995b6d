"""``colorbench leaderboard`` and ``colorbench demo``."""

from __future__ import annotations

import argparse

from bench.cli_common import add_command, add_device_option, add_seed_option, not_implemented
from bench.core.errors import ColorbenchError

_LEADERBOARD = """\
Turn result files (summary.json from 'colorbench score') into one table, optionally beside a
paper's published table; rows measured here and rows quoted from papers are marked; the best
value per column is bold, honouring each metric's direction; results from different splits or
metric settings are flagged, never silently mixed.
"""

_DEMO = """\
Run the benchmark loop on the photographs bundled with colorbench, offline: check the set and
its object masks, build an image-level and an object-level split (one reference per target) and
write their files; the baselines, scores and leaderboard join this loop as they land.
Writes everything under --out.
"""


def register_leaderboard(subparsers) -> None:
    parser = add_command(subparsers, "leaderboard", "tables and figures from score results", _LEADERBOARD)
    parser.add_argument("results", nargs="+", metavar="RESULT", help="summary.json files (or folders holding one)")
    parser.add_argument("--published", metavar="TABLE", help="a published table to show beside, e.g. msa-table1")
    parser.add_argument("--format", choices=("md", "latex", "csv", "html"), default="md", help="output format")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the table")
    parser.add_argument("--grid", metavar="PAIR_IDS", help="comma-separated pair ids for a qualitative grid PNG")
    parser.set_defaults(func=not_implemented("leaderboard"))


def register_demo(subparsers) -> None:
    parser = add_command(subparsers, "demo", "run the benchmark loop on the bundled demo set", _DEMO)
    parser.add_argument("--out", default="demo-out", metavar="DIR", help="output folder (default: demo-out)")
    parser.add_argument("--images", metavar="DIR", help="run on this folder instead of the bundled photographs")
    parser.add_argument("--annotations", metavar="COCO.json", help="the COCO instances file for --images")
    add_device_option(parser)
    add_seed_option(parser)
    parser.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import format_report, run_demo

    if bool(args.images) != bool(args.annotations):
        raise ColorbenchError("--images and --annotations go together (or leave both out for the bundled set)")
    print(format_report(run_demo(args.out, images_dir=args.images, annotations=args.annotations, device=args.device, seed=args.seed)))
    return 0
