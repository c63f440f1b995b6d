"""Fréchet Inception distance (FID), its extrapolation to infinitely many samples (FID infinity), and KID.

All three work on Inception pool3 features, which the scorer extracts once for all of them
(``features=INCEPTION_FEATURES``): torch-fidelity's TF-FID Inception (:mod:`bench.features.inception`,
``fid_backbone = "tf"``, the default) or torchvision's ImageNet Inception v3 as DDColor's and CT2's
``INCEPTION_V3_FID`` runs it (:mod:`bench.features.inception_torchvision`, ``fid_backbone =
"torchvision"``). The two backbones give different numbers for the same images; a summary records
which one was used, and the leaderboard never ranks one against the other.

* ``fid`` matches ``torch_fidelity.calculate_metrics(fid=True)`` (= TTUR's TensorFlow FID): feature
  means and ``np.cov`` covariances, ``d = |mu_1 - mu_2|^2 + tr S_1 + tr S_2 - 2 tr sqrt(S_1 S_2)``.
* ``fid_inf`` is FID infinity of Chong & Forsyth, "Effectively Unbiased FID and Inception Score and
  where to find them" (CVPR 2020; ``mchong6/FID_IS_infinity``, ``calculate_FID_infinity``): FID of
  random output subsets of sizes ``linspace(min_n, N, points)`` against the full ground-truth
  statistics, an ordinary least-squares line of FID on 1/size, and its intercept (1/size = 0).
* ``kid`` is torch-fidelity's own Kernel Inception Distance (``metric_kid.kid_features_to_metric``:
  unbiased MMD^2 with the cubic polynomial kernel over random subsets), called on these features.
* ``fid_drop_partial_batch = k`` reproduces the ``get_activations`` of DDColor and CT2, which
  computes features for ``N // k`` whole batches only: the last ``N mod k`` images of each set (in
  split order) are left out of FID and FID infinity.

All statistics and the square-root trace are float64. The trace is the symmetric form
``tr sqrt(S_1 S_2) = tr sqrt(L^T S_1 L)`` for any factor ``S_2 = L L^T``: a symmetric positive
semi-definite matrix, so its eigenvalues come from ``eigvalsh`` (tiny negative ones, rounding, are
clipped to 0) instead of ``scipy.linalg.sqrtm`` of a non-symmetric product (tens of seconds at
2048-d on two cores).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

import numpy as np

from ..core.errors import ColorbenchError
from ..core.lazy import lazy_import
from ..core.weights import ensure_weights
from .registry import register_metric

torch = lazy_import("torch")

__all__ = ["INCEPTION_FEATURES", "FrechetToReference", "InceptionSetMetric", "drop_partial_batch",
           "feature_statistics", "fid", "kid",
           "fid_infinity", "fid_infinity_intercept", "fid_infinity_min_n", "fid_infinity_variants",
           "frechet_distance", "trace_sqrt_product"]

#: Name of the per-image features ``fid`` and ``fid_inf`` share (extracted once per set).
INCEPTION_FEATURES = "inception-2015-12-05-pool3"

#: Up to this many outputs, FID infinity precomputes their N x N Gram matrix (128 MiB at 4096), so a
#: subset's Gram matrix is a gather instead of an n x n x D product.
_GRAM_MAX_N = 4096

Array = "np.ndarray | torch.Tensor"


def _float64(x: Array, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64, device=device)


def feature_statistics(features: Array) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of ``(N, D)`` features, float64 (``np.cov(rowvar=False)``)."""
    x = _float64(features)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"feature statistics need (N >= 2, D) features; got {tuple(x.shape)}")
    mu = x.mean(0)
    xc = x - mu
    return mu, xc.T @ xc / (x.shape[0] - 1)


