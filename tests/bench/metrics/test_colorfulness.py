import math

import numpy as np
import pytest
import torch

from bench.metrics.colorfulness import colorfulness, colorfulness_diff, colorfulness_set_diff
from tests.helpers import hwc, photo_batch


def _published_colorfulness(image: np.ndarray) -> float:
    """Hasler & Süsstrunk 2003, M^(3), straight from the paper, on an (H, W, 3) uint8 image."""
    r, g, b = (image[..., k].astype(np.float64) for k in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.sqrt(np.std(rg) ** 2 + np.std(yb) ** 2) + 0.3 * np.sqrt(np.mean(rg) ** 2 + np.mean(yb) ** 2))


@pytest.mark.parametrize("height, width", [(1, 1), (23, 17), (48, 64)])
def test_matches_published_formula(height, width):
    images = photo_batch(4, height, width)
    values = colorfulness(images)
    assert values.shape == (4,) and values.dtype == torch.float64
    expected = [_published_colorfulness(hwc(x)) for x in images]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_known_values():
    gray = torch.stack([torch.full((3, 8, 8), level, dtype=torch.uint8) for level in (0, 77, 255)])
    assert torch.equal(colorfulness(gray), torch.zeros(3, dtype=torch.float64))
    # A uniform colour has no spread: M = 0.3 * |(rg, yb)|. Pure red: rg = 255, yb = 127.5.
    red = torch.zeros(1, 3, 5, 7, dtype=torch.uint8)
    red[:, 0] = 255
    assert colorfulness(red).item() == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-14)
    # Half pure red, half pure green: rg = +-255 (std 255, mean 0), yb = 127.5 everywhere.
    red_green = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    red_green[:, 0, :2] = 255
    red_green[:, 1, 2:] = 255
    assert colorfulness(red_green).item() == pytest.approx(255 + 0.3 * 127.5, rel=1e-14)


def test_diff_matches_published_formula_and_properties():
    pred, gt = photo_batch(3, 20, 30, seed=0), photo_batch(3, 20, 30, seed=10)
    expected = [abs(_published_colorfulness(hwc(p)) - _published_colorfulness(hwc(g))) for p, g in zip(pred, gt)]
    values = colorfulness_diff(pred, gt)
    assert values.shape == (3,) and values.dtype == torch.float64
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(colorfulness_diff(pred, gt), colorfulness_diff(gt, pred))
    assert torch.equal(colorfulness_diff(gt, gt), torch.zeros(3, dtype=torch.float64))
    gray = torch.full_like(gt, 128)
    assert torch.allclose(colorfulness_diff(gray, gt), colorfulness(gt), rtol=0, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_equals_cpu():
    pred, gt = photo_batch(2, 33, 47, seed=0), photo_batch(2, 33, 47, seed=5)
    on_gpu = colorfulness_diff(pred.cuda(), gt.cuda()).cpu()
    assert torch.allclose(on_gpu, colorfulness_diff(pred, gt), rtol=0, atol=1e-9)


@pytest.mark.parametrize("images, error, message", [
    (torch.zeros(1, 1, 8, 8, dtype=torch.uint8), ValueError, r"\(1, 1, 8, 8\)"),
    (torch.zeros(3, 8, 8, dtype=torch.uint8), ValueError, r"\(3, 8, 8\)"),
    (torch.zeros(1, 3, 8, 8), TypeError, "float32"),
    (np.zeros((1, 3, 8, 8), np.uint8), TypeError, "ndarray"),
])
def test_bad_input(images, error, message):
    with pytest.raises(error, match=message):
        colorfulness(images)
    with pytest.raises(error, match=message):
        colorfulness_diff(images, images)


def test_diff_needs_equal_batch_sizes():
    with pytest.raises(ValueError, match=r"\(2, 3, 8, 8\)"):
        colorfulness_diff(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


def test_through_the_tensor_api_equals_the_published_formula():
    from bench import create_metric

    pred, gt = photo_batch(2, 12, 14, seed=0), photo_batch(2, 12, 14, seed=3)
    expected = [_published_colorfulness(hwc(image)) for image in pred]
    np.testing.assert_allclose(create_metric("colorfulness")(pred=pred).numpy(), expected, rtol=1e-10)
    torch.testing.assert_close(create_metric("colorfulness_diff")(pred=pred, gt=gt), colorfulness_diff(pred, gt))


def _tutorial_colorfulness(image: np.ndarray) -> float:
    """The abs form, written from DDColor's basicsr/metrics/colorfulness.py calculate_cf (= CT2's
    segm/eval_colorfullness.py image_colorfulness), on an (H, W, 3) RGB uint8 image."""
    r, g, b = (image[..., k].astype(np.float64) for k in range(3))
    rg = np.absolute(r - g)
    yb = np.absolute(0.5 * (r + g) - b)
    return float(np.sqrt(np.std(rg) ** 2 + np.std(yb) ** 2) + 0.3 * np.sqrt(np.mean(rg) ** 2 + np.mean(yb) ** 2))


def test_abs_form_matches_the_tutorial_code_and_differs_from_hasler():
    images = photo_batch(4, 21, 34, seed=3)
    values = colorfulness(images, "abs")
    expected = [_tutorial_colorfulness(hwc(x)) for x in images]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-12, atol=1e-12)
    # Another number wherever an opponent difference changes sign within the image: half pure red,
    # half pure green has |R - G| = 255 everywhere (no spread, mean 255) where the signed form has spread 255.
    red_green = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    red_green[:, 0, :2] = 255
    red_green[:, 1, 2:] = 255
    assert colorfulness(red_green, "abs").item() == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-14)
    assert colorfulness(red_green).item() == pytest.approx(255 + 0.3 * 127.5, rel=1e-14)
    gt = photo_batch(4, 21, 34, seed=7)
    expected_diff = [abs(_tutorial_colorfulness(hwc(p)) - _tutorial_colorfulness(hwc(g))) for p, g in zip(images, gt)]
    np.testing.assert_allclose(colorfulness_diff(images, gt, "abs").numpy(), expected_diff, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="hasler, abs"):
        colorfulness(images, "signed")


@pytest.mark.parametrize("form", ["hasler", "abs"])
def test_set_diff_is_the_difference_of_means(form):
    from bench import create_metric

    pred, gt = photo_batch(5, 16, 16, seed=1), photo_batch(5, 16, 16, seed=2)
    direct = abs(np.mean([_published_colorfulness(hwc(p)) if form == "hasler" else _tutorial_colorfulness(hwc(p))
                          for p in pred]) -
                 np.mean([_published_colorfulness(hwc(g)) if form == "hasler" else _tutorial_colorfulness(hwc(g))
                          for g in gt]))
    metric = create_metric("colorfulness_set_diff", colorfulness_form=form)
    metric.update(pred=pred[:2], gt=gt[:3])
    metric.update(pred=pred[2:], gt=gt[3:])
    assert metric.compute() == pytest.approx(direct, rel=1e-12, abs=1e-12)
    # The per-image delta averages |differences|, so it is at least the set-level one.
    assert colorfulness_diff(pred, gt, form).mean().item() >= metric.compute() - 1e-12
    assert colorfulness_set_diff([1.0, 3.0], [2.0]) == 0.0  # over and under cancel at set level
