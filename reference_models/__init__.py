"""The papers' reference models (MSA, SA, SPColor): training, inference, and the layers they share.

    reference_models.create_model(name, **config), reference_models.load(checkpoint)
    reference_models.train(model, split, out_dir, *, phase=1, ...)
    reference_models.colorize_split(model, checkpoint, split, out_dir, ...), colorize_pair(...)
    reference_models.list_models(), reference_models.get_model(name)

Every name is imported on first use (``import reference_models`` imports no torch).
"""

from bench.core.lazy import lazy_exports

_EXPORTS = {"create_model": ".api", "load": ".api", "model_config": ".api", "list_models": ".registry",
            "get_model": ".registry", "register_model": ".registry", "train": ".training.loop",
            "TrainRun": ".training.loop", "TrainConfig": ".training.config", "colorize_split": ".colorize",
            "colorize_pair": ".colorize"}

__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
