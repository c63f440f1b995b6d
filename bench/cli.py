"""The ``colorbench`` command: a thin layer over the Python API.

Each package adds its own subcommands through the ``colorbench.commands`` entry-point group
(see ``pyproject.toml``): an entry point is a function ``register(subparsers)`` that adds one
subcommand whose parser sets ``func``, a function ``(args) -> int`` that calls the package's API.
So this module, at the base of the import graph, never imports the packages built on it.

Errors from the user's input (:class:`~bench.core.errors.ColorbenchError`) print as one line on
stderr and exit with code 2; progress goes to stderr, results to stdout.

Under ``torchrun`` (see :mod:`bench.core.distributed`), a subcommand whose parser sets
``runs_distributed=True`` runs in every process; the others refuse in one line. Only the main
process prints results and usage errors; a failure in any process is shown once, by the process
that found it, and every process exits with code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from importlib.metadata import entry_points

from .core import distributed
from .core.errors import USAGE_EXIT_CODE, ColorbenchError
from .version import __version__

#: Subcommands in the order of the benchmark loop; any others follow alphabetically.
COMMAND_ORDER = ("demo", "pairs", "materialize", "baseline", "score", "protocols", "leaderboard", "colorize", "train",
                 "weights")
ENTRY_POINT_GROUP = "colorbench.commands"


def _registered_commands():
    unique = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
    return [unique[name] for name in sorted(unique, key=lambda n: (rank.get(n, len(rank)), n))]


def build_parser() -> argparse.ArgumentParser:
    """The full ``colorbench`` parser, with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="colorbench",
        description="Splits, metrics, baselines and leaderboards for exemplar-based image colorization.",
        epilog="Run 'colorbench COMMAND --help' for a command's options. Errors exit with code 2.",
    )
    parser.add_argument("--version", action="version", version=f"colorbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry_point in _registered_commands():
        entry_point.load()(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    if not _registered_commands():  # run from a source tree that was never installed
        print("colorbench: error: no subcommands registered; install the package (pip install -e .)", file=sys.stderr)
        return USAGE_EXIT_CODE
    parser = build_parser()
    launched = distributed.launched()
    follower = launched and os.environ.get("RANK", "0") != "0"
    # Every process parses the same arguments: only the main one prints a usage error.
    with contextlib.redirect_stderr(io.StringIO()) if follower else contextlib.nullcontext():
        args = parser.parse_args(argv)
    if launched and not getattr(args, "runs_distributed", False):
        if not follower:
            print(f"colorbench {args.command}: error: this command runs in one process; start it without torchrun",
                  file=sys.stderr)
        return USAGE_EXIT_CODE
    world = None
    try:
        if launched:
            world = distributed.world()
        with contextlib.redirect_stdout(io.StringIO()) if follower else contextlib.nullcontext():
            code = int(args.func(args) or 0)
            if world is not None:
                world.barrier()  # finish together: a failure in the main process's last step stops every one
        return code
    except ColorbenchError as exc:
        shown = world.fail(str(exc)) if world is not None else True
        if shown and not isinstance(exc, distributed.PeerFailed):
            print(f"colorbench {args.command}: error: {exc}", file=sys.stderr)
        if world is not None:
            world.exit_failed()
        return USAGE_EXIT_CODE
    except KeyboardInterrupt:
        print(f"colorbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except BaseException as exc:  # a bug: the traceback is shown, and the other processes stop
        if world is not None:
            world.fail(f"{type(exc).__name__}: {exc}")
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
