"""Errors a user can act on.

Every error the toolkit raises because of its input derives from :class:`ColorbenchError`.
The CLI prints such an error as one line (no traceback) and exits with code 2, so the message
itself must name the file or id at fault and say what to do.
"""

from __future__ import annotations

#: Exit code of the CLI for any error in the user's input or environment.
USAGE_EXIT_CODE = 2


class ColorbenchError(Exception):
    """An error caused by the user's input or environment, reported in one line."""


class ImageReadError(ColorbenchError):
    """An image file is missing or cannot be decoded."""


class MissingWeightsError(ColorbenchError):
    """A pretrained network's weight file is absent and could not be downloaded."""


class NotImplementedYetError(ColorbenchError):
    """A subcommand or feature that is declared but not built yet."""
