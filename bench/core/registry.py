"""One registry mechanism for everything colorbench names: metrics, split builders, baselines,
pretrained networks and reference models.

A :class:`Registry` maps names to *specs* (frozen dataclasses holding an entry's metadata and what
builds it). Entries are added where they are implemented, usually by a decorator::

    METRICS = Registry("metric", modules=("bench.metrics.ssim", ...))

    @register_metric("ssim", higher_is_better=True, needs=("gt",), matches="skimage ...")
    def ssim_metric(config, device): ...

The modules that register are imported on first lookup, not when the registry is created, and
they keep their heavy imports (torch, kornia, pandas) inside the functions that need them, so
listing names and descriptions (``colorbench --help``) stays fast. A miss is a one-line error
with the closest names ("did you mean"). Tests swap entries with :meth:`Registry.override`
instead of patching private dicts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import is_dataclass
from typing import Generic, TypeVar

from .errors import ColorbenchError, unknown_name

__all__ = ["Registry", "REGISTRIES", "resolve"]

Spec = TypeVar("Spec")

#: Every registry, by kind: what the completeness test and the docs iterate over.
REGISTRIES: dict[str, "Registry"] = {}


class Registry(Generic[Spec]):
    """Named specs of one kind.

    Args:
        kind: what an entry is, for messages ("metric", "split builder", ...).
        modules: modules imported on first lookup; importing them registers the built-in entries.
        required: spec fields that every entry must fill (checked by :meth:`incomplete`).
    """

    def __init__(self, kind: str, modules: Sequence[str] = (), required: Sequence[str] = ()):
        if kind in REGISTRIES:
            raise ValueError(f"a registry of {kind}s exists already")
        self.kind = kind
        self.modules = tuple(modules)
        self.required = tuple(required)
        self._entries: dict[str, Spec] = {}
        self._loading = False
        self._loaded = not self.modules
        REGISTRIES[kind] = self

    def _load(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True  # a registering module may look entries up while it is imported
        try:
            for module in self.modules:
                importlib.import_module(module)
            self._loaded = True
        finally:
            self._loading = False

    def add(self, name: str, spec: Spec) -> Spec:
        """Register ``spec`` as ``name`` (a second entry of one name is a programming error)."""
        if name in self._entries and self._entries[name] != spec:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = spec
        return spec

    def get(self, name: str) -> Spec:
        """The spec of ``name``; an unknown name is a one-line error with the closest names."""
        self._load()
        if name not in self._entries:
            raise unknown_name(self.kind, name, self._entries)
        return self._entries[name]

    def names(self, where: Callable[[Spec], bool] | None = None) -> list[str]:
        """Every registered name, in registration order (``where``: those whose spec satisfies it)."""
        self._load()
        return [name for name, spec in self._entries.items() if where is None or where(spec)]

    def items(self) -> list[tuple[str, Spec]]:
        self._load()
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    @contextmanager
    def override(self, name: str, spec: Spec) -> Iterator[Spec]:
        """Register ``spec`` as ``name`` for the duration of a ``with`` block (replacing an entry
        of that name), then restore what was there: for tests."""
        self._load()
        missing = object()
        before = self._entries.get(name, missing)
        self._entries[name] = spec
        try:
            yield spec
        finally:
            if before is missing:
                del self._entries[name]
            else:
                self._entries[name] = before

    def incomplete(self) -> dict[str, list[str]]:
        """Entries whose spec leaves a required field empty: name -> the empty fields."""
        problems = {}
        for name, spec in self.items():
            empty = [field for field in self.required if getattr(spec, field, None) in (None, "", (), [], {})]
            if is_dataclass(spec) and getattr(spec, "name", name) != name:
                empty.append(f"name ({getattr(spec, 'name')!r} registered as {name!r})")
            if empty:
                problems[name] = empty
        return problems

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries{'' if self._loaded else ', not loaded'})"


def resolve(target: str | Callable) -> Callable:
    """A callable from ``"package.module:attribute"`` (imported now), or the callable itself: how
    specs point at heavy implementations without importing them at registration."""
    if callable(target):
        return target
    module, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ColorbenchError(f"cannot load {target}: {exc}") from None
