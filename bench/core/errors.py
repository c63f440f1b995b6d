"""Errors a user can act on.

Every error the toolkit raises because of its input derives from :class:`ColorbenchError`.
The CLI prints such an error as one line (no traceback) and exits with code 2, so the message
itself must name the file or id at fault and say what to do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Exit code of the CLI for any error in the user's input or environment.
USAGE_EXIT_CODE = 2


class ColorbenchError(Exception):
    """An error caused by the user's input or environment, reported in one line."""


class ImageReadError(ColorbenchError):
    """An image file is missing or cannot be decoded."""


class MissingWeightsError(ColorbenchError):
    """A pretrained network's weight file is absent and could not be downloaded."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> ColorbenchError:
    """The error for a ``kind`` called ``name`` that is not one of ``known``: the closest names,
    then all of them (``unknown metric 'lpip'; did you mean lpips? known: ssim, ...``)."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return ColorbenchError(f"unknown {kind} {name!r}; {hint}known: {', '.join(known)}")
