"""Options and helpers shared by the subcommands of every package."""

from __future__ import annotations

import argparse

from .core.device import DEVICE_CHOICES_HELP
from .core.errors import NotImplementedYetError
from .version import __version__

#: Default seed of every seeded command.
DEFAULT_SEED = 0


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


def not_implemented(name: str):
    """A handler for a declared subcommand whose implementation has not landed yet."""

    def handler(args: argparse.Namespace) -> int:
        raise NotImplementedYetError(
            f"'colorbench {name}' is not implemented yet in colorbench {__version__}; "
            f"its options are final (see 'colorbench {name} --help') and the README lists what works today")

    return handler
