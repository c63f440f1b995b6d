"""``colorbench baseline``: run a training-free method on every pair of a split."""

from __future__ import annotations

from bench.cli_common import add_command, add_device_option, add_seed_option, not_implemented

BASELINE_NAMES = ("gray", "oracle", "reinhard", "welsh", "ab-histogram")

_DESCRIPTION = """\
Colorize every pair of a split with a method that needs no training; writes OUT/<pair_id>.png at
the target's original size.

  gray          the target unchanged (lower bound)
  oracle        the ground truth (sanity upper bound)
  reinhard      global Lab mean/std transfer from the reference (masked on object splits)
  welsh         Welsh et al. 2002: luminance remapping and swatch matching
  ab-histogram  histogram matching of the ab channels
"""


def register(subparsers) -> None:
    parser = add_command(subparsers, "baseline", "run a training-free colorization baseline on a split", _DESCRIPTION)
    parser.add_argument("name", choices=BASELINE_NAMES, help="baseline method")
    parser.add_argument("--split", required=True, metavar="SPLIT.parquet", help="the split to colorize")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for <pair_id>.png")
    parser.add_argument("--resume", action="store_true", help="skip pairs whose output already exists")
    add_device_option(parser)
    add_seed_option(parser)
    parser.set_defaults(func=not_implemented("baseline"))