def trace_sqrt_product(sigma1: Array, sigma2: Array) -> torch.Tensor:
    """``tr sqrt(sigma1 sigma2)`` of two ``(D, D)`` covariances, as ``tr sqrt(A sigma2 A)``, ``A = sigma1^(1/2)``.

    ``A`` comes from ``eigh(sigma1)`` with negative eigenvalues (rounding) clipped to 0; ``A sigma2 A`` is
    symmetric positive semi-definite with the eigenvalues of ``sigma1 sigma2``. float64 scalar tensor.
    """
    s1, s2 = _float64(sigma1), _float64(sigma2)
    if s1.ndim != 2 or s1.shape[0] != s1.shape[1] or s1.shape != s2.shape:
        raise ValueError(f"trace_sqrt_product needs two (D, D) matrices; got {tuple(s1.shape)} and {tuple(s2.shape)}")
    w, v = torch.linalg.eigh(s1)
    a = (v * w.clamp(min=0).sqrt()) @ v.T
    return torch.linalg.eigvalsh(a @ s2 @ a).clamp(min=0).sqrt().sum()


def frechet_distance(mu1: Array, sigma1: Array, mu2: Array, sigma2: Array) -> float:
    """Fréchet distance of two Gaussians: ``|mu1 - mu2|^2 + tr sigma1 + tr sigma2 - 2 tr sqrt(sigma1 sigma2)``.

    Matches torch-fidelity's ``fid_statistics_to_metric`` (and TTUR's ``calculate_frechet_distance``).
    """
    diff = _float64(mu1) - _float64(mu2)
    s1, s2 = _float64(sigma1), _float64(sigma2)
    return float(diff @ diff + s1.trace() + s2.trace() - 2 * trace_sqrt_product(s1, s2))


