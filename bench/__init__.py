"""colorbench's metrics engine and the core shared by every package.

Public API (imported lazily, so ``colorbench --help`` stays fast)::

    bench.create_metric(name, device="cpu", **settings) -> metric on tensors
    bench.score(split, pred_dir, *, metrics=None, level="both", out_dir=None, ...) -> ScoreResult
    bench.compare(per_image_a, per_image_b, metric) -> dict
    bench.list_metrics(), bench.get_metric(name), bench.register_metric(...)
    bench.ScoreConfig(...)
    bench.list_protocols(), bench.get_protocol(name)      the field's evaluation protocols
    bench.protocol_sensitivity(split, pred_dir) -> Sensitivity   the same outputs under every protocol's rules

Layers (imports flow one way): ``bench`` (core + metrics) <- ``pairing`` <- ``baselines``,
``reference_models`` <- ``leaderboards``.
"""

from .core.lazy import lazy_exports
from .version import __version__

_EXPORTS = {"score": ".scorer", "ScoreResult": ".scorer", "compare": ".comparison",
            "create_metric": ".tensor_metrics", "list_metrics": ".metrics.registry", "get_metric": ".metrics.registry",
            "register_metric": ".metrics.registry", "MetricSpec": ".metrics.registry", "ScoreConfig": ".config",
            "list_protocols": ".protocols", "get_protocol": ".protocols", "Protocol": ".protocols",
            "protocol_sensitivity": ".protocol_compare"}

__all__ = ["__version__", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)
