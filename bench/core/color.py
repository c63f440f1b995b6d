"""RGB <-> CIELAB for numpy images and batched torch tensors, and the L/ab scalings models use.

Conventions (the same as scikit-image and kornia, so both paths agree):

* sRGB with the D65 white point and the 2 degree observer; L in [0, 100], a and b roughly
  in [-128, 127].
* numpy images are channel-last ``(..., H, W, 3)``: ``uint8`` in [0, 255] or float in [0, 1].
  The numpy path is :func:`skimage.color.rgb2lab` / :func:`skimage.color.lab2rgb`.
* torch tensors are channel-first ``(*, 3, H, W)`` float in [0, 1]; the torch path is
  :func:`kornia.color.rgb_to_lab` / :func:`kornia.color.lab_to_rgb` and runs on any device.

Lab -> RGB clips to [0, 1], as both libraries do (out-of-gamut colours are clipped).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Union

import numpy as np

from .lazy import lazy_import

torch = lazy_import("torch")
kornia_color = lazy_import("kornia.color")
skimage_color = lazy_import("skimage.color")

Image = Union[np.ndarray, "torch.Tensor"]

__all__ = [
    "LabScaling",
    "LAB_SCALINGS",
    "rgb_to_lab",
    "uint8_rgb_to_lab",
    "lab_to_rgb",
    "rgb_to_gray",
    "lab_to_uint8_rgb",
    "normalize_lab",
    "denormalize_lab",
]


def _check_numpy_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim < 3 or image.shape[-1] != 3:
        raise ValueError(f"numpy images must have shape (..., H, W, 3); got {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"numpy images must be uint8 or float in [0, 1]; got dtype {image.dtype}")
    return image


def _check_tensor(image: torch.Tensor) -> torch.Tensor:
    if image.ndim < 3 or image.shape[-3] != 3:
        raise ValueError(f"tensors must have shape (*, 3, H, W); got {tuple(image.shape)}")
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    if not image.is_floating_point():
        raise TypeError(f"tensors must be uint8 or float in [0, 1]; got dtype {image.dtype}")
    return image


def _without_autocast(image: torch.Tensor) -> torch.autocast:
    # kornia runs the colour matrices as einsum (CPU) or conv2d (CUDA), which an enclosing bf16
    # autocast runs in bfloat16 even for float32 images (measured on random colours: RGB off by
    # 0.078, Lab by 2.6); with autocast off the conversion runs in the image's dtype (kornia itself
    # computes half-precision images in float32 and rounds the result back). Not
    # reference_models.layers.precision.autocast_off: bench is the core and imports no model code.
    return torch.autocast(image.device.type, enabled=False)


def rgb_to_lab(image: Image) -> Image:
    """sRGB -> CIELAB.

    Args:
        image: numpy ``(..., H, W, 3)`` (uint8, or float in [0, 1]) or tensor ``(*, 3, H, W)``
            (uint8, or float in [0, 1]).

    Returns:
        Lab in the same layout: float64 for numpy, the input's float dtype for tensors
        (float32 for uint8 input).
    """
    if isinstance(image, torch.Tensor):
        image = _check_tensor(image)
        with _without_autocast(image):
            return kornia_color.rgb_to_lab(image)
    return skimage_color.rgb2lab(_check_numpy_rgb(np.asarray(image)))


#: skimage's sRGB -> XYZ matrix and D65 (2 degree) white point.
_XYZ_FROM_RGB = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
_D65_WHITE = (0.95047, 1.0, 1.08883)


def uint8_rgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(*, 3, H, W)`` RGB -> float64 CIELAB, fast: the sRGB curve is a 256-entry lookup
    table, then skimage's matrix, white point and ``f``. Equal to :func:`rgb_to_lab` (and to
    skimage) up to float64 rounding; for metrics that convert many uint8 images."""
    if images.dtype != torch.uint8 or images.ndim < 3 or images.shape[-3] != 3:
        raise ValueError(f"expected uint8 images of shape (*, 3, H, W); got {images.dtype} {tuple(images.shape)}")
    lut = torch.from_numpy(_LINEAR_LUT).to(images.device)
    linear = lut.index_select(0, images.flatten().long()).view(*images.shape[:-2], -1)  # (*, 3, HW)
    # The white point folded into the matrix rows; one matmul (faster than einsum on CPU).
    matrix = torch.tensor(np.divide(_XYZ_FROM_RGB, np.array(_D65_WHITE)[:, None]), dtype=torch.float64,
                          device=images.device)
    xyz = (matrix @ linear).view(images.shape)
    f = torch.where(xyz > 0.008856, xyz.pow(1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f[..., 0, :, :], f[..., 1, :, :], f[..., 2, :, :]
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: Image) -> Image:
    """CIELAB -> sRGB float in [0, 1], clipped; same layout rules as :func:`rgb_to_lab`."""
    if isinstance(lab, torch.Tensor):
        lab = _check_tensor(lab)
        with _without_autocast(lab):
            return kornia_color.lab_to_rgb(lab, clip=True)
    lab = np.asarray(lab, dtype=np.float64)
    if lab.ndim < 3 or lab.shape[-1] != 3:
        raise ValueError(f"numpy Lab images must have shape (..., H, W, 3); got {lab.shape}")
    with warnings.catch_warnings():
        # skimage warns when very saturated Lab values give a negative Z; it clips them, as
        # kornia does silently. Both paths must behave the same, so the warning is noise here.
        warnings.filterwarnings("ignore", message=".*negative Z values.*")
        return skimage_color.lab2rgb(lab)


def lab_to_uint8_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (numpy, channel-last) -> sRGB uint8, rounded to the nearest level."""
    return np.clip(np.rint(lab_to_rgb(lab) * 255.0), 0, 255).astype(np.uint8)


#: sRGB -> linear RGB for each uint8 level (the sRGB transfer curve, as skimage's rgb2xyz).
_LINEAR_LUT = np.where(np.arange(256) / 255.0 > 0.04045, ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4,
                       np.arange(256) / 255.0 / 12.92)
#: The Y row of skimage's sRGB -> XYZ matrix: relative luminance from linear RGB.
_LUMINANCE_WEIGHTS = np.array([0.212671, 0.715160, 0.072169])


def rgb_to_gray(image: np.ndarray) -> np.ndarray:
    """The grayscale version of an RGB image that every colorization method receives.

    It keeps the image's CIELAB lightness L and drops all colour: each pixel becomes the
    neutral sRGB gray of the same L, returned as uint8 ``(H, W, 3)`` with three equal channels.
    L depends on the relative luminance Y alone (``L = 116 f(Y) - 16``), so the neutral gray of
    the same L is simply Y through the sRGB transfer curve; computing it that way (a lookup table
    and one weighted sum) is ~20x faster than a full Lab round trip and agrees with it to
    within float rounding. Rendering ``(L, 0, 0)`` through Lab -> sRGB instead would leave the
    channels a level apart, because skimage's D65 white and its sRGB matrix disagree in the
    fifth digit.
    """
    image = np.asarray(image)
    if image.ndim < 3 or image.shape[-1] != 3:
        raise ValueError(f"numpy images must have shape (..., H, W, 3); got {image.shape}")
    if image.dtype == np.uint8:
        linear = _LINEAR_LUT[image]
    else:
        rgb = _check_numpy_rgb(image)
        linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    luminance = linear @ _LUMINANCE_WEIGHTS
    srgb = np.where(luminance > 0.0031308, 1.055 * np.power(np.maximum(luminance, 0), 1 / 2.4) - 0.055,
                    12.92 * luminance)  # skimage's xyz2rgb transfer curve
    gray = np.clip(np.rint(srgb * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


@dataclass(frozen=True)
class LabScaling:
    """How a network sees Lab: ``L_net = (L - l_center) / l_scale``, ``ab_net = ab / ab_scale``.

    Attributes:
        name: the preset's name.
        l_center: subtracted from L (0..100) before scaling.
        l_scale: L is divided by this after centring.
        ab_scale: a and b are divided by this; a ``tanh`` output times ``ab_scale`` gives ab.
    """

    name: str
    l_center: float
    l_scale: float
    ab_scale: float


#: The scalings of the reference models (see the papers' released code).
LAB_SCALINGS = {
    # Super-attention / MSA: L / 100 in [0, 1]; ab / 127; the decoder ends in tanh * 127.
    "msa": LabScaling("msa", l_center=0.0, l_scale=100.0, ab_scale=127.0),
    # SPColor (after Zhang et al. 2019): L - 50; ab unscaled; the colour net ends in tanh * 128.
    "spcolor": LabScaling("spcolor", l_center=50.0, l_scale=1.0, ab_scale=1.0),
    # A symmetric [-1, 1] range for new models: (L - 50) / 50, ab / 128.
    "unit": LabScaling("unit", l_center=50.0, l_scale=50.0, ab_scale=128.0),
}


def _scaling(scheme: str | LabScaling) -> LabScaling:
    if isinstance(scheme, LabScaling):
        return scheme
    try:
        return LAB_SCALINGS[scheme]
    except KeyError:
        raise ValueError(f"unknown Lab scaling {scheme!r}; choose one of {sorted(LAB_SCALINGS)}") from None


def normalize_lab(lab: torch.Tensor, scheme: str | LabScaling = "msa") -> tuple[torch.Tensor, torch.Tensor]:
    """Split a Lab tensor ``(*, 3, H, W)`` into the network's ``(L, ab)`` of shapes
    ``(*, 1, H, W)`` and ``(*, 2, H, W)``, scaled by ``scheme`` (a name in :data:`LAB_SCALINGS`)."""
    s = _scaling(scheme)
    lab = _check_tensor(lab)
    return (lab[..., :1, :, :] - s.l_center) / s.l_scale, lab[..., 1:, :, :] / s.ab_scale


def denormalize_lab(l_net: torch.Tensor, ab_net: torch.Tensor, scheme: str | LabScaling = "msa") -> torch.Tensor:
    """Inverse of :func:`normalize_lab`: the network's ``(L, ab)`` back to a Lab tensor."""
    s = _scaling(scheme)
    return torch.cat([l_net * s.l_scale + s.l_center, ab_net * s.ab_scale], dim=-3)
