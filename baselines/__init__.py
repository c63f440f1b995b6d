"""Training-free colorization baselines, so every split has rows from day one.

    baselines.run_baseline(name, split, out_dir, *, seed=0, resume=False, ...) -> BaselineRun
    baselines.list_baselines(), baselines.get_baseline(name), baselines.register_baseline(...)

Every name is imported on first use (``import baselines`` imports no torch).
"""

from bench.core.lazy import lazy_exports

_EXPORTS = {"run_baseline": ".run", "BaselineRun": ".run", "list_baselines": ".registry",
            "get_baseline": ".registry", "register_baseline": ".registry", "PairInputs": ".registry",
            "compose": ".registry"}

__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
