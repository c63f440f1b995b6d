import numpy as np
import pytest
import skimage.color
import torch

from bench.config import ScoreConfig
from bench.metrics.base import Batch
from bench.metrics.histogram import (
    DeltaHis,
    _triangular_weights,
    ab_histogram,
    delta_his,
    histogram_intersection,
)
from bench.metrics.registry import get_metric
from tests.helpers import colour_image, hwc, photo_batch


def _slow_histogram(image: np.ndarray, bins: int = 21, width: float = 0.1) -> np.ndarray:
    """The binning formula written out pixel by pixel and bin by bin, on skimage's Lab."""
    ab = skimage.color.rgb2lab(image)[..., 1:].reshape(-1, 2) / 127.0
    centres = np.linspace(-1, 1, bins)
    hist = np.zeros((bins, bins))
    for a, b in ab:
        for i, ca in enumerate(centres):
            for j, cb in enumerate(centres):
                hist[i, j] += max(0.0, 1 - abs(a - ca) / width) * max(0.0, 1 - abs(b - cb) / width)
    return hist / hist.sum()


def _slow_delta_his(pred: np.ndarray, gt: np.ndarray, reference: np.ndarray, bins: int = 21,
                    width: float = 0.1) -> float:
    h_ref = _slow_histogram(reference, bins, width)

    def intersection(hist: np.ndarray) -> float:
        return np.minimum(hist, h_ref).sum() / h_ref.sum()

    return abs(intersection(_slow_histogram(gt, bins, width)) - intersection(_slow_histogram(pred, bins, width)))


@pytest.fixture
def triples():
    """Outputs, ground truths and references of two sizes (two share one), cut from one photo stand-in per triple so
    that their colours overlap as an exemplar's would; outputs are the ground truths with noise and a
    colour cast."""
    rng = np.random.default_rng(0)
    photos = [colour_image(seed, 40, 40) for seed in range(3)]
    gt = np.stack([photo[5:15, 8:20] for photo in photos])
    pred = np.clip(np.rint(gt + rng.normal(0, 8, gt.shape) + rng.uniform(-25, 25, (3, 1, 1, 3))), 0, 255)
    references = [photos[0][20:29, 2:16], photos[1][22:34, 25:37], photos[2][10:19, 20:34]]

    def tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(image.astype(np.uint8)).movedim(-1, -3).contiguous()

    return tensor(pred), tensor(gt), [tensor(reference) for reference in references]


def test_triangular_weights_are_a_partition_of_unity():
    uniform = torch.rand(1, 1000, dtype=torch.float64) * 2 - 1
    values = torch.cat([uniform, torch.linspace(-1, 1, 41, dtype=torch.float64)[None]], dim=1)  # incl. centres
    weights = _triangular_weights(values, bins=21, width=0.1)
    assert weights.shape == (1, 1041, 21) and (weights >= 0).all()
    assert torch.allclose(weights.sum(dim=-1), torch.ones_like(values), rtol=0, atol=1e-12)
    assert ((weights > 1e-12).sum(dim=-1) <= 2).all()  # only the two neighbouring centres


def test_histogram_matches_slow_formula():
    images = photo_batch(2, 8, 12)
    hists = ab_histogram(images)
    assert hists.shape == (2, 21, 21) and hists.dtype == torch.float64
    assert torch.allclose(hists.sum(dim=(1, 2)), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-12)
    for hist, image in zip(hists, images):
        np.testing.assert_allclose(hist.numpy(), _slow_histogram(hwc(image)), rtol=0, atol=1e-10)


def test_delta_his_matches_slow_formula_with_references_of_other_sizes(triples):
    pred, gt, references = triples
    values = delta_his(pred, gt, references)
    assert values.shape == (3,) and values.dtype == torch.float64
    expected = [_slow_delta_his(hwc(p), hwc(g), hwc(r)) for p, g, r in zip(pred, gt, references)]
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-10)
    assert (values > 1e-3).all()  # the test is not vacuous
    singles = torch.cat([delta_his(pred[i:i + 1], gt[i:i + 1], [references[i]]) for i in range(3)])
    assert torch.allclose(values, singles, rtol=0, atol=1e-14)


