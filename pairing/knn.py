"""Exact k-nearest-neighbour search in L2 with faiss, in blocks, with exclusions.

faiss ``IndexFlatL2`` gives exact squared distances in float32; the candidates are then
re-scored in float64 and ordered by (distance rounded to the split's precision, pool index), so
ties and float noise resolve the same way everywhere. Memory stays bounded: queries go through in
blocks, and only ``k + margin`` candidates per query are kept.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .split import round_distance

__all__ = ["knn", "NEAR_DUPLICATE"]

#: A reference whose feature distance to the target, relative to their mean feature norm, is
#: below this is a near-duplicate of the target (same photo re-encoded, resized, ...).
NEAR_DUPLICATE = 0.05


def knn(queries: np.ndarray, pool: np.ndarray, k: int,
        excluded: Callable[[int, np.ndarray, np.ndarray], np.ndarray] | None = None,
        block: int = 4096, margin: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest pool rows of each query row.

    Args:
        queries: ``(Q, D)`` features.
        pool: ``(P, D)`` features.
        k: neighbours per query.
        excluded: ``excluded(query_index, candidate_indices, candidate_distances) -> bool mask``
            of candidates that must not be returned (the target itself, near-duplicates, ...).
        block: queries per faiss call.
        margin: extra candidates fetched to make up for exclusions (doubled while short).

    Returns:
        ``(indices, distances)``, each ``(Q, k)``; ``-1`` / NaN where fewer than ``k``
        candidates survive the exclusions (the caller decides whether that is an error).
    """
    import faiss

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    pool = np.ascontiguousarray(pool, dtype=np.float32)
    index = faiss.IndexFlatL2(pool.shape[1])
    index.add(pool)
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
            for row, cand in zip(rows, candidates):
                kept, dist = _rescore(queries[row], pool, cand[cand >= 0])
                if excluded is not None and len(kept):
                    keep = ~excluded(row, kept, dist)
                    kept, dist = kept[keep], dist[keep]
                if len(kept) >= k or fetch >= n_pool:
                    take = min(k, len(kept))
                    out_idx[row, :take], out_dist[row, :take] = kept[:take], dist[:take]
                else:
                    short.append(row)
        pending = np.asarray(short, dtype=np.int64)
        fetch = min(fetch * 2, n_pool)
    return out_idx, out_dist


def _rescore(query: np.ndarray, pool: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    diff = pool[candidates].astype(np.float64) - query.astype(np.float64)
    dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    rounded = np.array([round_distance(d) for d in dist])
    order = np.lexsort((candidates, rounded))
    return candidates[order], rounded[order]


def relative_distance(a: np.ndarray, b: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """``distance / mean(|a|, |b|)`` for one query ``a`` against pool rows ``b``."""
    scale = 0.5 * (np.linalg.norm(a) + np.linalg.norm(b, axis=1))
    return np.where(scale > 0, distance / np.maximum(scale, 1e-30), 0.0)
