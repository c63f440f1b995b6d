"""``colorbench pairs`` and ``colorbench materialize``."""

from __future__ import annotations

from bench.cli_common import add_command, add_device_option, add_seed_option, not_implemented

_PAIRS = """\
Build a standard target/reference split: a Parquet table plus a JSON sidecar.

builders:
  image-level   targets = --images (or a seeded --num-targets subset); for each, the --top-k
                references nearest in VGG19 feature space (gray images; the target and its
                near-duplicates excluded) plus --synthetic thin-plate-spline references
  object-level  per COCO category, non-crowd objects whose decoded mask covers more than
                --min-area of the image; --refs same-category objects from other images plus
                --synthetic TPS references (mask warped alike)
  imagenet10k   the ctest10k list (--list), references retrieved within the same class
                (--ranking vgg19 | he2018)
  folder        any folder of images (optional COCO --annotations), image level among its own

The same inputs and --seed give the same table and split_id on any machine.
"""

_MATERIALIZE = """\
Write what any method needs to run on a split:
  targets/<pair_id>.png, references/<pair_id>.png (synthetic ones rendered), gt/<pair_id>.png,
  masks/<pair_id>_target.png and masks/<pair_id>_reference.png at object level, and pairs.csv.
"""


def register_pairs(subparsers) -> None:
    parser = add_command(subparsers, "pairs", "build a target/reference split", _PAIRS)
    parser.add_argument("builder", choices=("image-level", "object-level", "imagenet10k", "folder"), help="split builder")
    parser.add_argument("--images", required=True, metavar="DIR", help="folder of the target images")
    parser.add_argument("--annotations", metavar="COCO.json", help="COCO instances file (object-level; optional for folder)")
    parser.add_argument("--pool-images", metavar="DIR", help="reference pool folder (default: --images)")
    parser.add_argument("--list", metavar="FILE", help="imagenet10k: the ctest10k list ('/<wnid>/<file> <label>' lines)")
    parser.add_argument("--out", required=True, metavar="SPLIT.parquet", help="where to write the split")
    parser.add_argument("--num-targets", type=int, help="seeded subset of targets (default: all)")
    parser.add_argument("--top-k", type=int, default=3, help="retrieved references per target (default: 3)")
    parser.add_argument("--refs", type=int, default=3, help="object-level: same-category references (default: 3)")
    parser.add_argument("--synthetic", type=int, default=2, help="TPS synthetic references per target (default: 2)")
    parser.add_argument("--min-area", type=float, default=0.30, help="object-level: minimum mask coverage (default: 0.30)")
    parser.add_argument("--features", choices=("vgg19", "histogram"), default="vgg19",
                        help="ranking features: vgg19 (the papers' protocol) or a weight-free histogram descriptor")
    parser.add_argument("--layer", help="VGG19 layer used for ranking (default documented in the README)")
    parser.add_argument("--ranking", choices=("vgg19", "he2018"), default="vgg19", help="imagenet10k retrieval")
    parser.add_argument("--min-size", type=int, default=256, help="drop images whose short side is smaller (default: 256)")
    parser.add_argument("--no-filters", action="store_true", help="keep grayscale, small and near-monochrome images")
    add_device_option(parser)
    add_seed_option(parser)
    parser.set_defaults(func=not_implemented("pairs"))


def register_materialize(subparsers) -> None:
    parser = add_command(subparsers, "materialize", "write a split's targets, references, ground truth and masks",
                         _MATERIALIZE)
    parser.add_argument("--split", required=True, metavar="SPLIT.parquet", help="the split to write out")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--images", metavar="DIR", help="where the split's images are now, if they moved")
    parser.set_defaults(func=not_implemented("materialize"))
