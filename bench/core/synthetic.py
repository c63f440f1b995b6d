"""Synthetic references: the target under a thin-plate-spline warp and an appearance change.

Every random choice comes from ``numpy.random.default_rng(tps_seed)``, and rendering runs in
float64 on the CPU, so a ``tps_seed`` stored in a split re-renders the same bytes.

The recipe (:class:`SyntheticRecipe`, defaults documented there):

* warp: a 3 x 3 grid of control points over the image ([-1, 1] coordinates); the four corners
  stay fixed (the frame stays filled), the other five move by ``U(-jitter, jitter)`` in x and y;
  kornia's TPS (``get_tps_transform`` + ``warp_image_tps``, ``align_corners=True`` so zero
  jitter is the exact identity), border padding;
* appearance: brightness ``+U(-b, b)``, contrast ``x U(1-c, 1+c)``, saturation
  ``x U(1-s, 1+s)``, hue ``+U(-h, h)`` radians (kornia.enhance, in that order).

An object's mask goes through the same warp (threshold 0.5).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from .lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["SyntheticRecipe", "DEFAULT_RECIPE", "derive_tps_seed", "render_synthetic", "warp_mask"]


@dataclass(frozen=True)
class SyntheticRecipe:
    jitter: float = 0.15
    brightness: float = 0.1
    contrast: float = 0.15
    saturation: float = 0.2
    hue: float = 0.3

    def record(self) -> dict:
        return asdict(self)


DEFAULT_RECIPE = SyntheticRecipe()

_GRID = np.array([[x, y] for y in (-1.0, 0.0, 1.0) for x in (-1.0, 0.0, 1.0)])
_CORNERS = np.array([0, 2, 6, 8])


def derive_tps_seed(seed: int, *key: object) -> int:
    """A 60-bit seed from the split's seed and a key (target id, object id, index): independent
    of the order in which pairs are built."""
    text = "/".join(str(part) for part in (seed, *key))
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:15], 16)


@dataclass(frozen=True)
class _Draw:
    destination: np.ndarray
    brightness: float
    contrast: float
    saturation: float
    hue: float


def _draw(tps_seed: int, recipe: SyntheticRecipe) -> _Draw:
    rng = np.random.default_rng(tps_seed)
    offsets = rng.uniform(-recipe.jitter, recipe.jitter, size=_GRID.shape)
    offsets[_CORNERS] = 0.0
    return _Draw(_GRID + offsets, rng.uniform(-recipe.brightness, recipe.brightness),
                 rng.uniform(1 - recipe.contrast, 1 + recipe.contrast),
                 rng.uniform(1 - recipe.saturation, 1 + recipe.saturation), rng.uniform(-recipe.hue, recipe.hue))


def _warp(image: torch.Tensor, destination: np.ndarray) -> torch.Tensor:
    from kornia.geometry.transform import get_tps_transform, warp_image_tps

    src = torch.from_numpy(_GRID)[None]
    dst = torch.from_numpy(destination)[None]
    kernel_weights, affine_weights = get_tps_transform(dst, src)
    return warp_image_tps(image, src, kernel_weights, affine_weights, align_corners=True, padding_mode="border")


def render_synthetic(rgb: np.ndarray, tps_seed: int, recipe: SyntheticRecipe = DEFAULT_RECIPE) -> np.ndarray:
    """The synthetic reference of a uint8 ``(H, W, 3)`` image for ``tps_seed``."""
    import kornia.enhance as E

    draw = _draw(tps_seed, recipe)
    with torch.no_grad():
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].double() / 255.0
        image = _warp(image, draw.destination)
        image = E.adjust_brightness(image, draw.brightness)
        image = E.adjust_contrast(image, draw.contrast)
        image = E.adjust_saturation(image, draw.saturation)
        image = E.adjust_hue(image, draw.hue)
        out = (image[0].permute(1, 2, 0).clamp(0, 1) * 255.0).round().to(torch.uint8)
    return out.numpy()


def warp_mask(mask: np.ndarray, tps_seed: int, recipe: SyntheticRecipe = DEFAULT_RECIPE) -> np.ndarray:
    """An object's bool ``(H, W)`` mask under the same warp as :func:`render_synthetic`."""
    draw = _draw(tps_seed, recipe)
    with torch.no_grad():
        warped = _warp(torch.from_numpy(mask.astype(np.float64))[None, None], draw.destination)
    return warped[0, 0].numpy() >= 0.5
