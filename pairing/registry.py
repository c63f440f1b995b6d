"""Split builders by name: what ``colorbench pairs BUILDER`` dispatches to."""

from __future__ import annotations

import inspect
from typing import Callable

from bench.core.errors import ColorbenchError

__all__ = ["BUILDERS", "get_builder", "builder_options"]


def _image_level():
    from .builders.image_level import build_image_level

    return build_image_level


def _object_level():
    from .builders.object_level import build_object_level

    return build_object_level


def _imagenet10k():
    from .builders.imagenet10k import build_imagenet10k

    return build_imagenet10k


def _folder():
    from .builders.image_level import build_folder

    return build_folder


#: builder name -> loader of its function (imported lazily so ``--help`` stays fast).
BUILDERS: dict[str, Callable[[], Callable]] = {
    "image-level": _image_level,
    "object-level": _object_level,
    "imagenet10k": _imagenet10k,
    "folder": _folder,
}


def get_builder(name: str) -> Callable:
    try:
        return BUILDERS[name]()
    except KeyError:
        raise ColorbenchError(f"unknown split builder {name!r}; choose one of {', '.join(BUILDERS)}") from None


def builder_options(function: Callable) -> set[str]:
    """The keyword options a builder accepts (``build_folder`` forwards to image-level's)."""
    names = set(inspect.signature(function).parameters)
    if "options" in names:
        from .builders.image_level import build_image_level

        names = (names - {"options"}) | (set(inspect.signature(build_image_level).parameters) - {"pool_images", "builder"})
    return names
