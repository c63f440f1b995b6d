"""Content-keyed on-disk caches: stable keys, atomic entries, damaged entries recomputed, the folder."""

from __future__ import annotations

import numpy as np
import pytest

from bench.core.cache import CACHE_ENV, cache_dir, cache_key, hub_dir, load_arrays, save_arrays


def test_keys_are_stable_and_cover_every_part():
    assert cache_key("x", a=1, b=[1, 2]) == cache_key("x", b=[1, 2], a=1)  # order-free
    assert cache_key("x", a=1) != cache_key("x", a=2) != cache_key("y", a=2)
    assert cache_key("gt-features", a=1).startswith("gt-features-")


def test_round_trip_and_damaged_entries(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    key = cache_key("test", n=1)
    assert load_arrays(key) is None
    save_arrays(key, {"a": np.arange(3.0), "b": np.ones((2, 2), np.int64)}, {"what": "a test"})
    loaded = load_arrays(key)
    assert loaded["a"].tolist() == [0.0, 1.0, 2.0] and loaded["b"].dtype == np.int64
    (tmp_path / f"{key}.npz").write_bytes(b"not an npz")
    assert load_arrays(key) is None  # recomputed, never trusted
    with pytest.raises(ValueError, match="invalid cache key"):
        load_arrays("../escape")


def test_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert hub_dir() == tmp_path / "th" / "hub"
    assert cache_dir() == tmp_path / "th" / "colorbench_cache"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"


def test_hub_dir_agrees_with_torch(tmp_path, monkeypatch):
    import torch.hub

    for env in ({"TORCH_HOME": str(tmp_path / "a")}, {"XDG_CACHE_HOME": str(tmp_path / "b")}):
        monkeypatch.delenv("TORCH_HOME", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert hub_dir() == __import__("pathlib").Path(torch.hub.get_dir())
