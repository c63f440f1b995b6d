"""MSA inputs: what a DataLoader worker computes per (target, reference) pair, batching, and the
output step.

Per image (:func:`prepare_view`, cached by content in training):

1. resized to ``config.input_size`` (224) with skimage ``resize`` (order 1, anti-aliased when
   shrinking) and rounded to uint8;
2. superpixels at four levels (:func:`~reference_models.layers.superpixels.superpixel_levels`) on
   its CIELAB ``L / 100`` (MSA uses CIELAB L throughout; the released SA code used ``rgb2gray`` for
   its target), MaskSLIC inside a mask (resized with nearest-neighbour sampling; label 0 outside).

Per pair (:func:`pair_sample`): CIELAB (skimage ``rgb2lab``) of both views: ``target_l = L / 100``
and ``target_ab = ab / 127`` (the network's scale, the regression target), ``reference_l``,
``reference_rgb`` (phi's input).

A sample is a dict of numpy arrays (lists of arrays for the label maps), so PyTorch's default
collate already batches it into the tensors :meth:`MSAGenerator.forward` takes; :func:`collate`
does the same into an :class:`MSABatch` (moved to a device by :func:`bench.core.device.move_to`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import kornia.color
import numpy as np
import torch
import torch.nn.functional as F
from skimage.color import rgb2lab
from skimage.transform import resize

from reference_models.layers.colorize_inputs import check_rgb_array, resize_mask
from reference_models.layers.superpixels import stack_levels, superpixel_levels
from reference_models.msa.config import MSAConfig

__all__ = ["MSABatch", "collate", "pair_sample", "postprocess_lightness", "prepare_sample", "prepare_view",
           "target_lightness"]


def prepare_view(rgb: np.ndarray, mask: np.ndarray | None = None, config: MSAConfig | None = None,
                 cache: bool = False) -> dict:
    """What MSA needs of one image, the same whether it is a target or a reference, so it is
    computed once per image (and mask) and can be cached (see :mod:`reference_models.training.data`).

    Args:
        rgb: ``(H, W, 3)`` uint8 or float in [0, 1].
        mask: optional ``(H, W)`` bool object mask (MaskSLIC inside it).
        config: :class:`MSAConfig` (its ``input_size`` and superpixel fields).
        cache: cache the superpixels on disk by content.

    Returns:
        ``{"rgb": uint8 (S, S, 3), "labels0".."labels3": int label maps (S / 2**i, S / 2**i)}``: the
        image resized to ``S = config.input_size`` (skimage, order 1, anti-aliased when shrinking,
        rounded to uint8 like any stored image), and its superpixels on that image's ``L / 100``.
    """
    config = config or MSAConfig()
    rgb = check_rgb_array(rgb, "image")
    size = config.input_size
    small = np.clip(np.rint(resize(rgb, (size, size)) * 255.0), 0, 255).astype(np.uint8)
    lightness = rgb2lab(small)[..., 0] / 100.0
    mask = resize_mask(mask, rgb.shape, size, "mask")
    labels = superpixel_levels(lightness, mask, config.superpixels, cache=cache)
    return {"rgb": small, **{f"labels{i}": level for i, level in enumerate(labels)}}


def pair_sample(target_view: dict, reference_view: dict) -> dict:
    """A training (or inference) sample from two :func:`prepare_view` results.

    Returns:
        A dict (``S`` the views' side), float32 unless stated: ``target_l`` ``(1, S, S)`` L / 100 in
        [0, 1]; ``target_ab`` ``(2, S, S)`` ab / 127 (the regression target); ``reference_l``
        ``(1, S, S)``; ``reference_rgb`` ``(3, S, S)`` in [0, 1]; ``target_labels``,
        ``reference_labels``: lists of 4 int64 arrays ``(S / 2**i, S / 2**i)``.
    """
    target_lab = rgb2lab(target_view["rgb"])
    reference_lab = rgb2lab(reference_view["rgb"])
    return {
        "target_l": (target_lab[..., 0] / 100.0)[None].astype(np.float32),
        # channel-first and contiguous (a transposed view would reach the convolutions as a
        # strided tensor, whose algorithm choice changes the float rounding)
        "target_ab": np.ascontiguousarray((target_lab[..., 1:] / 127.0).transpose(2, 0, 1), dtype=np.float32),
        "reference_l": (reference_lab[..., 0] / 100.0)[None].astype(np.float32),
        "reference_rgb": np.ascontiguousarray(reference_view["rgb"].transpose(2, 0, 1), dtype=np.float32) / 255.0,
        "target_labels": [np.asarray(target_view[f"labels{i}"], np.int64) for i in range(4)],
        "reference_labels": [np.asarray(reference_view[f"labels{i}"], np.int64) for i in range(4)],
    }


def prepare_sample(target_rgb: np.ndarray, reference_rgb: np.ndarray, target_mask: np.ndarray | None = None,
                   reference_mask: np.ndarray | None = None, config: MSAConfig | None = None,
                   cache: bool = False, cache_reference: bool | None = None) -> dict:
    """Everything the model and the loss need for one pair: :func:`pair_sample` of the two images'
    :func:`prepare_view` (``target_rgb`` is the colour ground truth in training, its L the input
    and its ab the target; the gray image at inference). ``cache`` / ``cache_reference`` cache
    each image's superpixels on disk."""
    return pair_sample(prepare_view(target_rgb, target_mask, config, cache),
                       prepare_view(reference_rgb, reference_mask, config,
                                    cache if cache_reference is None else cache_reference))


@dataclass
class MSABatch:
    """A batch of :func:`prepare_sample` results as tensors (``B`` samples, side ``S``).

    Attributes:
        target_l: :math:`(B, 1, S, S)`; target_ab: :math:`(B, 2, S, S)`; reference_l: :math:`(B, 1, S, S)`;
        reference_rgb: :math:`(B, 3, S, S)`; target_labels / reference_labels: 4 int64 tensors
        :math:`(B, S / 2^i, S / 2^i)`.
    """

    target_l: torch.Tensor
    target_ab: torch.Tensor
    reference_l: torch.Tensor
    reference_rgb: torch.Tensor
    target_labels: list[torch.Tensor]
    reference_labels: list[torch.Tensor]


def collate(samples: Sequence[dict]) -> MSABatch:
    """Stack :func:`prepare_sample` dicts into an :class:`MSABatch` (a DataLoader ``collate_fn``)."""
    if not samples:
        raise ValueError("collate needs at least one sample")

    def stack(name: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([s[name] for s in samples]))

    return MSABatch(stack("target_l"), stack("target_ab"), stack("reference_l"), stack("reference_rgb"),
                    stack_levels([s["target_labels"] for s in samples]),
                    stack_levels([s["reference_labels"] for s in samples]))


def target_lightness(target_rgb: np.ndarray) -> np.ndarray:
    """The full-resolution target's CIELAB L (skimage ``rgb2lab``), ``(H, W)`` float64: what the
    output keeps (computed where the pair is prepared, in a DataLoader worker)."""
    return rgb2lab(check_rgb_array(target_rgb, "target_rgb"))[..., 0]


def postprocess_lightness(ab_net: torch.Tensor, lightness: np.ndarray) -> torch.Tensor:
    """Network ab at the input size -> sRGB at the target's own size, with its own L.

    Args:
        ab_net: :math:`(2, S, S)` predicted ab / 127 in [-1, 1].
        lightness: ``(H, W)`` the full-resolution target's CIELAB L (:func:`target_lightness`), kept
            unchanged.

    Returns:
        :math:`(3, H, W)` float32 sRGB in [0, 1] (kornia ``lab_to_rgb``, clipped), on ``ab_net``'s device.
    """
    if ab_net.ndim != 3 or ab_net.shape[0] != 2:
        raise ValueError(f"ab_net must have a shape of (2, S, S); got {tuple(ab_net.shape)}")
    height, width = lightness.shape
    lightness = torch.from_numpy(lightness).to(ab_net.device, torch.float32)
    # Bilinear, anti-aliased when shrinking (torch, on the model's device).
    shrinking = height < ab_net.shape[-2] or width < ab_net.shape[-1]
    ab = F.interpolate(ab_net[None].float() * 127.0, size=(height, width), mode="bilinear", align_corners=False,
                       antialias=shrinking)[0]
    return kornia.color.lab_to_rgb(torch.cat([lightness[None], ab])[None], clip=True)[0]
