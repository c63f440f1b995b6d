"""Exact k-nearest-neighbour search in L2 with faiss, in blocks, with exclusions.

faiss ``IndexFlatL2`` gives exact squared distances in float32; the candidates are then
re-scored in float64 and ordered by (distance rounded to the split's precision, pool index), so
ties and float noise resolve the same way everywhere. Memory stays bounded: queries go through in
blocks, and only ``k + margin`` candidates per query are kept (more are fetched, doubling, for the
queries whose candidates were excluded).

Exclusions: a pool item whose ``pool_codes`` equals the query's ``query_codes`` (give both the
same code for the same file content: the target itself and byte-identical copies), and
near-duplicates, whose distance relative to the mean of the two feature norms is below
``near_duplicate``.
"""

from __future__ import annotations

import numpy as np

from bench.core.splits import DISTANCE_DIGITS

__all__ = ["knn", "NEAR_DUPLICATE", "round_distances", "content_codes"]

#: A reference whose feature distance to the target, relative to their mean feature norm, is
#: below this is a near-duplicate of the target (same photo re-encoded, resized, ...).
NEAR_DUPLICATE = 0.05


def round_distances(values: np.ndarray) -> np.ndarray:
    """Round to :data:`~bench.core.splits.DISTANCE_DIGITS` significant digits (decimal, exact)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    rounded = np.array([float(f"{v:.{DISTANCE_DIGITS}g}") if np.isfinite(v) else v for v in flat.tolist()])
    return rounded.reshape(np.shape(values))


def content_codes(*hash_lists: list[str]) -> list[np.ndarray]:
    """Integer codes for content hashes, shared across the lists (same hash, same code)."""
    codes: dict[str, int] = {}
    return [np.array([codes.setdefault(h, len(codes)) for h in hashes], dtype=np.int64) for hashes in hash_lists]


def knn(queries: np.ndarray, pool: np.ndarray, k: int, query_codes: np.ndarray | None = None,
        pool_codes: np.ndarray | None = None, near_duplicate: float = 0.0, block: int = 1024,
        margin: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest pool rows of each query row (see the module docstring for exclusions).

    Returns:
        ``(indices, distances)``, each ``(Q, k)``; ``-1`` / NaN where fewer than ``k``
        candidates survive the exclusions (the caller decides whether that is an error).
    """
    import faiss

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    pool = np.ascontiguousarray(pool, dtype=np.float32)
    index = faiss.IndexFlatL2(pool.shape[1])
    index.add(pool)
    query_norms = np.linalg.norm(queries.astype(np.float64), axis=1)
    pool_norms = np.linalg.norm(pool.astype(np.float64), axis=1)
    n_query, n_pool = len(queries), len(pool)
    out_idx = np.full((n_query, k), -1, np.int64)
    out_dist = np.full((n_query, k), np.nan)
    pending = np.arange(n_query)
    fetch = min(k + margin, n_pool)
    while len(pending):
        short = []
        for start in range(0, len(pending), block):
            rows = pending[start:start + block]
            _, candidates = index.search(queries[rows], fetch)
            dist = _rescore(queries[rows], pool, candidates)
            bad = candidates < 0
            if query_codes is not None:
                bad |= pool_codes[np.maximum(candidates, 0)] == query_codes[rows][:, None]
            if near_duplicate > 0:
                scale = 0.5 * (query_norms[rows][:, None] + pool_norms[np.maximum(candidates, 0)])
                bad |= dist < near_duplicate * scale
            dist = np.where(bad, np.inf, round_distances(dist))
            order = np.lexsort((candidates, dist), axis=-1)
            candidates, dist = np.take_along_axis(candidates, order, 1), np.take_along_axis(dist, order, 1)
            valid = np.isfinite(dist).sum(axis=1)
            done = (valid >= k) | (fetch >= n_pool)
            take = min(k, fetch)
            good_idx = np.where(np.isfinite(dist[:, :take]), candidates[:, :take], -1)
            good_dist = np.where(np.isfinite(dist[:, :take]), dist[:, :take], np.nan)
            out_idx[rows[done], :take], out_dist[rows[done], :take] = good_idx[done], good_dist[done]
            short.extend(rows[~done].tolist())
        pending = np.asarray(short, dtype=np.int64)
        fetch = min(fetch * 2, n_pool)
    return out_idx, out_dist


def _rescore(queries: np.ndarray, pool: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Exact float64 L2 distances ``(B, F)`` between each query and its candidates."""
    diff = pool[np.maximum(candidates, 0)].astype(np.float64) - queries[:, None, :].astype(np.float64)
    return np.sqrt(np.einsum("bfd,bfd->bf", diff, diff))
