"""Standard target/reference splits for exemplar-based colorization.

Builders (each also ``colorbench pairs NAME``): :func:`build_image_level`,
:func:`build_object_level`, :func:`build_imagenet10k`, :func:`build_folder`,
:func:`build_imagenet_val5k` (reference-free). A built
:class:`Split` is saved as Parquet + JSON sidecar (:meth:`Split.save`, :func:`load_split`),
written out as files with :func:`materialize`, sampled for training with
:class:`ReferenceSampler`, and published with :func:`to_hf_dataset`. Every name is imported on
first use: ``import pairing`` imports no torch.
"""

from bench.core.lazy import lazy_exports

# A function named like its module is bound here, eagerly: once the submodule is imported, Python
# would otherwise set the package attribute to the module (its module is light).
from .materialize import materialize

_EXPORTS = {"build_image_level": ".builders.image_level", "build_folder": ".builders.image_level",
            "build_imagenet10k": ".builders.imagenet10k", "build_imagenet_val5k": ".builders.imagenet_val5k",
            "build_object_level": ".builders.object_level",
            "list_builders": ".registry", "get_builder": ".registry", "register_builder": ".registry",
            "FilterSettings": ".collection", "to_hf_dataset": ".hf",
            "ReferenceSampler": ".sampler", "DistributedReferenceSampler": ".sampler",
            "Split": "bench.core.splits", "load_split": "bench.core.splits",
            "SyntheticRecipe": "bench.core.synthetic", "render_synthetic": "bench.core.synthetic"}

__all__ = [*_EXPORTS, "materialize"]
__getattr__ = lazy_exports(__name__, _EXPORTS)
