"""The registry of metrics: what each is, what it needs, and how to build it.

A metric module declares itself with :func:`register_metric` next to its factory::

    @register_metric("ssim", higher_is_better=True, needs=("gt",),
                     matches="skimage.metrics.structural_similarity(gaussian_weights=True, ...)")
    def ssim_metric(config, device):
        return lambda batch: ssim(batch.pred, batch.gt)

The scorer dispatches on ``output`` (``per_image`` callables, ``per_set`` extract/compute
objects), never on a metric's name; ``needs`` says what a split and the outputs must provide.
Adding a metric is one module in :data:`METRIC_MODULES` (it keeps torch and its networks behind
:func:`bench.core.lazy.lazy_import` or function-level imports, so listing metrics stays fast)
plus its test file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..core.registry import Registry

__all__ = ["METRICS", "METRIC_MODULES", "MetricSpec", "register_metric", "get_metric", "list_metrics"]

NEEDS = ("gt", "reference", "mask", "label")
OUTPUTS = ("per_image", "per_set")

#: Modules whose import registers the built-in metrics (imported on first registry access).
METRIC_MODULES = ("bench.metrics.ssim", "bench.metrics.psnr", "bench.metrics.colorfulness", "bench.metrics.lpips",
                  "bench.metrics.contextual", "bench.metrics.histogram", "bench.metrics.fid",
                  "bench.metrics.classification")


@dataclass(frozen=True)
class MetricSpec:
    """A metric's metadata and its factory.

    Attributes:
        name: result key and CLI name (``lower_snake``).
        higher_is_better: the direction the leaderboard bolds.
        needs: what the scorer must supply beyond the output (subset of ``gt``, ``reference``,
            ``mask``, ``label``): a split or a batch without it cannot run the metric.
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
        network_rule: for a metric whose network depends on its settings (FID's backbone),
            ``network_rule(config)`` -> the weight names a run with ``config`` loads; None: ``networks``.
    """

    name: str
    higher_is_better: bool
    needs: tuple[str, ...]
    networks: tuple[str, ...]
    output: str
    matches: str
    factory: Callable
    features: str | None = None
    description: str = ""
    default: bool = True
    network_rule: Callable | None = None

    def networks_for(self, config) -> tuple[str, ...]:
        """The weight names a run with ``config`` (a :class:`~bench.config.ScoreConfig`) loads."""
        return tuple(self.network_rule(config)) if self.network_rule else self.networks

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"


#: Every metric, by name.
METRICS: Registry[MetricSpec] = Registry("metric", METRIC_MODULES,
                                         required=("name", "output", "matches", "factory", "description"))


def register_metric(name: str, *, higher_is_better: bool, needs: tuple[str, ...] = (),
                    networks: tuple[str, ...] = (), output: str = "per_image", matches: str = "",
                    features: str | None = None, description: str = "", default: bool = True,
                    network_rule: Callable | None = None) -> Callable:
    """Decorator registering ``factory(config, device)`` as metric ``name`` (its docstring's first
    line is the description unless one is given)."""
    if output not in OUTPUTS:
        raise ValueError(f"metric {name}: output must be per_image or per_set")
    if set(needs) - set(NEEDS):
        raise ValueError(f"metric {name}: unknown needs {set(needs) - set(NEEDS)}")
    if output == "per_set" and not features:
        raise ValueError(f"metric {name}: a per_set metric names the per-image features it gathers")

    def decorate(factory: Callable) -> Callable:
        summary = description or (factory.__doc__ or "").strip().split("\n")[0]
        METRICS.add(name, MetricSpec(name, higher_is_better, tuple(needs), tuple(networks), output, matches, factory,
                                     features, summary, default, network_rule))
        return factory

    return decorate


def list_metrics(default_only: bool = False) -> list[str]:
    """Every registered metric name, in registration order (``default_only``: those a score
    without an explicit metric list runs)."""
    return METRICS.names((lambda spec: spec.default) if default_only else None)


def get_metric(name: str) -> MetricSpec:
    """The spec of ``name``; an unknown name gets a one-line error with the closest names."""
    return METRICS.get(name)
