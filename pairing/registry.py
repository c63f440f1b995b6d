"""The registry of split builders: what ``colorbench pairs BUILDER`` dispatches to.

A builder is a function returning a :class:`~bench.core.splits.Split`, registered next to it::

    @register_builder("image-level", level="image", description="MSA's COCO image-level split ...")
    def build_image_level(images, annotations=None, ..., seed=0) -> Split: ...

Its keyword parameters are its options: the CLI passes a flag only to builders that take it and
refuses the others. Builder modules import their heavy parts (decoding, networks, pandas) inside
the functions, so listing the builders stays fast.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from bench.core.registry import Registry

__all__ = ["BUILDERS", "BuilderSpec", "register_builder", "get_builder", "list_builders", "builder_options"]

#: Modules whose import registers the built-in builders.
BUILDER_MODULES = ("pairing.builders.image_level", "pairing.builders.object_level", "pairing.builders.imagenet10k",
                   "pairing.builders.imagenet_val5k")


@dataclass(frozen=True)
class BuilderSpec:
    """A split builder.

    Attributes:
        name: CLI name (``lower-kebab``).
        fn: the builder function.
        level: the level of the splits it builds (``image`` or ``object``).
        description: what it reproduces, for ``--help`` and the README.
        forwards_to: a builder whose options this one also accepts (``folder`` takes image-level's).
    """

    name: str
    fn: Callable
    level: str
    description: str
    forwards_to: str | None = None


#: Every split builder, by name.
BUILDERS: Registry[BuilderSpec] = Registry("split builder", BUILDER_MODULES,
                                           required=("name", "fn", "level", "description"))


def register_builder(name: str, *, level: str, description: str, forwards_to: str | None = None) -> Callable:
    """Decorator registering a builder function as ``name``."""
    if level not in ("image", "object"):
        raise ValueError(f"builder {name}: level must be image or object")

    def decorate(fn: Callable) -> Callable:
        BUILDERS.add(name, BuilderSpec(name, fn, level, description, forwards_to))
        return fn

    return decorate


def list_builders() -> list[str]:
    return BUILDERS.names()


def get_builder(name: str) -> Callable:
    """The builder function ``name``; an unknown name is a one-line error with the closest names."""
    return BUILDERS.get(name).fn


def builder_options(name: str) -> set[str]:
    """The keyword options builder ``name`` accepts (with those of the builder it forwards to)."""
    spec = BUILDERS.get(name)
    names = set(inspect.signature(spec.fn).parameters) - {"options", "builder"}
    if spec.forwards_to:
        names |= builder_options(spec.forwards_to) - {"pool_images"}
    return names