@contextmanager
def _single_threaded(device: torch.device) -> Iterator[int]:
    """On CPU, run torch single-threaded inside; yields the thread count to use for parallel solves.

    LAPACK's symmetric eigensolvers gain little from threads at these sizes (the tridiagonal
    reduction is memory-bound), and threaded MKL ``syevd`` spent 8-10x more CPU time than a single
    thread on a 2-core AMD machine; independent solves side by side use the cores instead.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu":
        yield 1
        return
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


class FrechetToReference:
    """FID of subsets of one feature set (the outputs) against a whole reference set (the ground truths).

    The reference side is prepared once: its mean, trace and a factor ``L`` with ``S_ref = L L^T`` of
    width ``r``. ``L`` is the reference's centred features over ``sqrt(M - 1)`` when ``M <= D`` (exact,
    no decomposition), else ``S_ref^(1/2)`` from ``eigh`` (rotated: ``V diag(sqrt(w))``, the same
    eigenvalues below). With ``Y = (X - mean X) L``, a subset's ``L^T S_sub L = Y_c^T Y_c / (n - 1)``,
    whose nonzero eigenvalues are those of the Gram matrix ``Y_c Y_c^T / (n - 1)``: one symmetric
    eigenvalue problem of size ``min(n, r)`` per subset.

    Args:
        features: ``(N, D)`` output features.
        reference: ``(M, D)`` reference features.
        device: where the linear algebra runs (float64).
        precompute_gram: keep ``Y Y^T`` (N x N) so subsets of size ``<= r`` only gather from it.
    """

    def __init__(self, features: Array, reference: Array, device: torch.device | str = "cpu",
                 precompute_gram: bool = False):
        self.device = torch.device(device)
        x, z = _float64(features, self.device), _float64(reference, self.device)
        if x.ndim != 2 or z.ndim != 2 or x.shape[1] != z.shape[1] or len(x) < 2 or len(z) < 2:
            raise ValueError(f"FID needs (N >= 2, D) and (M >= 2, D) features; got {tuple(x.shape)} and "
                             f"{tuple(z.shape)}")
        mu_x, mu_z = x.mean(0), z.mean(0)
        self.x0 = x - mu_x
        self.mean_offset = mu_x - mu_z
        zc = z - mu_z
        self.trace_ref = (zc * zc).sum() / (len(z) - 1)
        if len(z) <= z.shape[1]:
            factor = zc.T / (len(z) - 1) ** 0.5
        else:
            with _single_threaded(self.device):
                w, v = torch.linalg.eigh(zc.T @ zc / (len(z) - 1))
            factor = v * w.clamp(min=0).sqrt()
        self.y0 = self.x0 @ factor
        self.width = factor.shape[1]
        self.gram = self.y0 @ self.y0.T if precompute_gram else None

    def __len__(self) -> int:
        return len(self.x0)

    def _gram(self, y: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """``Y_c Y_c^T`` (n <= r) or ``Y_c^T Y_c``: same nonzero eigenvalues, the smaller matrix."""
        if len(y) <= self.width and self.gram is not None:
            k = self.gram if rows is None else self.gram[rows[:, None], rows]
            row_means = k.mean(1, keepdim=True)  # double centring = centring the rows of Y
            return k - row_means - row_means.T + row_means.mean()
        yc = y - y.mean(0)
        return yc @ yc.T if len(y) <= self.width else yc.T @ yc

    def distance(self, index: Array | None = None) -> float:
        """FID of the outputs ``index`` (integer indices, at least 2; ``None`` = all) to the reference."""
        rows = None if index is None else torch.as_tensor(index, dtype=torch.long, device=self.device)
        x0 = self.x0 if rows is None else self.x0[rows]
        y = self.y0 if rows is None else self.y0[rows]
        n = len(x0)
        if n < 2:
            raise ValueError(f"a FID subset needs at least 2 samples; got {n}")
        m = x0.mean(0)
        mean_term = (self.mean_offset + m).square().sum()
        trace_sub = (x0 - m).square().sum() / (n - 1)
        eigenvalues = torch.linalg.eigvalsh(self._gram(y, rows) / (n - 1))
        return float(mean_term + trace_sub + self.trace_ref - 2 * eigenvalues.clamp(min=0).sqrt().sum())

    def distances(self, indices: Sequence[Array | None]) -> list[float]:
        """:meth:`distance` of each subset; on CPU several single-threaded solves run side by side."""
        with _single_threaded(self.device) as workers:
            if workers == 1 or len(indices) < 2:
                return [self.distance(index) for index in indices]
            # Largest subsets first, so the workers finish together (longest-processing-time order).
            order = sorted(range(len(indices)), key=lambda i: -len(self) if indices[i] is None else -len(indices[i]))
            with ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
                values = list(pool.map(self.distance, [indices[i] for i in order]))
        result = [0.0] * len(indices)
        for i, value in zip(order, values):
            result[i] = value
        return result


def _check_sets(pred_features: Array, gt_features: Array, metric: str, min_pred: int = 2) -> None:
    n, m = len(pred_features), len(gt_features)
    if n < min_pred or m < 2:
        raise ColorbenchError(f"{metric} needs at least {min_pred} outputs and 2 ground truths (a covariance of one "
                              f"image is undefined); got {n} outputs and {m} ground truths")


def fid(pred_features: Array, gt_features: Array, device: torch.device | str = "cpu") -> float:
    """FID between ``(N, D)`` output features and ``(M, D)`` ground-truth features (N, M >= 2).

    Equals :func:`frechet_distance` of the two sets' :func:`feature_statistics`, computed through
    :class:`FrechetToReference` (an eigenvalue problem of size ``min(N, M, D)``).
    """
    _check_sets(pred_features, gt_features, "fid")
    return FrechetToReference(pred_features, gt_features, device).distances([None])[0]


def fid_infinity_min_n(n: int, min_n: int | None = None) -> int:
    """The smallest subset size of FID infinity's fit for ``n`` outputs.

    ``None``: ``max(50, n // 10)`` (the reference code fits 5,000..50,000, i.e. N/10..N), capped at
    ``n // 2`` so small sets still span a factor of two in size, and at least 2.
    """
    if min_n is None:
        min_n = max(2, min(max(50, n // 10), n // 2))
    if not 2 <= min_n < n:
        raise ColorbenchError(f"fid_inf: the smallest subset (fid_inf_min_n = {min_n}) must be at least 2 and below "
                              f"the number of outputs ({n}); fid_inf needs at least 3 outputs")
    return min_n


def fid_infinity_intercept(sizes: Sequence[int], fids: Sequence[float]) -> float:
    """Intercept at ``1/N = 0`` of the ordinary least-squares line ``FID = a + b / N``."""
    x = 1.0 / np.asarray(sizes, dtype=np.float64)
    y = np.asarray(fids, dtype=np.float64)
    if x.shape != y.shape or np.ptp(x) == 0:
        raise ValueError("the FID infinity fit needs matching sizes and FIDs with two distinct sizes; got "
                         f"{list(sizes)}")
    xc = x - x.mean()
    slope = (xc @ (y - y.mean())) / (xc @ xc)
    return float(y.mean() - slope * x.mean())


def fid_infinity(pred_features: Array, gt_features: Array, *, min_n: int | None = None, points: int = 15,
                 repeats: int = 10, seed: int = 0, device: torch.device | str = "cpu") -> dict:
    """FID infinity (Chong & Forsyth 2020) of ``(N, D)`` output features against ``(M, D)`` ground truths.

    Subset sizes ``N_i = int(linspace(min_n, N, points))``; for each, a subset of the outputs drawn
    without replacement (``rng.permutation(N)[:N_i]``, one draw per size, in order, as the reference
    shuffles the activations before each size), its FID against the statistics of *all* ground
    truths, then :func:`fid_infinity_intercept`. The whole fit is repeated ``repeats`` times with one
    ``numpy.random.default_rng(seed)``. The size-N subset is the whole set, so its FID is computed
    once.

    Returns:
        ``value`` (mean intercept), ``std`` (sample std over repeats, ddof 1; 0 for one repeat),
        ``n``, ``min_n``, ``points``, ``repeats``.
    """
    _check_sets(pred_features, gt_features, "fid_inf", min_pred=3)
    n = len(pred_features)
    min_n = fid_infinity_min_n(n, min_n)
    if points < 2 or repeats < 1:
        raise ColorbenchError(f"fid_inf needs fid_inf_points >= 2 and fid_inf_repeats >= 1; got {points} and {repeats}")
    sizes = np.linspace(min_n, n, points).astype(np.int64)
    rng = np.random.default_rng(seed)
    draws = [[rng.permutation(n)[:size] for size in sizes] for _ in range(repeats)]
    frechet = FrechetToReference(pred_features, gt_features, device, precompute_gram=n <= _GRAM_MAX_N)
    partial_subsets = [index for draw in draws for index in draw if len(index) < n]
    partial_fids = iter(frechet.distances([None] + partial_subsets))
    full = next(partial_fids)
    fids = np.array([[full if len(index) == n else next(partial_fids) for index in draw] for draw in draws])
    intercepts = np.array([fid_infinity_intercept(sizes, row) for row in fids])
    return {"value": float(intercepts.mean()), "std": float(intercepts.std(ddof=1)) if repeats > 1 else 0.0,
            "n": n, "min_n": int(min_n), "points": int(points), "repeats": int(repeats)}


def drop_partial_batch(features: np.ndarray, batch_size: int) -> np.ndarray:
    """The features of the whole batches of ``batch_size`` only (``get_activations``' ``N // batch_size``
    batches); ``batch_size`` 0 keeps all."""
    return features[:_whole_batches(len(features), batch_size)]


def _whole_batches(n: int, batch_size: int) -> int:
    """How many of ``n`` items fill whole batches of ``batch_size`` (0: all of them)."""
    return n if batch_size <= 0 else n // batch_size * batch_size


def kid(pred_features: Array, gt_features: Array, *, subsets: int = 100, subset_size: int = 1000,
        seed: int = 2020) -> dict:
    """KID of ``(N, D)`` output features against ``(M, D)`` ground-truth features, by torch-fidelity's
    ``kid_features_to_metric`` (its defaults: 100 subsets of 1000, seed 2020, cubic polynomial kernel).

    The subset size is capped at ``min(N, M)`` (torch-fidelity refuses larger ones), and returned.

    Returns:
        ``value`` (mean MMD^2 over subsets), ``std`` (their population std, as torch-fidelity),
        ``n``, ``subsets``, ``subset_size``.
    """
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    n, m = len(pred_features), len(gt_features)
    size = min(subset_size, n, m)
    if size < 2:
        raise ColorbenchError(f"kid needs at least 2 outputs and 2 ground truths; got {n} and {m}")
    pred, gt = torch.as_tensor(np.asarray(pred_features)), torch.as_tensor(np.asarray(gt_features))
    result = kid_features_to_metric(pred, gt, kid_subsets=subsets, kid_subset_size=size, rng_seed=seed, verbose=False)
    return {"value": float(result[KEY_METRIC_KID_MEAN]), "std": float(result[KEY_METRIC_KID_STD]), "n": n,
            "subsets": int(subsets), "subset_size": int(size)}


def _feature_network(config) -> tuple[str, ...]:
    """The weights the Inception set metrics load under ``config.fid_backbone``."""
    return ("inception_fid",) if config.fid_backbone == "tf" else ("inception_v3_torchvision",)


class InceptionSetMetric:
    """A set metric on Inception pool3 features: ``extract`` per batch of images, ``compute`` per set.

    A set metric may report several *variants* (FID infinity at several smallest subsets): the
    scorer asks :meth:`variants` for the set size and stores each under ``<name>_<variant>``
    (``None``: the plain name).

    Args:
        config: the metric settings (``fid_backbone``, ``fid_input_range``, ``fid_drop_partial_batch``).
        device: where the network and the linear algebra run.
        compute: ``compute(pred_features, gt_features, variant) -> dict`` with at least ``value``.
        variants: ``variants(n) -> (variants, skipped)`` for ``n`` outputs; ``skipped`` maps a
            variant that cannot be computed to the reason. Default: one unnamed variant.
    """

    def __init__(self, config, device: torch.device | str,
                 compute: Callable[[np.ndarray, np.ndarray, str | None], dict],
                 variants: Callable[[int], tuple[list[str | None], dict[str, str]]] | None = None,
                 drop_partial: bool = True):
        for network in _feature_network(config):
            ensure_weights(network)  # fail early, naming the file
        self._backbone, self._input_range = config.fid_backbone, config.fid_input_range
        self._drop = config.fid_drop_partial_batch if drop_partial else 0
        self._device = device
        self._inception = None  # the network, loaded on first use: fid, fid_inf and kid share one
        self._compute = compute
        self._variants = variants

    def _network(self):
        if self._backbone == "tf":
            from ..features.inception import InceptionPool3

            return InceptionPool3
        from ..features.inception_torchvision import TorchvisionInceptionPool3

        return TorchvisionInceptionPool3

    def extract(self, images: torch.Tensor) -> np.ndarray:
        """uint8 ``(B, 3, H, W)`` -> ``(B, 2048)`` float64 pool3 features."""
        if self._inception is None:
            network = self._network()
            self._inception = (network(self._device) if self._backbone == "tf"
                               else network(self._device, input_range=self._input_range))
        return self._inception(images)

    def variants(self, n: int) -> tuple[list[str | None], dict[str, str]]:
        n = _whole_batches(n, self._drop)
        return self._variants(n) if self._variants else ([None], {})

    def compute(self, pred_features: np.ndarray, gt_features: np.ndarray, variant: str | None = None) -> dict:
        """The metric on the two sets' features (``variant``: one of :meth:`variants`)."""
        pred, gt = drop_partial_batch(pred_features, self._drop), drop_partial_batch(gt_features, self._drop)
        result = self._compute(pred, gt, variant)
        if self._drop:
            result["dropped_partial_batch"] = {"batch_size": self._drop, "outputs": len(pred_features) - len(pred),
                                               "ground_truths": len(gt_features) - len(gt)}
        return {**result, "backbone": self._backbone}

    def record(self) -> dict:
        """What the features depend on, for the scorer's ground-truth feature cache key."""
        network = self._network()
        extra = {} if self._backbone == "tf" else {"input_range": self._input_range}
        return {"name": INCEPTION_FEATURES, "backbone": self._backbone, **extra, **network.describe_weights()}


def _fid_result(pred_features: np.ndarray, gt_features: np.ndarray, variant: str | None,
                device: torch.device | str) -> dict:
    return {"value": fid(pred_features, gt_features, device), "n": len(pred_features)}


def fid_infinity_variants(min_n: int | tuple[int, ...] | None, n: int) -> tuple[list[str | None], dict[str, str]]:
    """The FID infinity results to report for ``n`` outputs under the ``fid_inf_min_n`` setting.

    ``None``: one result with the size-scaled default (:func:`fid_infinity_min_n`). An int: that
    smallest subset (``fid_inf_<min_n>``; an impossible one is an error when computed). A tuple
    (the MSA paper's (300, 600) on object-level splits): each smallest subset below ``n``, the
    others skipped with the reason; when none fits, the size-scaled default instead.
    """
    if min_n is None:
        return [None], {}
    if isinstance(min_n, int):
        return [str(min_n)], {}
    fits = [str(k) for k in min_n if k < n]
    skipped = {str(k): f"needs more than {k} outputs; {n} were scored" for k in min_n if k >= n}
    return (fits or [None]), skipped


def _fid_inf_result(pred_features: np.ndarray, gt_features: np.ndarray, variant: str | None, config,
                    device: torch.device | str) -> dict:
    result = fid_infinity(pred_features, gt_features, min_n=None if variant is None else int(variant),
                          points=config.fid_inf_points, repeats=config.fid_inf_repeats, seed=config.fid_inf_seed,
                          device=device)
    return {**result, "std_ddof": 1}


_BACKBONES = ("inception_fid", "inception_v3_torchvision")
_BACKBONE_MATCH = ("; fid_backbone torchvision: DDColor basicsr/metrics/custom_fid.py = CT2 segm/metrics.py "
                   "INCEPTION_V3_FID pool features and calculate_frechet_distance (scipy sqrtm), run side by side")


@register_metric("fid", higher_is_better=False, needs=("gt",), networks=_BACKBONES, network_rule=_feature_network,
                 output="per_set", features=INCEPTION_FEATURES,
                 matches="torch_fidelity.calculate_metrics(input1, input2, fid=True) (TF Inception 2015-12-05 pool3)"
                         + _BACKBONE_MATCH)
def fid_metric(config, device):
    """Fréchet Inception distance between the outputs and the ground truths (torch-fidelity's FID)."""
    return InceptionSetMetric(config, device, partial(_fid_result, device=device))


@register_metric("fid_inf", higher_is_better=False, needs=("gt",), networks=_BACKBONES, network_rule=_feature_network,
                 output="per_set", features=INCEPTION_FEATURES,
                 matches="mchong6/FID_IS_infinity calculate_FID_infinity (OLS of FID on 1/N over 15 subset sizes), "
                         "repeated, mean and sample std (ddof 1); on the TF-FID Inception (torch-fidelity's port, as "
                         "our fid) by default, where Chong & Forsyth's code uses torchvision's Inception"
                         + _BACKBONE_MATCH)
def fid_inf_metric(config, device):
    """FID infinity (Chong & Forsyth 2020): FID extrapolated to infinitely many outputs, mean +- std."""
    return InceptionSetMetric(config, device, partial(_fid_inf_result, config=config, device=device),
                              variants=partial(fid_infinity_variants, config.fid_inf_min_n))


def _kid_result(pred_features: np.ndarray, gt_features: np.ndarray, variant: str | None, config) -> dict:
    return kid(pred_features, gt_features, subsets=config.kid_subsets, subset_size=config.kid_subset_size,
               seed=config.kid_seed)


@register_metric("kid", higher_is_better=False, needs=("gt",), networks=_BACKBONES, network_rule=_feature_network,
                 output="per_set", features=INCEPTION_FEATURES, default=False,
                 matches="torch_fidelity.metric_kid.kid_features_to_metric (called on the same features as fid; "
                         "torch-fidelity's subsets, kernel and seed)")
def kid_metric(config, device):
    """Kernel Inception distance (torch-fidelity's, unbiased at small N), mean +- std over random subsets."""
    return InceptionSetMetric(config, device, partial(_kid_result, config=config), drop_partial=False)
