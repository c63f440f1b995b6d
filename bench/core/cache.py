"""On-disk caches of arrays, keyed by content.

A cache entry is one ``.npz`` file of plain numeric arrays (loaded with ``allow_pickle=False``:
no pickle anywhere) plus the JSON description of what it holds. The key is a SHA-256 over
everything the arrays depend on (input content hashes and every setting), so an entry can never
be reused for other inputs or other settings.

Location: ``$COLORBENCH_CACHE`` if set, else ``$TORCH_HOME/colorbench_cache`` (next to the
weights, like torch-fidelity's ``fidelity_cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path, write_json

__all__ = ["CACHE_ENV", "cache_dir", "cache_key", "hub_dir", "load_arrays", "save_arrays", "sha256_bytes"]

CACHE_ENV = "COLORBENCH_CACHE"


def hub_dir() -> Path:
    """``torch.hub.get_dir()``: ``$TORCH_HOME/hub`` (default ``$XDG_CACHE_HOME/torch/hub``, else
    ``~/.cache/torch/hub``), read from the environment at each call. Once torch is imported its own
    answer is used (it also honours ``torch.hub.set_dir``); before, the same rule without importing
    torch, so listing weights or building the CLI stays fast."""
    if "torch" in sys.modules:
        import torch.hub

        return Path(torch.hub.get_dir())
    cache = os.getenv("XDG_CACHE_HOME", "~/.cache")
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))) / "hub"


def cache_dir() -> Path:
    """The cache folder (read from the environment at each call)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else hub_dir().parent / "colorbench_cache"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_key(kind: str, **parts: Any) -> str:
    """A stable key: ``kind`` plus the SHA-256 of ``parts`` as canonical JSON."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return f"{kind}-{sha256_bytes(canonical.encode('utf-8'))[:32]}"


def _paths(key: str) -> tuple[Path, Path]:
    if not key.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"invalid cache key {key!r}")
    folder = cache_dir()
    return folder / f"{key}.npz", folder / f"{key}.json"


def save_arrays(key: str, arrays: dict[str, np.ndarray], description: dict | None = None) -> Path:
    """Store ``arrays`` under ``key`` atomically (the JSON description is written last)."""
    data_path, meta_path = _paths(key)
    with atomic_path(data_path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    write_json(meta_path, {"key": key, "arrays": sorted(arrays), **(description or {})})
    return data_path


def load_arrays(key: str) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``key``, or ``None`` when absent or unreadable."""
    data_path, meta_path = _paths(key)
    if not (data_path.is_file() and meta_path.is_file()):
        return None
    try:
        with np.load(data_path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError):
        return None  # a damaged entry is recomputed, never trusted
