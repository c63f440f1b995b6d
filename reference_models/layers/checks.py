"""One check of a tensor's (or numpy array's) type, shape and dtype, in the spirit of kornia's
``KORNIA_CHECK_SHAPE(x, ["B", "3", "H", "W"])``::

    check_tensor(x, "reference_rgb", "B 3 H W", dtype="float")

A shape is a string of whitespace-separated dimensions: a letter (or name, e.g. ``h'``) is a free dimension,
a number must match exactly, and a leading ``*`` stands for any number of leading dimensions
(none included). A tuple of shapes accepts any of them. A dtype is a ``torch.dtype`` / numpy
dtype, ``"float"`` (any floating-point dtype), ``"integer"`` (any integer dtype, bool excluded),
or a tuple of these (any of them).

Errors name the checked value:

* not a tensor / array: ``TypeError("x must be a torch.Tensor; got list")``;
* wrong shape: ``ValueError("x must have shape (B, 3, H, W); got (2, 1, 8, 8)")``;
* wrong dtype: ``TypeError("x must be floating-point; got dtype torch.int64")``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

__all__ = ["check_array", "check_tensor"]

ShapeSpec = str | tuple[str, ...] | None
DtypeSpec = torch.dtype | np.dtype | type | str | tuple | None


@lru_cache(maxsize=256)
def _parse_shape(spec: str) -> tuple[bool, tuple[int | str, ...]]:
    """``"* 3 H W"`` -> ``(True, (3, "H", "W"))``: whether leading dims are free, then each dim."""
    tokens = spec.replace(",", " ").split()
    star = bool(tokens) and tokens[0] == "*"
    dims: list[int | str] = []
    for token in tokens[star:]:
        if token.isdigit():
            dims.append(int(token))
        elif token.rstrip("'").isidentifier():  # H, h', W2, ...
            dims.append(token)
        else:
            raise ValueError(f"bad shape spec {spec!r}: {token!r} is neither a size nor a name (only a leading "
                             f"'*' may stand for several dimensions)")
    return star, tuple(dims)


def _matches(shape: tuple[int, ...], spec: str) -> bool:
    star, dims = _parse_shape(spec)
    if len(shape) != len(dims) and not (star and len(shape) >= len(dims)):
        return False
    tail = shape[len(shape) - len(dims):]
    return all(isinstance(d, str) or d == size for d, size in zip(dims, tail, strict=True))


def _show(spec: str) -> str:
    star, dims = _parse_shape(spec)
    return "(" + ", ".join(["*"] * star + [str(d) for d in dims]) + ")"


def _check_shape(shape: tuple[int, ...], name: str, spec: ShapeSpec) -> None:
    if spec is None:
        return
    specs = (spec,) if isinstance(spec, str) else tuple(spec)
    if not any(_matches(shape, s) for s in specs):
        raise ValueError(f"{name} must have shape {' or '.join(_show(s) for s in specs)}; got {shape}")


def _dtype_name(spec) -> str:
    if isinstance(spec, str):
        if spec not in ("float", "integer"):
            raise ValueError(f"bad dtype spec {spec!r}: use a dtype, 'float' or 'integer'")
        return "floating-point" if spec == "float" else "integer"
    return str(spec).removeprefix("torch.") if isinstance(spec, torch.dtype) else str(np.dtype(spec))


def _check_dtype(dtype, name: str, spec: DtypeSpec, is_float: bool, is_integer: bool, same) -> None:
    if spec is None:
        return
    specs = spec if isinstance(spec, tuple) else (spec,)
    names = [_dtype_name(s) for s in specs]  # also rejects a bad spec
    kinds = {"float": is_float, "integer": is_integer}
    if any(kinds[s] if isinstance(s, str) else same(s) for s in specs):
        return
    raise TypeError(f"{name} must be {' or '.join(names)}; got dtype {dtype}")


def check_tensor(x: torch.Tensor, name: str, shape: ShapeSpec = None, dtype: DtypeSpec = None) -> torch.Tensor:
    """``x`` if it is a ``torch.Tensor`` of ``shape`` (e.g. ``"B 3 H W"``, ``"* 2"``, or a tuple of
    such) and ``dtype`` (e.g. ``torch.int64``, ``"float"``, ``(torch.uint8, "float")``); None skips
    that check. Otherwise a TypeError (not a tensor, wrong dtype) or ValueError (wrong shape)
    naming ``name``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    _check_shape(tuple(x.shape), name, shape)
    is_integer = not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)
    _check_dtype(x.dtype, name, dtype, x.is_floating_point(), is_integer, lambda d: x.dtype == d)
    return x


def check_array(x: np.ndarray, name: str, shape: ShapeSpec = None, dtype: DtypeSpec = None) -> np.ndarray:
    """:func:`check_tensor` for a numpy array (``dtype`` e.g. ``np.uint8``, ``"float"``)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array; got {type(x).__name__}")
    _check_shape(tuple(x.shape), name, shape)
    _check_dtype(x.dtype, name, dtype, bool(np.issubdtype(x.dtype, np.floating)),
                 bool(np.issubdtype(x.dtype, np.integer)), lambda d: x.dtype == np.dtype(d))
    return x
