"""fid and fid_inf: equality with torch-fidelity and scipy, the FID infinity procedure, the specs.

Numbers computed with the random stand-in Inception are never results: they only show that our
extraction and distance give torch-fidelity's value on the same images and weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from bench.config import ScoreConfig
from bench.core.errors import ColorbenchError, MissingWeightsError
from bench.metrics.fid import (
    INCEPTION_FEATURES,
    FrechetToReference,
    feature_statistics,
    fid,
    fid_infinity,
    fid_infinity_intercept,
    fid_infinity_min_n,
    fid_infinity_variants,
    frechet_distance,
    trace_sqrt_product,
)
from bench.metrics.registry import get_metric
from bench.testing import calibration_batch


def random_spd(rng: np.random.Generator, dim: int, samples: int) -> np.ndarray:
    x = rng.standard_normal((samples, dim)) * rng.uniform(0.2, 3.0, dim)
    return np.cov(x, rowvar=False)


def gaussian_features(rng: np.random.Generator, n: int, dim: int, shift: float) -> np.ndarray:
    """Non-negative, correlated features (as pool3 after its ReLUs)."""
    mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    return np.abs(rng.standard_normal((n, dim)) @ mixing + shift)


def torch_fidelity_fid(mu1, sigma1, mu2, sigma2) -> float:
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    return fid_statistics_to_metric({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2}, False)[KEY_METRIC_FID]


def slow_fid(x: np.ndarray, mu_gt: np.ndarray, sigma_gt: np.ndarray) -> float:
    """The reference recipe (TTUR, score_infinity.py): np.cov and scipy.linalg.sqrtm of the product."""
    sigma = np.cov(x, rowvar=False)
    diff = x.mean(0) - mu_gt
    root = scipy.linalg.sqrtm(sigma @ sigma_gt).real
    return float(diff @ diff + np.trace(sigma) + np.trace(sigma_gt) - 2 * np.trace(root))


def slow_fid_infinity(pred, gt, min_n, points, repeats, seed) -> tuple[float, float]:
    """FID infinity step by step: per repeat and size a fresh subset, a sqrtm FID, a line fit."""
    rng = np.random.default_rng(seed)
    sizes = np.linspace(min_n, len(pred), points).astype(np.int64)
    mu_gt, sigma_gt = gt.mean(0), np.cov(gt, rowvar=False)
    intercepts = []
    for _ in range(repeats):
        fids = [slow_fid(pred[rng.permutation(len(pred))[:size]], mu_gt, sigma_gt) for size in sizes]
        intercepts.append(np.polyfit(1.0 / sizes, fids, 1)[1])
    return float(np.mean(intercepts)), float(np.std(intercepts, ddof=1))


# --- the Fréchet distance ---------------------------------------------------------------------

def test_trace_sqrt_product_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    for dim in (5, 64):
        s1, s2 = random_spd(rng, dim, 3 * dim), random_spd(rng, dim, 3 * dim)
        expected = scipy.linalg.sqrtm(s1 @ s2).trace().real
        assert float(trace_sqrt_product(s1, s2)) == pytest.approx(expected, rel=1e-6)
        assert float(trace_sqrt_product(s2, s1)) == pytest.approx(expected, rel=1e-6)  # tr sqrt(AB) = tr sqrt(BA)


def test_frechet_distance_matches_torch_fidelity_statistics():
    rng = np.random.default_rng(1)
    dim = 48
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    s1, s2 = random_spd(rng, dim, 200), random_spd(rng, dim, 30)  # s2 singular: rank 29 < 48
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(torch_fidelity_fid(mu1, s1, mu2, s2), rel=1e-8)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9 * np.trace(s1))


def test_feature_statistics_are_numpy_mean_and_cov():
    x = np.random.default_rng(2).standard_normal((30, 7))
    mu, sigma = feature_statistics(x)
    np.testing.assert_allclose(mu.numpy(), x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(x, rowvar=False), rtol=1e-12)


@pytest.mark.parametrize("n, m, dim", [(40, 60, 12), (30, 20, 40), (25, 50, 40)])
@pytest.mark.parametrize("gram", [False, True])
def test_subset_distances_equal_the_statistics_route(n, m, dim, gram):
    # Covers both reference factors (M <= D: the data; M > D: eigh), subsets of size <= and > the
    # factor's width, and the precomputed Gram matrix. rel 1e-7: with a singular covariance, the
    # D x D routes take square roots of rounding-level eigenvalues (the Gram route has none).
    rng = np.random.default_rng(3)
    pred, gt = gaussian_features(rng, n, dim, 0.3), gaussian_features(rng, m, dim, 0.0)
    frechet = FrechetToReference(pred, gt, precompute_gram=gram)
    mu_gt, sigma_gt = feature_statistics(gt)
    subsets = [None, rng.permutation(n)[:n // 3], rng.permutation(n)[:n - 2], np.arange(2)]
    for index, value in zip(subsets, frechet.distances(subsets)):
        x = pred if index is None else pred[index]
        mu, sigma = np.mean(x, 0), np.cov(x, rowvar=False)
        assert value == pytest.approx(torch_fidelity_fid(mu, sigma, gt.mean(0), np.cov(gt, rowvar=False)), rel=1e-7)
        assert value == pytest.approx(frechet_distance(mu, sigma, mu_gt, sigma_gt), rel=1e-7)


def test_fid_properties():
    rng = np.random.default_rng(4)
    a, b = gaussian_features(rng, 50, 20, 0.2), gaussian_features(rng, 40, 20, 0.0)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-9)
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-9)
    assert fid(a, b) > 0.1


def test_fid_needs_two_images_per_set():
    features = np.ones((5, 8))
    with pytest.raises(ColorbenchError, match="at least 2 outputs and 2 ground truths"):
        fid(features[:1], features)
    with pytest.raises(ColorbenchError, match="got 5 outputs and 1 ground truths"):
        fid(features, features[:1])
    with pytest.raises(ValueError, match=r"\(12, 8\)"):
        fid(np.ones((12, 8)), np.ones((12, 9)))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        trace_sqrt_product(np.eye(4, 3), np.eye(4, 3))


# --- FID infinity -----------------------------------------------------------------------------

def test_fid_infinity_matches_a_direct_implementation():
    rng = np.random.default_rng(5)
    pred, gt = gaussian_features(rng, 90, 6, 0.3), gaussian_features(rng, 120, 6, 0.0)
    result = fid_infinity(pred, gt, min_n=12, points=6, repeats=4, seed=7)
    value, std = slow_fid_infinity(pred, gt, min_n=12, points=6, repeats=4, seed=7)
    assert result["value"] == pytest.approx(value, rel=1e-6)
    assert result["std"] == pytest.approx(std, rel=1e-6)
    assert result == {**result, "n": 90, "min_n": 12, "points": 6, "repeats": 4}


def test_fid_infinity_is_repeatable_and_seeded():
    rng = np.random.default_rng(6)
    pred, gt = gaussian_features(rng, 60, 30, 0.3), gaussian_features(rng, 70, 30, 0.0)
    first = fid_infinity(pred, gt, min_n=10, points=5, repeats=3, seed=1)
    assert fid_infinity(pred, gt, min_n=10, points=5, repeats=3, seed=1) == first
    assert fid_infinity(pred, gt, min_n=10, points=5, repeats=3, seed=2)["value"] != first["value"]
    assert first["std"] > 0
    assert fid_infinity(pred, gt, min_n=10, points=5, repeats=1, seed=1)["std"] == 0.0


def test_intercept_of_exactly_linear_data():
    sizes = np.linspace(50, 500, 15).astype(np.int64)
    assert fid_infinity_intercept(sizes, 12.5 + 3000.0 / sizes) == pytest.approx(12.5, rel=1e-12)
    with pytest.raises(ValueError, match="two distinct sizes"):
        fid_infinity_intercept([100, 100], [1.0, 2.0])


def test_fid_infinity_variants():
    assert fid_infinity_variants(None, 1000) == ([None], {})
    assert fid_infinity_variants(300, 1000) == (["300"], {})
    assert fid_infinity_variants((300, 600), 1000) == (["300", "600"], {})
    assert fid_infinity_variants((300, 600), 450) == (["300"], {"600": "needs more than 600 outputs; 450 were scored"})
    variants, skipped = fid_infinity_variants((300, 600), 120)  # too small for both: the size-scaled rule
    assert variants == [None] and set(skipped) == {"300", "600"}


def test_object_splits_default_to_the_papers_subsets():
    from bench.config import PAPER_FID_INF_MIN_N

    assert PAPER_FID_INF_MIN_N == (300, 600)
    assert ScoreConfig().for_split("object").fid_inf_min_n == (300, 600)
    assert ScoreConfig().for_split("image").fid_inf_min_n is None
    assert ScoreConfig(fid_inf_min_n=50).for_split("object").fid_inf_min_n == 50


def test_fid_infinity_min_n():
    assert fid_infinity_min_n(5000) == 500  # N/10, as the reference's 5,000 of 50,000
    assert fid_infinity_min_n(2000) == 200
    assert fid_infinity_min_n(300) == 50
    assert fid_infinity_min_n(60) == 30  # capped at N/2 for small sets
    assert fid_infinity_min_n(7) == 3
    assert fid_infinity_min_n(1000, 300) == 300
    with pytest.raises(ColorbenchError, match="fid_inf_min_n = 600"):
        fid_infinity_min_n(500, 600)
    with pytest.raises(ColorbenchError, match="at least 3 outputs"):
        fid_infinity(np.ones((2, 4)), np.ones((5, 4)))


# --- extraction and torch-fidelity on image folders --------------------------------------------

def image_sets(side: int = 64, count: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """Two different sets of real-photo crops: natural colours, and desaturated + tinted (as
    colorization outputs can be)."""
    photos = calibration_batch(96)
    rng = np.random.default_rng(0)

    def crops(n: int) -> torch.Tensor:
        out = []
        for _ in range(n):
            photo = photos[rng.integers(len(photos))]
            top, left = rng.integers(0, 96 - side, 2)
            crop = photo[:, top:top + side, left:left + side]
            out.append(crop.flip(-1) if rng.random() < 0.5 else crop)
        return torch.stack(out)

    natural = crops(count)
    other = crops(count).double()
    gray = other.mean(1, keepdim=True)
    tinted = (0.4 * other + 0.6 * gray) * torch.tensor([1.1, 1.0, 0.8]).view(1, 3, 1, 1)
    return natural, tinted.round().clamp(0, 255).to(torch.uint8)


def write_folder(folder, images: torch.Tensor) -> None:
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")


def torch_fidelity_on_folders(tmp_path, first: torch.Tensor, second: torch.Tensor, **metrics) -> dict:
    """``torch_fidelity.calculate_metrics`` on the two image sets written as PNG folders (CPU, no cache)."""
    import torch_fidelity

    write_folder(tmp_path / "a", first)
    write_folder(tmp_path / "b", second)
    return torch_fidelity.calculate_metrics(input1=str(tmp_path / "a"), input2=str(tmp_path / "b"), cuda=False,
                                            verbose=False, cache=False, cache_root=str(tmp_path / "cache"),
                                            save_cpu_ram=True, **metrics)


def test_fid_equals_torch_fidelity_on_image_folders(random_weights, tmp_path):
    random_weights("inception_fid")
    natural, tinted = image_sets()
    expected = torch_fidelity_on_folders(tmp_path, natural, tinted, fid=True)["frechet_inception_distance"]

    metric = get_metric("fid").factory(ScoreConfig(), torch.device("cpu"))
    pred = np.concatenate([metric.extract(natural[:13]), metric.extract(natural[13:])])  # batching is free
    gt = metric.extract(tinted)
    assert pred.shape == (20, 2048) and pred.dtype == np.float64
    assert np.median(pred.std(0)) > 1e-3 * np.abs(pred).mean()  # the calibrated features vary
    value = metric.compute(pred, gt)
    assert value == {"value": pytest.approx(expected, rel=1e-4, abs=1e-3), "n": 20, "backbone": "tf"}
    assert value["value"] > 1e-2 * np.trace(np.cov(pred, rowvar=False))  # not trivially 0
    assert metric.compute(pred, pred)["value"] == pytest.approx(0.0, abs=1e-6)

    fid_inf = get_metric("fid_inf").factory(ScoreConfig(fid_inf_repeats=3), torch.device("cpu"))
    assert fid_inf.variants(20) == ([None], {})
    result = fid_inf.compute(pred, gt)
    assert result["n"] == 20 and result["min_n"] == 10 and result["repeats"] == 3 and result["std_ddof"] == 1
    assert np.isfinite(result["value"]) and result["std"] > 0
    # The MSA paper's fixed smallest subsets, as on object-level splits: those below N are reported.
    fixed = get_metric("fid_inf").factory(ScoreConfig(fid_inf_repeats=3, fid_inf_min_n=(5, 12, 30)), "cpu")
    variants, skipped = fixed.variants(20)
    assert variants == ["5", "12"] and skipped == {"30": "needs more than 30 outputs; 20 were scored"}
    assert fixed.compute(pred, gt, "12")["min_n"] == 12


def test_extract_rejects_bad_input(random_weights):
    random_weights("inception_fid")
    metric = get_metric("fid").factory(ScoreConfig(), torch.device("cpu"))
    record = metric.record()
    assert record["name"] == INCEPTION_FEATURES and record["file"] == "weights-inception-2015-12-05-6726825d.pth"
    assert len(record["sha256"]) == 64
    with pytest.raises(TypeError, match="uint8"):
        metric.extract(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(1, 1, 8, 8\)"):
        metric.extract(torch.zeros(1, 1, 8, 8, dtype=torch.uint8))


def test_missing_weights_are_named(empty_torch_home):
    with pytest.raises(MissingWeightsError, match="weights-inception-2015-12-05-6726825d.pth"):
        get_metric("fid_inf").factory(ScoreConfig(), torch.device("cpu"))


def test_through_the_tensor_api_equals_torch_fidelity(random_weights, tmp_path):
    """bench.create_metric("fid"): update() in batches of any size, compute() = torch-fidelity's FID."""
    from bench import create_metric

    random_weights("inception_fid")
    natural, tinted = image_sets(count=12)
    expected = torch_fidelity_on_folders(tmp_path, natural, tinted, fid=True)["frechet_inception_distance"]
    fid_metric = create_metric("fid")
    fid_metric.update(pred=natural[:5], gt=tinted[:7])
    fid_metric.update(pred=natural[5:], gt=tinted[7:])
    value = fid_metric.compute()  # the number itself, as torchmetrics and pyiqa return it
    assert isinstance(value, float) and value == pytest.approx(expected, rel=1e-4, abs=1e-3)
    assert fid_metric.compute(details=True) == {"value": value, "n": 12, "backbone": "tf"}
    fid_inf = create_metric("fid_inf", fid_inf_repeats=2, fid_inf_min_n=(4, 8, 30))
    fid_inf.update(pred=natural, gt=tinted)
    results = fid_inf.compute(details=True)
    assert set(results) == {"4", "8"} and results["4"]["min_n"] == 4 and np.isfinite(results["8"]["value"])
    assert fid_inf.compute() == {variant: result["value"] for variant, result in results.items()}


