"""Settings dataclasses from user input (JSON, TOML, keyword arguments): one rule for all of them.

Every config class (metric settings, model and loss configs, training settings) is a frozen
dataclass built through :func:`settings_from_dict`: a mistyped key is a one-line error naming it
and the known ones (never silently ignored), and JSON lists become the tuples the fields hold, so
configs compare and hash by value.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

from .errors import ColorbenchError

__all__ = ["settings_from_dict"]

T = TypeVar("T")


def settings_from_dict(cls: type[T], values: dict | None, what: str = "setting", **defaults) -> T:
    """``cls(**values)`` after checking the keys; lists become tuples.

    Args:
        cls: a dataclass.
        values: the user's settings (None: all defaults).
        what: how to name a setting in the error ("metric setting", "MSA setting", ...).
        defaults: values used for keys the user did not give.
    """
    values = {**defaults, **dict(values or {})}
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ColorbenchError(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})
