"""colorbench's metrics engine and the core shared by every package.

Public API (imported lazily, so ``colorbench --help`` stays fast)::

    bench.score(split, pred_dir, metrics=None, level="both", out_dir=None, ...) -> ScoreResult
    bench.compare(per_image_a, per_image_b, metric) -> dict
    bench.list_metrics(), bench.get_metric(name), bench.register_metric(...)
    bench.ScoreConfig(...)

Layers (imports flow one way): ``bench`` (core + metrics) <- ``pairing`` <- ``baselines``,
``reference_models`` <- ``leaderboards``.
"""

from importlib import import_module

from .version import __version__

_EXPORTS = {"score": "scorer", "ScoreResult": "scorer", "compare": "comparison", "list_metrics": "registry",
            "get_metric": "registry", "register_metric": "registry", "MetricSpec": "registry",
            "ScoreConfig": "config"}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
