import numpy as np

from pairing.knn import knn


def test_matches_brute_force_across_blocks():
    rng = np.random.default_rng(0)
    queries, pool = rng.normal(size=(50, 16)).astype(np.float32), rng.normal(size=(300, 16)).astype(np.float32)
    indices, distances = knn(queries, pool, 5, block=7)
    full = np.linalg.norm(queries[:, None, :].astype(np.float64) - pool[None], axis=2)
    np.testing.assert_array_equal(indices, np.argsort(full, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :5], rtol=1e-5)


def test_equal_codes_are_excluded_and_more_candidates_fetched():
    rng = np.random.default_rng(1)
    pool = rng.normal(size=(100, 8)).astype(np.float32)
    pool_codes = np.arange(100)
    pool_codes[:60] = 7  # 60 pool rows share the code of every query: all must be skipped
    indices, _ = knn(pool[:10], pool, 3, np.full(10, 7), pool_codes, margin=1)
    assert indices.min() >= 60
    brute = np.linalg.norm(pool[:10, None].astype(np.float64) - pool[None, 60:], axis=2)
    np.testing.assert_array_equal(indices, 60 + np.argsort(brute, axis=1, kind="stable")[:, :3])


def test_self_is_excluded_by_its_code():
    rng = np.random.default_rng(2)
    pool = rng.normal(size=(30, 4)).astype(np.float32)
    indices, _ = knn(pool, pool, 2, np.arange(30), np.arange(30))
    assert all(q not in indices[q] for q in range(30))


def test_near_duplicates_are_excluded():
    base = np.random.default_rng(3).normal(size=(1, 16)).astype(np.float32)
    pool = np.concatenate([base * 1.001, base * 1.5, base * 2.0])
    indices, _ = knn(base, pool, 1)
    assert indices[0, 0] == 0
    indices, _ = knn(base, pool, 1, near_duplicate=0.05)
    assert indices[0, 0] == 1


def test_short_rows_are_marked():
    pool = np.eye(4, dtype=np.float32)
    indices, distances = knn(pool[:1], pool, 3, np.array([0]), np.array([0, 1, 0, 0]))
    assert indices[0].tolist() == [1, -1, -1] and np.isnan(distances[0, 1:]).all()
