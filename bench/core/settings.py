"""Settings dataclasses from user input (JSON, TOML, keyword arguments): one rule for all of them.

Every config class (metric settings, model and loss configs, training settings) is a frozen
dataclass built through :func:`settings_from_dict`: a mistyped key is a one-line error naming it
and the known ones (never silently ignored), a value of the wrong type (``batch_size = "eight"``)
is a one-line error naming the key and the type it takes, and JSON lists become the tuples the
fields hold, so configs compare and hash by value. A field whose type is itself a settings
dataclass (the superpixel settings inside a model's) takes a table: its keys are checked the same
way, and keys it does not give keep the enclosing config's (or the field's default) values.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, fields, replace
from typing import Any, TypeVar

from .errors import ColorbenchError

__all__ = ["settings_from_dict", "check_setting_types"]

T = TypeVar("T")


def _accepts(annotation, value) -> bool:
    """Whether ``value`` fits a field annotation (builtins, ``X | None``, ``tuple[X, ...]``, ``dict``, Any)."""
    if annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(option, value) for option in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is tuple or annotation is tuple:
        if not isinstance(value, tuple):
            return False
        args = typing.get_args(annotation)
        if not args:
            return True
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_accepts(args[0], item) for item in value)
        return len(args) == len(value) and all(_accepts(a, item) for a, item in zip(args, value))
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True  # an annotation this check does not model: the dataclass's own checks decide


def _describe(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}s"
        return f"a list [{', '.join(_describe(a) for a in args)}]"
    if origin is dict or annotation is dict or dataclasses.is_dataclass(annotation):
        return "a table"
    return {bool: "true or false", int: "integer", float: "number", str: "string"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def _article(text: str) -> str:
    first = text.split()[0]
    return ("an " if text[0] in "aeiou" else "a ") + text if first in ("integer", "number", "string") else text


def check_setting_types(cls: type, values: dict, what: str = "setting", prefix: str = "") -> None:
    """A one-line error for the first value in ``values`` whose type does not fit ``cls``'s field
    (``prefix``: the enclosing table's name, as in ``superpixels.compactness``)."""
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        annotation = hints.get(key)
        if annotation is not None and not _accepts(annotation, value):
            raise ColorbenchError(f"{what} {prefix}{key} must be {_article(_describe(annotation))}; got {value!r}")


def settings_from_dict(cls: type[T], values: dict | None, what: str = "setting", base: T | None = None,
                       **defaults) -> T:
    """``cls(**values)`` (or ``base`` with ``values`` replaced) after checking the keys and the types;
    lists become tuples, and a table given for a nested settings dataclass is built the same way.

    Args:
        cls: a dataclass.
        values: the user's settings (None: all defaults).
        what: how to name a setting in the error ("metric setting", "MSA setting", ...).
        base: an instance whose values stand where ``values`` has none (default: the field defaults).
        defaults: values used for keys the user did not give.
    """
    return _from_dict(cls, {**defaults, **dict(values or {})}, what, base, "")


def _from_dict(cls, values: dict, what: str, base, prefix: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ColorbenchError(f"unknown {what}(s) {', '.join(prefix + key for key in unknown)}; known: "
                              f"{', '.join(prefix + key for key in sorted(known))}")
    values = {key: _tuples(value) for key, value in values.items()}
    hints = typing.get_type_hints(cls)
    for field in fields(cls):
        nested = hints.get(field.name)
        if field.name in values and dataclasses.is_dataclass(nested) and isinstance(values[field.name], dict):
            inner = getattr(base, field.name) if base is not None else _default(field)
            values[field.name] = _from_dict(nested, values[field.name], what, inner, f"{prefix}{field.name}.")
    check_setting_types(cls, values, what, prefix)
    return replace(base, **values) if base is not None else cls(**values)


def _default(field: dataclasses.Field):
    if field.default is not MISSING:
        return field.default
    return field.default_factory() if field.default_factory is not MISSING else None


def _tuples(value):
    """JSON/TOML lists (nested too) as tuples, so settings compare and hash by value."""
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value
