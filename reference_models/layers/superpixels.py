"""Superpixel label maps for (masked) super-attention: SLIC on the whole image, MaskSLIC inside a mask.

Super-attention pools deep features over superpixels computed on the *image*, one label map per
encoder level, each at that level's feature resolution. The parameters are those of the SA
authors' released preprocessing (``utils.img_segments_only`` of
``hernan0930/Super-attention-for-exemplar-based-image-colorization``):

* level ``i`` (0-based) works on the level-0 image resized by ``1 / 2**i`` with
  :func:`skimage.transform.resize` (order 1, anti-aliased when shrinking: skimage's defaults);
* ``slic(image_i, n_segments=int(base_segments / 2**i), compactness=0.1, sigma=0,
  channel_axis=None)`` on the single-channel image (the target's ``rgb2gray``, the reference's
  ``L / 100``), ``base_segments = 224``;
* SA uses levels 0-2 (224, 112, 56 at a 224 input); MSA adds level 3 (28 x 28, 28 segments).

With a mask (MSA's MaskSLIC, skimage ``slic(..., mask=)``), the mask is resized to each level with
nearest-neighbour sampling (a mask must stay binary; skimage ``resize(order=0,
anti_aliasing=False)``) and SLIC runs inside it.

Label conventions (the layer in :mod:`reference_models.layers.super_attention` relies on them):

* skimage labels start at 1 and are consecutive, so a map holds labels ``1..N`` (N may exceed
  ``n_segments`` a little: connectivity enforcement splits some segments);
* with a mask, every pixel outside it gets label 0; label 0 therefore means "no superpixel";
* a level whose resized mask is empty is all zeros (the object vanished at that scale);
* mask pixels skimage leaves unlabelled (it does so for a one-pixel mask) become one extra
  superpixel, so inside the mask the label is always ``>= 1``.

Segmenting dominates a training epoch's preprocessing (about 30 ms per image for four levels at
224 on one CPU core, nearly all of it in level 0's SLIC), and the same image recurs every epoch, so
:func:`superpixel_levels` can cache its result on disk (``cache=True``) keyed by the image's
content hash, the mask's, every parameter and the skimage version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import skimage
import torch
from skimage.segmentation import slic
from skimage.transform import resize

from bench.core.cache import cache_key, load_arrays, save_arrays, sha256_bytes
from bench.core.settings import settings_from_dict
from reference_models.layers.checks import check_array

__all__ = [
    "SuperpixelConfig",
    "stack_levels",
    "superpixel_cache_key",
    "superpixel_levels",
]


@dataclass(frozen=True)
class SuperpixelConfig:
    """How the label maps are computed (a model config's nested ``superpixels``; the defaults are the
    released SA code's parameters at MSA's four levels).

    Attributes:
        levels: number of encoder levels (SA's released code: 3; MSA: 4).
        base_segments: SLIC's ``n_segments`` at level 0; level ``i`` asks for
            ``int(base_segments / 2**i)`` (the released code: 224, i.e. one segment per 224 pixels
            at 224 x 224).
        compactness: SLIC compactness (released code: 0.1, i.e. intensity dominates distance).
        sigma: Gaussian pre-smoothing of SLIC (released code: 0, none).
        max_num_iter: SLIC iterations (skimage's default, which the released code keeps).
    """

    levels: int = 4
    base_segments: int = 224
    compactness: float = 0.1
    sigma: float = 0.0
    max_num_iter: int = 10

    def __post_init__(self) -> None:
        if self.levels < 1:
            raise ValueError(f"levels must be >= 1; got {self.levels}")
        if int(self.base_segments / 2 ** (self.levels - 1)) < 1:
            raise ValueError(f"base_segments={self.base_segments} leaves no segment at level {self.levels - 1}")
        if self.compactness <= 0:
            raise ValueError(f"compactness must be > 0; got {self.compactness}")

    @classmethod
    def from_dict(cls, values: dict | None) -> SuperpixelConfig:
        """A config from user settings; a mistyped key is an error, never silently ignored."""
        return settings_from_dict(cls, values, "superpixel setting")

    def n_segments(self, level: int) -> int:
        """SLIC's ``n_segments`` at ``level`` (the released code's ``int(224 / 2**i)``)."""
        return int(self.base_segments / 2**level)


def _check_inputs(image: np.ndarray, mask: np.ndarray | None, levels: int) -> tuple[np.ndarray, np.ndarray | None]:
    check_array(image, "image", "H W", "float")  # one channel: gray in [0, 1] or L / 100
    factor = 2 ** (levels - 1)
    if image.shape[0] % factor or image.shape[1] % factor:
        raise ValueError(f"image sides must be divisible by 2**(levels - 1) = {factor} so every level has the "
                         f"feature map's size; got {image.shape}")
    if mask is not None:
        check_array(mask, "mask")
        if mask.shape != image.shape:
            raise ValueError(f"mask must have the image's shape (H, W) = {image.shape}; got {mask.shape}")
        mask = mask.astype(bool, copy=False)
    return np.ascontiguousarray(image), mask


def _segment(image: np.ndarray, mask: np.ndarray | None, config: SuperpixelConfig) -> list[np.ndarray]:
    height, width = image.shape
    labels = []
    for level in range(config.levels):
        size = (height // 2**level, width // 2**level)
        # Level 0 is the image itself: skimage's resize to the same shape is an exact identity
        # (checked), so it is skipped; lower levels use the released code's resize call.
        image_i = image if level == 0 else resize(image, size)
        mask_i = None
        if mask is not None:
            mask_i = mask if level == 0 else resize(mask, size, order=0, anti_aliasing=False)
            if not mask_i.any():
                labels.append(np.zeros(size, np.int64))  # the object vanished at this scale
                continue
        level_labels = slic(image_i, n_segments=config.n_segments(level), compactness=config.compactness,
                            sigma=config.sigma, max_num_iter=config.max_num_iter, channel_axis=None,
                            mask=mask_i).astype(np.int64, copy=False)
        if mask_i is not None:
            orphans = mask_i & (level_labels == 0)
            if orphans.any():
                # skimage leaves a mask of a single pixel unlabelled; such pixels become one more
                # superpixel so that "inside the mask" always means "label >= 1".
                level_labels[orphans] = level_labels.max() + 1
        labels.append(level_labels)
    return labels


def _array_digest(array: np.ndarray) -> str:
    # Shape and dtype are part of the content: the same bytes as another shape are another image.
    header = f"{array.dtype.str}{array.shape}".encode("ascii")
    return sha256_bytes(header + np.ascontiguousarray(array).tobytes())


def superpixel_cache_key(image: np.ndarray, mask: np.ndarray | None = None,
                         config: SuperpixelConfig = SuperpixelConfig()) -> str:
    """The cache key of :func:`superpixel_levels`: content hashes of ``image`` and ``mask`` (as
    given), every field of ``config`` and the skimage version (SLIC's output depends on it)."""
    image, mask = _check_inputs(image, mask, config.levels)
    return _cache_key(image, mask, config)


def _cache_key(image: np.ndarray, mask: np.ndarray | None, config: SuperpixelConfig) -> str:
    return cache_key("superpixels", image=_array_digest(image), mask=None if mask is None else _array_digest(mask),
                     config=asdict(config), skimage=skimage.__version__)


def superpixel_levels(image: np.ndarray, mask: np.ndarray | None = None, config: SuperpixelConfig = SuperpixelConfig(),
                      *, cache: bool = False) -> list[np.ndarray]:
    """SLIC (or MaskSLIC inside ``mask``) label maps of one image, one per encoder level.

    Args:
        image: ``(H, W)`` float: the image at the network's input size (224 x 224 in both papers),
            one channel: the target's ``rgb2gray`` or the reference's ``L / 100`` (SLIC rescales
            the values to [0, 1] itself, so the scale does not matter, only the content). H and W
            must be divisible by ``2**(levels - 1)``.
        mask: optional ``(H, W)`` bool (or 0/1) object mask: MaskSLIC inside it, label 0 outside.
        config: parameters (default: four levels, the released parameters; a model's config holds its own).
        cache: read/write the result in colorbench's on-disk cache
            (:func:`bench.core.cache.cache_dir`), keyed by :func:`superpixel_cache_key`.

    Returns:
        ``config.levels`` int64 arrays; level ``i`` has shape ``(H / 2**i, W / 2**i)`` and holds
        labels ``1..N_i`` inside the mask (everywhere without one) and 0 outside it.

    Raises:
        TypeError: ``image`` (or ``mask``) is not a numpy array, or ``image`` is not float.
        ValueError: wrong shapes, or sides not divisible by ``2**(levels - 1)``.

    Example:
        >>> image = np.linspace(0, 1, 64 * 64).reshape(64, 64)
        >>> [labels.shape for labels in superpixel_levels(image, config=SuperpixelConfig(levels=3, base_segments=16))]
        [(64, 64), (32, 32), (16, 16)]
    """
    image, mask = _check_inputs(image, mask, config.levels)
    if not cache:
        return _segment(image, mask, config)
    key = _cache_key(image, mask, config)
    stored = load_arrays(key)
    if stored is not None and all(f"level{i}" in stored for i in range(config.levels)):
        return [stored[f"level{i}"].astype(np.int64) for i in range(config.levels)]
    labels = _segment(image, mask, config)
    # The smallest integer type that holds the labels (uint8 for up to 255 superpixels, the usual
    # case at 224): about 67 kB per image for four levels at 224 instead of 535 kB as int64.
    compact = {f"level{i}": level.astype(np.min_scalar_type(int(level.max()))) for i, level in enumerate(labels)}
    save_arrays(key, compact,
                {"kind": "superpixels", "shape": list(image.shape), "masked": mask is not None,
                 "config": asdict(config), "skimage": skimage.__version__})
    return labels


def stack_levels(samples: Sequence[Sequence[np.ndarray]]) -> list[torch.Tensor]:
    """Batch per-sample label maps level by level (a DataLoader ``collate`` helper).

    Args:
        samples: ``B`` sequences of ``L`` label maps each, as :func:`superpixel_levels` returns.

    Returns:
        ``L`` int64 tensors, level ``i`` of shape ``(B, H_i, W_i)``.
    """
    if not samples:
        raise ValueError("samples must hold at least one sample's label maps")
    levels = len(samples[0])
    if any(len(sample) != levels for sample in samples):
        raise ValueError(f"every sample must have {levels} levels; got {[len(s) for s in samples]}")
    return [torch.from_numpy(np.stack([np.asarray(s[i], dtype=np.int64) for s in samples])) for i in range(levels)]
