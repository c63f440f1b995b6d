"""``colorbench score``: score a method's outputs on a split."""

from __future__ import annotations

from .cli_common import add_command, add_device_option, add_seed_option, not_implemented

_DESCRIPTION = """\
Score a method's outputs on a split and write the files the leaderboard reads.

Outputs are read as PRED/<pair_id>.png. Writes OUT/per_image.parquet (a row per pair, a column
per per-image metric) and OUT/summary.json (method, split_id, level, each metric's value with
ci95 / std, direction and n, and the settings, weight checksums and device used).

Metrics: ssim, psnr, psnr_ab, lpips, lpips_vgg, lpips_r, fid, fid_inf, delta_his, top1, top5,
colorfulness; on object splits each is also computed on the object's crop.
Each image is decoded once; networks run batched, on GPU when present; ground-truth features
are cached on disk keyed by content, so a second method on the same split pays only for its own.
"""


def register(subparsers) -> None:
    parser = add_command(subparsers, "score", "score a method's outputs on a split", _DESCRIPTION)
    parser.add_argument("--split", required=True, metavar="SPLIT.parquet", help="the split the outputs answer")
    parser.add_argument("--pred", required=True, metavar="DIR", help="folder of outputs named <pair_id>.png")
    parser.add_argument("--out", required=True, metavar="OUT", help="folder for per_image.parquet and summary.json")
    parser.add_argument("--method", help="method name recorded in the summary (default: the --pred folder's name)")
    parser.add_argument("--metrics", help="comma-separated metric names (default: every metric the split supports)")
    parser.add_argument("--level", choices=("image", "object", "both"), default="both",
                        help="image level, object crops, or both (default: both; object needs an object split)")
    add_device_option(parser)
    parser.add_argument("--batch-size", type=int, default=32, help="images per network batch (default: 32)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers decoding images (default: 2)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in OUT")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score the outputs present and report the missing ones (default: error)")
    parser.add_argument("--resize", action="store_true",
                        help="resize outputs whose size differs from the target (bicubic) instead of failing")
    add_seed_option(parser)
    parser.set_defaults(func=not_implemented("score"))
