"""Standard target/reference splits for exemplar-based colorization.

Builders (each also ``colorbench pairs NAME``): :func:`build_image_level`,
:func:`build_object_level`, :func:`build_imagenet10k`, :func:`build_folder`. A built
:class:`Split` is saved as Parquet + JSON sidecar (:meth:`Split.save`, :func:`load_split`),
written out as files with :func:`materialize`, sampled for training with
:class:`ReferenceSampler`, and published with :func:`to_hf_dataset`.
"""

from bench.core.synthetic import SyntheticRecipe, render_synthetic

from .builders.image_level import build_folder, build_image_level
from .builders.imagenet10k import build_imagenet10k
from .builders.object_level import build_object_level
from .collection import FilterSettings
from .hf import to_hf_dataset
from .materialize import materialize
from .sampler import ReferenceSampler
from .split import Split, load_split

__all__ = ["build_image_level", "build_object_level", "build_imagenet10k", "build_folder", "Split", "load_split",
           "materialize", "ReferenceSampler", "to_hf_dataset", "FilterSettings", "SyntheticRecipe",
           "render_synthetic"]
