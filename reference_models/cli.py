"""``colorbench train`` and ``colorbench colorize``: the papers' reference models."""

from __future__ import annotations

from bench.cli_common import add_command, add_device_option, add_seed_option, not_implemented

_TRAIN = """\
Train a reference model on a split (GPU recommended):
  msa      masked super-attention (Carrillo et al. 2023); phase 1 on an image-level split,
           phase 2 (masked) on an object-level split
  spcolor  SPColor (semantic prior guided exemplar colorization, 2023)
Checkpoints are safetensors files; --resume continues from the last one.
"""

_COLORIZE = """\
Colorize every pair of a split with a trained reference model; writes OUT/<pair_id>.png at the
target's original size, ready for 'colorbench score'.
"""


def _common(parser) -> None:
    from .registry import list_models

    parser.add_argument("--model", required=True, choices=list_models(), help="which reference model")
    parser.add_argument("--split", required=True, metavar="SPLIT.parquet", help="the split to use")
    parser.add_argument("--batch-size", type=int, default=8, help="batch size (default: 8, as in the MSA paper)")
    add_device_option(parser)
    add_seed_option(parser)


def register_train(subparsers) -> None:
    parser = add_command(subparsers, "train", "train a reference model (MSA or SPColor) on a split", _TRAIN)
    _common(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for checkpoints and logs")
    parser.add_argument("--phase", type=int, choices=(1, 2), default=1, help="msa: 1 = full images, 2 = masked objects")
    parser.add_argument("--epochs", type=int, help="epochs (default: the paper's)")
    parser.add_argument("--iterations", type=int, help="iterations (spcolor; default: the paper's 120k)")
    parser.add_argument("--init", metavar="CKPT.safetensors", help="start from these weights (e.g. msa phase 1)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    parser.set_defaults(func=not_implemented("train"))


def register_colorize(subparsers) -> None:
    parser = add_command(subparsers, "colorize", "colorize a split with a trained reference model", _COLORIZE)
    _common(parser)
    parser.add_argument("--checkpoint", required=True, metavar="CKPT.safetensors", help="trained weights")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for <pair_id>.png")
    parser.add_argument("--resume", action="store_true", help="skip pairs whose output already exists")
    parser.set_defaults(func=not_implemented("colorize"))