def test_other_binning_from_config_matches_slow_formula(triples):
    pred, gt, references = triples
    metric = get_metric("delta_his").factory(ScoreConfig(his_bins=11, his_width=0.3), torch.device("cpu"))
    values = metric(Batch(pred=pred, gt=gt, reference=references))
    expected = [_slow_delta_his(hwc(p), hwc(g), hwc(r), bins=11, width=0.3) for p, g, r in zip(pred, gt, references)]
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("bins, width", [(11, 0.15), (21, 0.1), (11, 0.3)])
def test_narrow_default_and_wide_bins_match_slow_formula(bins, width):
    """Widths up to the bin spacing take the two-neighbour fast path; wider ones the general one."""
    images = photo_batch(2, 6, 7, seed=3)
    for hist, image in zip(ab_histogram(images, bins, width), images):
        np.testing.assert_allclose(hist.numpy(), _slow_histogram(hwc(image), bins, width), rtol=0, atol=1e-10)


def test_ground_truth_side_gives_the_same_values(triples):
    pred, gt, references = triples
    metric = DeltaHis(bins=21, width=0.1)
    batch = Batch(pred=pred, gt=gt, reference=references)
    side = metric.gt_side(batch)
    assert side.shape == (3, 1 + 21 * 21) and side.dtype == torch.float64
    # the side must not depend on the outputs
    assert torch.equal(side, metric.gt_side(Batch(pred=gt, gt=gt, reference=references)))
    assert torch.allclose(metric(batch, side), delta_his(pred, gt, references), rtol=0, atol=1e-15)
    assert torch.equal(metric(batch), delta_his(pred, gt, references))


def test_identity_and_symmetry(triples):
    pred, gt, references = triples
    assert torch.equal(delta_his(gt, gt, references), torch.zeros(3, dtype=torch.float64))
    assert torch.allclose(delta_his(pred, gt, references), delta_his(gt, pred, references), rtol=0, atol=1e-15)
    h_pred, h_gt = ab_histogram(pred), ab_histogram(gt)
    hi = histogram_intersection(h_pred, h_gt)
    assert torch.allclose(hi, histogram_intersection(h_gt, h_pred), rtol=0, atol=1e-14)
    assert torch.allclose(histogram_intersection(h_gt, h_gt), torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-14)
    # With the ground truth as reference, delta_his = 1 - HI(pred, gt).
    assert torch.allclose(delta_his(pred, gt, list(gt)), 1 - hi, rtol=0, atol=1e-14)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_equals_cpu(triples):
    pred, gt, references = triples
    values = delta_his(pred.cuda(), gt.cuda(), [r.cuda() for r in references])
    assert torch.allclose(values.cpu(), delta_his(pred, gt, references), rtol=0, atol=1e-9)


@pytest.mark.parametrize("pred, gt, references, error, message", [
    (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8), [torch.zeros(3, 8, 8, dtype=torch.uint8)],
     TypeError, "float32"),
    (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 9, dtype=torch.uint8),
     [torch.zeros(3, 8, 8, dtype=torch.uint8)], ValueError, r"\(1, 3, 8, 9\)"),
    (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
     [torch.zeros(3, 8, 8, dtype=torch.uint8)], ValueError, "list of 2"),
    (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8),
     [torch.zeros(1, 3, 8, 8, dtype=torch.uint8)], ValueError, r"references\[0\].*\(1, 3, 8, 8\)"),
])
def test_bad_input(pred, gt, references, error, message):
    with pytest.raises(error, match=message):
        delta_his(pred, gt, references)


def test_through_the_tensor_api_equals_the_direct_implementation(triples):
    """bench.create_metric("delta_his") with references of several sizes: the numpy transcription."""
    from bench import create_metric

    pred, gt, references = triples
    got = create_metric("delta_his")(pred=pred, gt=gt, reference=references)
    expected = [_slow_delta_his(hwc(p), hwc(g), hwc(r)) for p, g, r in zip(pred, gt, references)]
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="needs reference"):
        create_metric("delta_his")(pred=pred, gt=gt)
