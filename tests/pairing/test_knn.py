import numpy as np

from pairing.knn import knn


def test_matches_brute_force_across_blocks():
    rng = np.random.default_rng(0)
    queries, pool = rng.normal(size=(50, 16)).astype(np.float32), rng.normal(size=(300, 16)).astype(np.float32)
    indices, distances = knn(queries, pool, 5, block=7)
    full = np.linalg.norm(queries[:, None, :].astype(np.float64) - pool[None], axis=2)
    np.testing.assert_array_equal(indices, np.argsort(full, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :5], rtol=1e-5)


def test_exclusions_fetch_more_candidates():
    rng = np.random.default_rng(1)
    pool = rng.normal(size=(100, 8)).astype(np.float32)
    banned = set(range(0, 100, 2))
    indices, _ = knn(pool[:10], pool, 3, excluded=lambda q, cand, dist: np.isin(cand, list(banned) + [q]), margin=1)
    assert not set(indices.ravel()) & banned
    for q in range(10):
        assert q not in indices[q]


def test_short_rows_are_marked():
    pool = np.eye(4, dtype=np.float32)
    indices, distances = knn(pool[:1], pool, 3, excluded=lambda q, cand, dist: cand != 1)
    assert indices[0].tolist() == [1, -1, -1] and np.isnan(distances[0, 1:]).all()
