import numpy as np
import pytest
from PIL import Image

from bench.core.errors import ColorbenchError
from bench.eval_prep import ImagePrep, center_crop_resize, lab_roundtrip, squash
from tests.helpers import colour_image


def _bilinear_loop(image: np.ndarray, size: int) -> np.ndarray:
    """cv2.resize(INTER_LINEAR) written out: half-pixel centres, edge clamped, no antialiasing (float)."""
    height, width = image.shape[:2]
    out = np.empty((size, size, 3), np.float64)
    for i in range(size):
        y = min(max((i + 0.5) * height / size - 0.5, 0), height - 1)
        y0 = int(np.floor(y))
        y1, fy = min(y0 + 1, height - 1), y - y0
        for j in range(size):
            x = min(max((j + 0.5) * width / size - 0.5, 0), width - 1)
            x0 = int(np.floor(x))
            x1, fx = min(x0 + 1, width - 1), x - x0
            top = (1 - fx) * image[y0, x0] + fx * image[y0, x1]
            bottom = (1 - fx) * image[y1, x0] + fx * image[y1, x1]
            out[i, j] = (1 - fy) * top + fy * bottom
    return out


@pytest.mark.parametrize("height, width, size", [(37, 53, 16), (20, 12, 32), (16, 16, 16)])
def test_squash_is_bilinear_without_antialiasing(height, width, size):
    image = colour_image(0, width, height)
    out = squash(image, size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(np.float64) - _bilinear_loop(image.astype(np.float64), size)).max() <= 0.5 + 1e-4


@pytest.mark.parametrize("height, width", [(37, 53), (60, 41), (32, 32)])
def test_center_crop_resize_equals_torchvisions_transforms_on_pil(height, width):
    from torchvision import transforms

    image = colour_image(1, width, height)
    side = min(height, width)
    expected = np.asarray(transforms.Compose([transforms.CenterCrop(side), transforms.Resize(24)])(
        Image.fromarray(image)))
    assert np.array_equal(center_crop_resize(image, 24), expected)


def test_lab_roundtrip_is_ct2s_conversion():
    from skimage import color

    image = colour_image(2, 40, 30)
    expected = (255 * np.clip(color.lab2rgb(color.rgb2lab(image).astype(np.float32)), 0, 1)).astype(np.uint8)
    out = lab_roundtrip(image)
    assert np.array_equal(out, expected)
    assert 0 < np.abs(out.astype(int) - image).max() <= 2  # truncation moves values by a level or two


def test_prep_applies_to_both_sides_and_checks_sizes():
    gt = colour_image(3, 50, 40)
    item = {"pair_id": "p1", "pred": squash(gt, 20), "gt": gt, "reference": None}
    prepared = ImagePrep("squash", 20, gt_roundtrip=True).apply(item)
    assert prepared["pred"].shape == prepared["gt"].shape == (20, 20, 3)
    assert np.array_equal(prepared["gt"], lab_roundtrip(squash(gt, 20)))
    assert prepared["reference"] is None and item["gt"] is gt  # the decoded item is not modified
    with pytest.raises(ColorbenchError, match="output p1.png is 20x20 but its target is 50x40"):
        ImagePrep().apply(item)
    assert ImagePrep("squash", 20).record() != ImagePrep("center_crop_resize", 20).record()
