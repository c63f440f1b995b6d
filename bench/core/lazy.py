"""Heavy modules imported on first use, so that what only registers or describes stays fast.

``colorbench --help`` builds its parser from the registries, whose entries are registered by the
modules that implement them (metrics, baselines, builders). Those modules name torch, kornia,
pandas or scikit-image through :func:`lazy_import`; the real import happens at the first
attribute access, when a metric is actually built or run, never when it is only listed::

    torch = lazy_import("torch")

    def ssim(pred, gt):          # importing this module imports no torch
        return torch.stack(...)  # the first call does

Unlike ``importlib.util.LazyLoader``, nothing is placed in ``sys.modules`` before the real import,
so ``"torch" in sys.modules`` keeps meaning that torch was imported.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["lazy_import", "lazy_exports"]


class _LazyModule:
    """Stands for module ``name`` until an attribute is read, then forwards to the real one."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return self._module

    def __getattr__(self, attribute: str):
        return getattr(self._load(), attribute)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_import(name: str) -> ModuleType:
    """Module ``name``, imported when one of its attributes is first read."""
    return _LazyModule(name)  # type: ignore[return-value]


def lazy_exports(package: str, exports: dict[str, str]):
    """A module ``__getattr__`` for a package ``__init__`` that exports names from its submodules
    on first access (PEP 562): ``exports`` maps a public name to the module defining it (relative
    to ``package``, e.g. ``".scorer"``, or absolute). Importing the package then imports none of
    them::

        __getattr__ = lazy_exports(__name__, {"score": ".scorer", "compare": ".comparison"})
    """

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name], package), name)

    return __getattr__
