"""The registry of training-free colorization baselines.

A baseline is a function ``colorize(pair: PairInputs, rng: numpy.random.Generator) -> uint8
(H, W, 3)`` RGB at the target's size, registered with :func:`register_baseline`::

    @register_baseline("mean-tint", needs=("reference",), description="the reference's mean chroma everywhere")
    def mean_tint(pair, rng):
        return compose(pair.target_l, pair.reference_lab[..., 1:].mean(axis=(0, 1)))

It sees only what a colorization method sees: the gray target (and its CIELAB lightness), the
reference and, on object splits, the two masks. Only baselines declaring ``needs=("gt",)`` (the
oracle) receive the ground truth. :func:`compose` joins the target's lightness with predicted ab,
the way MSA and SPColor form their outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from bench.core.color import lab_to_uint8_rgb, rgb_to_lab
from bench.core.registry import Registry

__all__ = ["BASELINES", "BaselineSpec", "PairInputs", "compose", "get_baseline", "list_baselines", "register_baseline",
           "reference_free_baselines"]

#: Modules whose import registers the built-in baselines.
BASELINE_MODULES = ("baselines.methods.trivial", "baselines.methods.reinhard", "baselines.methods.welsh",
                    "baselines.methods.luminance_rank")
NEEDS = ("reference", "mask", "gt")


@dataclass
class PairInputs:
    """One pair, as a baseline sees it.

    Attributes:
        pair_id: the pair's id (for messages).
        target_gray: the gray target, uint8 ``(H, W, 3)`` (three equal channels), as materialized.
        reference: the reference, uint8 RGB ``(h, w, 3)`` (any size); None on a reference-free split
            (only baselines without ``needs=("reference",)`` run there).
        target_mask / reference_mask: bool ``(H, W)`` / ``(h, w)`` on object splits, else None.
        gt: the ground truth, uint8 ``(H, W, 3)``, only for baselines that declare ``needs=("gt",)``.

    ``target_l`` (the target's CIELAB lightness, float64 ``(H, W)`` in [0, 100]) and
    ``reference_lab`` (float64 ``(h, w, 3)``) are computed on first use, so baselines that do not
    need them (gray, oracle) do not pay for them.
    """

    pair_id: str
    target_gray: np.ndarray
    reference: np.ndarray | None
    target_mask: np.ndarray | None = None
    reference_mask: np.ndarray | None = None
    gt: np.ndarray | None = None

    @cached_property
    def target_l(self) -> np.ndarray:
        return rgb_to_lab(self.target_gray)[..., 0]

    @cached_property
    def reference_lab(self) -> np.ndarray:
        return rgb_to_lab(self.reference)


@dataclass(frozen=True)
class BaselineSpec:
    """A baseline's metadata and function.

    Attributes:
        name: CLI name (``lower-kebab``).
        fn: ``fn(pair: PairInputs, rng) -> uint8 (H, W, 3)``.
        needs: what it uses beyond the gray target (subset of ``reference``, ``mask``, ``gt``);
            a baseline needing ``mask`` runs on object splits only.
        description: one line for ``--help`` and the README.
        citation: where the method comes from.
    """

    name: str
    fn: Callable
    needs: tuple[str, ...]
    description: str
    citation: str = ""

    @property
    def needs_reference(self) -> bool:
        """Whether it transfers colour from a reference (refused on a reference-free split)."""
        return "reference" in self.needs

    def supports(self, level: str) -> bool:
        """Whether it runs on a split of ``level`` (baselines needing masks: object splits only)."""
        return "mask" not in self.needs or level == "object"


#: Every baseline, by name.
BASELINES: Registry[BaselineSpec] = Registry("baseline", BASELINE_MODULES, required=("name", "fn", "description"))


def register_baseline(name: str, *, needs: tuple[str, ...] = ("reference",), description: str,
                      citation: str = "") -> Callable:
    """Decorator registering ``fn(pair, rng) -> uint8 RGB`` as baseline ``name``."""
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"baseline {name}: unknown needs {sorted(unknown)}; choose from {NEEDS}")

    def decorate(fn: Callable) -> Callable:
        BASELINES.add(name, BaselineSpec(name, fn, tuple(needs), description, citation))
        return fn

    return decorate


def list_baselines() -> list[str]:
    """Names of every registered baseline, in registration order."""
    return BASELINES.names()


def reference_free_baselines() -> list[str]:
    """Names of the baselines that need no reference (they run on reference-free splits)."""
    return [name for name, spec in BASELINES.items() if not spec.needs_reference]


def get_baseline(name: str) -> BaselineSpec:
    """The spec of baseline ``name``; a one-line error with the closest names otherwise."""
    return BASELINES.get(name)


def compose(target_l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """The target's lightness ``(H, W)`` with predicted ab ``(H, W, 2)`` (or one ab pair ``(2,)``
    for the whole image) -> uint8 sRGB ``(H, W, 3)`` (out-of-gamut colours clipped, rounded)."""
    ab = np.broadcast_to(np.asarray(ab, dtype=np.float64), (*target_l.shape, 2))
    return lab_to_uint8_rgb(np.concatenate([target_l[..., None], ab], axis=-1))
