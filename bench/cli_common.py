"""Options and helpers shared by the subcommands of every package."""

from __future__ import annotations

import argparse

from .config import DEFAULT_WORKERS
from .core.device import DEVICE_CHOICES_HELP

#: Default seed of every seeded command.
DEFAULT_SEED = 0


def _number(kind: type, minimum: float | None = None, maximum: float | None = None, what: str = ""):
    """An argparse ``type`` accepting a ``kind`` (int or float) within [minimum, maximum]; anything
    else is a usage error naming the option's rule (argparse adds the option's name)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


#: ``type=`` of options that count something that must exist (batch sizes, targets): 1, 2, ...
positive_int = _number(int, 1, what="a whole number >= 1")
#: ``type=`` of options that may be zero (workers, references of one kind): 0, 1, ...
nonnegative_int = _number(int, 0, what="a whole number >= 0")
#: ``type=`` of shares of something: a number in [0, 1].
fraction = _number(float, 0.0, 1.0, what="a number between 0 and 1")
#: ``type=`` of non-negative real settings.
nonnegative_float = _number(float, 0.0, what="a number >= 0")


def add_workers_option(parser: argparse.ArgumentParser, default: int | None = DEFAULT_WORKERS) -> None:
    shown = f"default: {default}" if default is not None else "default: up to 4"
    parser.add_argument("--workers", type=nonnegative_int, default=default,
                        help=f"DataLoader worker processes decoding images; 0 = in this process ({shown})")


def add_method_outputs_options(parser: argparse.ArgumentParser) -> None:
    """``--resume`` / ``--overwrite`` of a command that writes a method's outputs for a split (through
    :mod:`bench.method_outputs`: ``baseline``, ``colorize``)."""
    parser.add_argument("--resume", action="store_true", help="keep the outputs of an interrupted run and do the rest")
    parser.add_argument("--overwrite", action="store_true", help="delete this split's outputs in --out first")


def add_image_roots_options(parser: argparse.ArgumentParser) -> None:
    """``--images`` / ``--pool-images``: where a split's images are now, if they moved since it
    was built (every command that reads a split's images takes them)."""
    parser.add_argument("--images", metavar="DIR", help="where the split's target images are now, if they moved")
    parser.add_argument("--pool-images", metavar="DIR",
                        help="where the split's reference pool is now, if it moved")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help=f"where networks run: {DEVICE_CHOICES_HELP} (default: auto)")


def add_seed_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed; the same inputs and seed give the same result (default: {DEFAULT_SEED})")


def add_command(subparsers, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with a one-line ``summary`` (in ``colorbench --help``) and a
    longer ``description`` (in ``colorbench NAME --help``)."""
    return subparsers.add_parser(name, help=summary, description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
