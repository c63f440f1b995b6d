"""``colorbench protocols``: the field's evaluation protocols, and how much their rules move the numbers."""

from __future__ import annotations

import argparse

from .cli_common import add_command, add_device_option, add_image_roots_options, add_workers_option

_DESCRIPTION = """\
Papers compute "FID" and "colourfulness" in different ways (TF-FID or torchvision's Inception,
signed or absolute colour differences, per-image or set-level deltas, resized or cropped images).
A protocol fixes every such rule of one published table; `colorbench score --protocol NAME`
scores under it and records every resolved setting.

  colorbench protocols                  each protocol: the table it reproduces, metrics, settings, source
  colorbench protocols compare --split S --pred DIR
                                        score the same outputs under colorbench's defaults, single rule
                                        changes and every protocol that fits the split's level; prints
                                        each metric's value per rule set and the spread (each image is
                                        decoded once; nothing is written but the ground-truth caches)
"""


def register(subparsers) -> None:
    parser = add_command(subparsers, "protocols", "list the field's evaluation protocols, or compare their rules",
                         _DESCRIPTION)
    parser.add_argument("action", nargs="?", choices=("list", "compare"), default="list", help="default: list")
    parser.add_argument("--split", metavar="SPLIT.parquet", help="compare: the split the outputs answer")
    parser.add_argument("--pred", metavar="DIR", help="compare: folder of outputs named <pair_id>.png")
    parser.add_argument("--partial-batch", type=int, default=32, metavar="B",
                        help="compare: the batch size of the 'drop partial batch' FID rule (default: 32)")
    parser.add_argument("--resize", action="store_true",
                        help="compare: resize outputs whose size differs from the target (bicubic) first")
    add_device_option(parser)
    add_workers_option(parser)
    add_image_roots_options(parser)
    parser.set_defaults(func=run)


def format_protocols() -> str:
    """Every protocol as a short text block."""
    from .protocols import PROTOCOLS

    blocks = []
    for name, protocol in PROTOCOLS.items():
        settings = ", ".join(f"{key}={value}" for key, value in protocol.settings) or "colorbench's defaults"
        lines = [f"{name}: {protocol.reproduces}",
                 f"  level {protocol.level}; splits: {', '.join(protocol.builders) or 'any'}"
                 f"{'' if protocol.references else ' (automatic colorization: no reference)'}",
                 f"  metrics: {', '.join(protocol.metrics)}", f"  settings: {settings}",
                 f"  source: {protocol.source}"]
        lines += [f"  note: {note}" for note in protocol.notes]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def run(args: argparse.Namespace) -> int:
    from .core.errors import ColorbenchError

    if args.action == "list":
        print(format_protocols())
        return 0
    if not args.split or not args.pred:
        raise ColorbenchError("colorbench protocols compare needs --split and --pred")
    from .protocol_compare import protocol_sensitivity

    result = protocol_sensitivity(args.split, args.pred, partial_batch=args.partial_batch, device=args.device,
                                  workers=args.workers, resize=args.resize, images_root=args.images,
                                  pool_root=args.pool_images)
    print(result.format())
    return 0