def test_kid_equals_torch_fidelity_on_image_folders(random_weights, tmp_path):
    """kid: torch-fidelity's own KID, on the same Inception features as fid (subset size capped at N)."""
    random_weights("inception_fid")
    natural, tinted = image_sets()
    expected = torch_fidelity_on_folders(tmp_path, natural, tinted, kid=True, kid_subsets=7, kid_subset_size=20)
    metric = get_metric("kid").factory(ScoreConfig(kid_subsets=7), torch.device("cpu"))
    value = metric.compute(metric.extract(natural), metric.extract(tinted))
    assert value["subset_size"] == 20 and value["subsets"] == 7 and value["backbone"] == "tf"
    assert value["value"] == pytest.approx(expected["kernel_inception_distance_mean"], rel=1e-3, abs=1e-6)
    assert value["std"] == pytest.approx(expected["kernel_inception_distance_std"], rel=1e-2, abs=1e-6)
    assert value["value"] > 1e-3


def test_partial_batch_drop_leaves_out_the_last_images_of_each_set(random_weights):
    """fid_drop_partial_batch = k: FID of the first N // k * k outputs against the first M // k * k
    ground truths, as DDColor's and CT2's get_activations computes it; recorded in the result."""
    random_weights("inception_fid")
    pred, gt = (np.random.default_rng(seed).normal(size=(n, 16)) for seed, n in ((0, 23), (1, 18)))
    metric = get_metric("fid").factory(ScoreConfig(fid_drop_partial_batch=8), torch.device("cpu"))
    value = metric.compute(pred, gt)
    assert value["value"] == pytest.approx(fid(pred[:16], gt[:16]), rel=1e-12)
    assert value["n"] == 16 and value["dropped_partial_batch"] == {"batch_size": 8, "outputs": 7, "ground_truths": 2}
    assert value["value"] != pytest.approx(fid(pred, gt), rel=1e-3)
    assert get_metric("fid").factory(ScoreConfig(), torch.device("cpu")).compute(pred, gt)["value"] == pytest.approx(
        fid(pred, gt), rel=1e-12)
    fid_inf_metric = get_metric("fid_inf").factory(ScoreConfig(fid_drop_partial_batch=8, fid_inf_repeats=2),
                                                   torch.device("cpu"))
    assert fid_inf_metric.compute(pred, gt)["n"] == 16
