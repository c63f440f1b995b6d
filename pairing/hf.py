"""Publishing a split with Hugging Face ``datasets``."""

from __future__ import annotations

import json

from bench.core.splits import Split

__all__ = ["to_hf_dataset"]


def to_hf_dataset(split: Split):
    """The split as a :class:`datasets.Dataset` (its sidecar in ``info.description``), ready for
    ``push_to_hub``. A saved split also loads directly:
    ``datasets.load_dataset("parquet", data_files="split.parquet")``."""
    import datasets

    info = datasets.DatasetInfo(description=json.dumps(split.meta, sort_keys=True),
                                homepage="", license="")
    return datasets.Dataset.from_pandas(split.table, preserve_index=False, info=info)
