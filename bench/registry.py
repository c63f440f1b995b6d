"""The one registry of metrics: what each is, what it needs, and how to build it.

A metric module declares itself with :func:`register_metric` next to its factory::

    @register_metric("ssim", kind="paired", higher_is_better=True, needs=("gt",),
                     matches="skimage.metrics.structural_similarity(gaussian_weights=True, ...)")
    def ssim_metric(config, device):
        return lambda batch: ssim(batch.pred, batch.gt)

The scorer dispatches on ``output`` (``per_image`` callables, ``per_set`` extract/compute
objects), never on a metric's name; ``needs`` says what a split and the outputs must provide.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from .core.errors import unknown_name

__all__ = ["MetricSpec", "register_metric", "get_metric", "list_metrics", "METRIC_MODULES"]

KINDS = ("paired", "reference", "no_reference", "distribution", "classification")
NEEDS = ("gt", "reference", "mask", "label")

#: Modules whose import registers the built-in metrics (imported on first registry access).
METRIC_MODULES = ("bench.metrics.ssim", "bench.metrics.psnr", "bench.metrics.colorfulness", "bench.metrics.lpips",
                  "bench.metrics.contextual", "bench.metrics.histogram", "bench.metrics.fid",
                  "bench.metrics.classification")


@dataclass(frozen=True)
class MetricSpec:
    """A metric's metadata and its factory.

    Attributes:
        name: result key and CLI name (``lower_snake``).
        kind: ``paired`` (output vs ground truth), ``reference`` (output vs reference),
            ``no_reference`` (output alone), ``distribution`` (set vs set), ``classification``.
        higher_is_better: the direction the leaderboard bolds.
        needs: what the scorer must supply beyond the output (subset of ``gt``, ``reference``,
            ``mask``, ``label``).
        networks: the weight names (:mod:`bench.core.weights`) it loads; missing ones mean the
            metric is skipped with that reason, never guessed.
        output: ``per_image`` (a value per pair; mean, ci95) or ``per_set`` (one value).
        matches: the outside implementation its numbers are tested against.
        factory: ``factory(config, device)`` -> the metric (see :mod:`bench.metrics.base`).
        features: for ``per_set`` metrics, the name of the per-image features they share (FID
            and FID infinity share the Inception pool3 features, extracted once).
        description: one line for ``--help`` and the docs.
        default: part of the default set (``score`` without ``metrics``); ``False`` for variants
            that run only when asked for by name (``lpips_vgg``).
    """

    name: str
    kind: str
    higher_is_better: bool
    needs: tuple[str, ...]
    networks: tuple[str, ...]
    output: str
    matches: str
    factory: Callable
    features: str | None = None
    description: str = ""
    default: bool = True

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"


_REGISTRY: dict[str, MetricSpec] = {}
_LOADED = False


def register_metric(name: str, *, kind: str, higher_is_better: bool, needs: tuple[str, ...] = (),
                    networks: tuple[str, ...] = (), output: str = "per_image", matches: str = "",
                    features: str | None = None, description: str = "", default: bool = True) -> Callable:
    """Decorator registering ``factory(config, device)`` as metric ``name``."""
    if kind not in KINDS:
        raise ValueError(f"metric {name}: kind must be one of {KINDS}")
    if output not in ("per_image", "per_set"):
        raise ValueError(f"metric {name}: output must be per_image or per_set")
    if set(needs) - set(NEEDS):
        raise ValueError(f"metric {name}: unknown needs {set(needs) - set(NEEDS)}")

    def decorate(factory: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is registered twice")
        _REGISTRY[name] = MetricSpec(name, kind, higher_is_better, tuple(needs), tuple(networks), output, matches,
                                     factory, features, description or (factory.__doc__ or "").strip().split("\n")[0],
                                     default)
        return factory

    return decorate


def _load_builtin() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for module in METRIC_MODULES:
            importlib.import_module(module)


def list_metrics(default_only: bool = False) -> list[str]:
    """Every registered metric name, in registration order (``default_only``: those a score
    without an explicit metric list runs)."""
    _load_builtin()
    return [name for name, spec in _REGISTRY.items() if spec.default or not default_only]


def get_metric(name: str) -> MetricSpec:
    """The spec of ``name``; an unknown name gets a one-line error with the closest names."""
    _load_builtin()
    if name not in _REGISTRY:
        raise unknown_name("metric", name, _REGISTRY)
    return _REGISTRY[name]
