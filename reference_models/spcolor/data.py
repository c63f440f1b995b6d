"""What a DataLoader worker computes for one SPColor training sample: pure functions on numpy images.

:func:`make_training_sample` ``(target_rgb, reference_rgb, rng, config) -> dict of tensors``:

1. with probability ``self_reference_probability`` (0.2) the reference is the target's own colour
   image, flipped (probability 0.5) and slightly cropped (:func:`self_reference_view`: a random crop
   of 98-100% of the area with aspect ratio 0.8-1.2, torchvision's ``RandomResizedCrop`` sampling,
   as released);
2. both images to ``image_size`` (256) as the released ``CenterPad``: the short side resized to 256
   (skimage ``resize``, anti-aliased, reflect mode), the long side centre-cropped
   (:func:`resize_and_center_crop`); the self-reference crop is resized to 256 x 256 directly (the
   released code resizes it to 480 x 480, then to 256: one resampling less here);
3. CIELAB with skimage (``rgb2lab``): L in [0, 100], raw ab (the released L - 50 centring happens in
   the model, where it is the colour network's input);
4. ``target_l_input``: the target L plus N(0, ``luminance_noise``^2) noise (2), what the networks see
   in training (the released code adds it to the L of both the correspondence VGG and the colour
   network); the semantic prior gets the clean L (made gray) and the losses the clean ``target_lab``.

The sample holds the target's colour only in ``target_lab``, which only the losses read: the model
takes ``target_l_input`` (and the clean L for its prior) and nothing else of the target. (The
released loader instead gave the network a *grayscale* ground truth and STEGO the colour target; not
reproduced.)

Keys and shapes (``S = image_size``), all float32 unless said: ``target_lab`` (3, S, S),
``target_l_input`` (1, S, S), ``reference_lab`` (3, S, S), ``reference_rgb`` (3, S, S) in [0, 1],
``self_reference`` () bool. PyTorch's default collate stacks them into a batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from skimage.transform import resize

from bench.core.color import rgb_to_lab
from reference_models.layers.colorize_inputs import check_rgb_array
from reference_models.spcolor.config import SPColorConfig

__all__ = ["add_luminance_noise", "make_training_sample", "resize_and_center_crop", "resize_short_side",
           "self_reference_view", "short_side_shape", "to_lab_tensor"]


def _resize_uint8(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = resize(image, shape, mode="reflect", preserve_range=True, anti_aliasing=True)
    # rounded (the released code truncates with astype, half a level darker on average)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def short_side_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The released ``CenterPad``'s resized shape: the short side to ``size``, the other
    ``int(side * size / short)``."""
    scale = size / min(height, width)
    return max(size, int(height * scale)), max(size, int(width * scale))


def resize_short_side(image: np.ndarray, size: int = 256) -> np.ndarray:
    """The first half of :func:`resize_and_center_crop` (what a training view caches): uint8 RGB
    with its short side at ``size``; cropping it gives exactly ``resize_and_center_crop(image)``."""
    image = check_rgb_array(image, "image", uint8_only=True)
    shape = short_side_shape(*image.shape[:2], size)
    return image.copy() if shape == image.shape[:2] else _resize_uint8(image, shape)


def resize_and_center_crop(image: np.ndarray, size: int = 256) -> np.ndarray:
    """The released ``CenterPad``: short side to ``size`` (``int(side * size / short)``), centre crop.

    Args:
        image: uint8 RGB :math:`(H, W, 3)`.
        size: output side.

    Returns:
        uint8 :math:`(size, size, 3)`.
    """
    resized = resize_short_side(image, size)
    top, left = (resized.shape[0] - size) // 2, (resized.shape[1] - size) // 2
    return resized[top:top + size, left:left + size].copy()


def self_reference_view(image: np.ndarray, rng: np.random.Generator, size: int = 256, flip: float = 0.5,
                        scale: tuple[float, float] = (0.98, 1.0),
                        ratio: tuple[float, float] = (0.8, 1.2)) -> np.ndarray:
    """The sample's own colour image as its reference: flipped, slightly cropped, resized to ``size``.

    The crop is sampled as torchvision's ``RandomResizedCrop.get_params`` (10 tries of an area in
    ``scale`` and a log-uniform aspect ratio in ``ratio``, else the largest centred crop whose
    ratio is clamped to ``ratio``), with ``rng``.

    Returns:
        uint8 :math:`(size, size, 3)`.
    """
    image = check_rgb_array(image, "image", uint8_only=True)
    if rng.random() < flip:
        image = image[:, ::-1]
    h, w = image.shape[:2]
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        cw, ch = round(math.sqrt(target_area * aspect)), round(math.sqrt(target_area / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            break
    else:
        in_ratio = w / h
        if in_ratio < ratio[0]:
            cw, ch = w, round(w / ratio[0])
        elif in_ratio > ratio[1]:
            ch, cw = h, round(h * ratio[1])
        else:
            cw, ch = w, h
        top, left = (h - ch) // 2, (w - cw) // 2
    return _resize_uint8(np.ascontiguousarray(image[top:top + ch, left:left + cw]), (size, size))


def to_lab_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 RGB :math:`(H, W, 3)` -> float32 CIELAB :math:`(3, H, W)` (skimage ``rgb2lab``)."""
    lab = rgb_to_lab(check_rgb_array(image, "image", uint8_only=True)).astype(np.float32)
    return torch.from_numpy(lab).permute(2, 0, 1).contiguous()


def add_luminance_noise(lightness: torch.Tensor, rng: np.random.Generator, sigma: float = 2.0) -> torch.Tensor:
    """``L + N(0, sigma^2)`` per pixel (not clipped, as released), drawn from ``rng``."""
    if sigma == 0:
        return lightness.clone()
    noise = rng.standard_normal(tuple(lightness.shape)).astype(np.float32) * sigma
    return lightness + torch.from_numpy(noise).to(lightness.dtype)


def make_training_sample(target_rgb: np.ndarray, reference_rgb: np.ndarray, rng: np.random.Generator,
                         config: SPColorConfig | None = None) -> dict[str, torch.Tensor]:
    """One training sample (see the module docstring for the steps and the keys).

    Args:
        target_rgb: uint8 RGB :math:`(H, W, 3)`: the colour ground truth.
        reference_rgb: uint8 RGB :math:`(H', W', 3)`: the retrieved reference (unused for a
            self-reference sample).
        rng: the worker's generator (draws: self-reference?, flip, crop, noise).
        config: the settings (default: the paper's).
    """
    config = config or SPColorConfig()
    size = config.image_size
    check_rgb_array(target_rgb, "target_rgb", uint8_only=True)
    check_rgb_array(reference_rgb, "reference_rgb", uint8_only=True)
    self_reference = bool(rng.random() < config.self_reference_probability)
    target = resize_and_center_crop(target_rgb, size)
    if self_reference:
        reference = self_reference_view(target_rgb, rng, size, config.self_reference_flip,
                                        config.self_reference_scale, config.self_reference_ratio)
    else:
        reference = resize_and_center_crop(reference_rgb, size)
    target_lab = to_lab_tensor(target)
    return {
        "target_lab": target_lab,
        "target_l_input": add_luminance_noise(target_lab[:1], rng, config.luminance_noise),
        "reference_lab": to_lab_tensor(reference),
        "reference_rgb": torch.from_numpy(reference).permute(2, 0, 1).float().div(255.0),
        "self_reference": torch.tensor(self_reference),
    }
