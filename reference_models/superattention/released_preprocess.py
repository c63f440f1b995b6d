"""The released super-attention test-time preprocessing and postprocessing (numpy, per image).

What ``data/data_true.py`` and the end of ``gen_color_stride_vgg16.forward`` of
``hernan0930/Super-attention-for-exemplar-based-image-colorization`` do, step by step, so that
:class:`reference_models.superattention.sa.SAGenerator` sees exactly the released code's inputs:

Target (an RGB image ``(H, W, 3)``, usually gray with three equal channels):

1. ``gray_full = rgb2gray(target)``: kept at full resolution for the output's L (NOT CIELAB L:
   skimage's ``rgb2gray`` is the luminance Y of linear-light weights applied to the *gamma-encoded*
   values, ``0.2125 R + 0.7154 G + 0.0721 B``).
2. ``gray = rgb2gray(resize(target, (224, 224)))``: skimage resize (order 1, anti-aliased when
   shrinking) of the RGB image, then gray.
3. The encoder input is the gray re-mapped to the reference's luminance statistics,
   ``std(ref_l) / std(gray) * (gray - mean(gray)) + mean(ref_l)`` (numpy's population std),
   replicated to 3 channels.
4. Superpixels (SLIC, :data:`RELEASED_SUPERPIXELS`) on ``gray``,
   not on the re-mapped image.

Reference (RGB ``(H', W', 3)``):

1. ``ref = resize(reference, (224, 224))`` (float in [0, 1]); ``ref_l = rgb2lab(ref)[..., 0] / 100``.
2. The reference encoder input is ``ref_l`` replicated to 3 channels; the value network (VGG19-BN)
   sees ``ref`` (ImageNet normalisation happens in the model); superpixels on ``ref_l``.

Output: ``ab = tanh_output * 127`` resized with skimage to ``(H, W)`` and joined with
``L = gray_full * 100``; Lab -> RGB with kornia, clipped to [0, 1]. (The released script then
saves with ``save_image(normalize=True)``, a per-image min-max stretch for display; it is not part
of the model and is not reproduced.)

Masks are an extension (the released SA has none): with masks, superpixels are MaskSLIC inside
them (masks resized to 224 with nearest-neighbour sampling), as in MSA.

This is the released model's pipeline (``SAConfig.official_compat``); an SA model trained here
colorizes from the views it trained on (:mod:`reference_models.superattention.views`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import kornia.color
import numpy as np
import torch
from skimage.color import rgb2gray, rgb2lab
from skimage.transform import resize

from reference_models.layers.colorize_inputs import check_rgb_array, resize_mask
from reference_models.layers.superpixels import SuperpixelConfig, stack_levels, superpixel_levels
from reference_models.superattention.config import SA_INPUT_SIZE, SAConfig
from reference_models.superattention.views import remap_luminance, resize_view

__all__ = ["RELEASED_SUPERPIXELS", "SAInputs", "postprocess", "preprocess_pair", "to_tensors"]

#: The released code's superpixels: three levels (224, 112, 56 at a 224 input).
RELEASED_SUPERPIXELS = SAConfig().superpixels


@dataclass
class SAInputs:
    """One preprocessed pair, as numpy arrays (float64 like the released code's skimage steps).

    Attributes:
        target_map: ``(224, 224)`` re-mapped target gray (the encoder input before replication).
        target_gray: ``(224, 224)`` target ``rgb2gray`` at 224 (the superpixels' image).
        target_gray_full: ``(H, W)`` target ``rgb2gray`` at full resolution (the output's L / 100).
        reference_l: ``(224, 224)`` reference CIELAB L / 100.
        reference_rgb: ``(224, 224, 3)`` resized reference RGB in [0, 1].
        target_labels: per level ``i``, ``(224 / 2**i, 224 / 2**i)`` int64 labels (1..N; 0 outside a mask).
        reference_labels: the same for the reference.
        masked: an object mask was given (MaskSLIC labels; the model runs masked attention).
    """

    target_map: np.ndarray
    target_gray: np.ndarray
    target_gray_full: np.ndarray
    reference_l: np.ndarray
    reference_rgb: np.ndarray
    target_labels: list[np.ndarray]
    reference_labels: list[np.ndarray]
    masked: bool = False


def preprocess_pair(target_rgb: np.ndarray, reference_rgb: np.ndarray, target_mask: np.ndarray | None = None,
                    reference_mask: np.ndarray | None = None, superpixels: SuperpixelConfig = RELEASED_SUPERPIXELS,
                    size: int = SA_INPUT_SIZE, cache: bool = False) -> SAInputs:
    """The released test-time preprocessing of one (target, reference) pair.

    Args:
        target_rgb: ``(H, W, 3)`` uint8 (as the released code reads it) or float in [0, 1].
        reference_rgb: ``(H', W', 3)`` uint8 or float in [0, 1].
        target_mask: optional ``(H, W)`` bool object mask of the target (MaskSLIC; an extension).
        reference_mask: optional ``(H', W')`` bool object mask of the reference.
        superpixels: SLIC parameters (the released ones by default).
        size: network input side (224).
        cache: cache the superpixels on disk (see :func:`~reference_models.layers.superpixels.superpixel_levels`).

    Returns:
        :class:`SAInputs`.
    """
    target_rgb = check_rgb_array(target_rgb, "target_rgb")
    reference_rgb = check_rgb_array(reference_rgb, "reference_rgb")
    t_mask = resize_mask(target_mask, target_rgb.shape, size, "target_mask")
    r_mask = resize_mask(reference_mask, reference_rgb.shape, size, "reference_mask")

    target_gray_full = rgb2gray(target_rgb)
    target_gray = rgb2gray(resize_view(target_rgb, size))
    reference_small = resize_view(reference_rgb, size)
    reference_l = rgb2lab(reference_small)[..., 0] / 100.0
    target_map = remap_luminance(target_gray, reference_l)
    return SAInputs(
        target_map=target_map,
        target_gray=target_gray,
        target_gray_full=target_gray_full,
        reference_l=reference_l,
        reference_rgb=reference_small,
        target_labels=superpixel_levels(target_gray, t_mask, superpixels, cache=cache),
        reference_labels=superpixel_levels(reference_l, r_mask, superpixels, cache=cache),
        masked=t_mask is not None or r_mask is not None,
    )


def to_tensors(inputs: Sequence[SAInputs], device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Batch preprocessed pairs into :meth:`SAGenerator.forward`'s tensors, as the released loader does.

    Every image tensor is ``dtype`` (float32 as released) and contiguous in ``(B, C, H, W)`` layout, with
    the gray images replicated into 3 real channels: convolutions pick their algorithm (and so their float
    rounding) by memory layout, and the released code feeds contiguous tensors, so a permuted or
    expanded view would differ from it in the last bits.

    Returns:
        ``(target_map, reference_l, reference_rgb, target_labels, reference_labels)``: :math:`(B, 3, S, S)`
        x 3, then two lists of 3 int64 tensors :math:`(B, S / 2^i, S / 2^i)`.
    """
    if not inputs:
        raise ValueError("to_tensors needs at least one preprocessed pair")

    def images(name: str) -> torch.Tensor:
        array = np.stack([getattr(i, name) for i in inputs])
        array = np.repeat(array[:, None], 3, axis=1) if array.ndim == 3 else array.transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(array)).to(device, dtype)

    def labels(name: str) -> list[torch.Tensor]:
        return [level.to(device) for level in stack_levels([getattr(i, name) for i in inputs])]

    return (images("target_map"), images("reference_l"), images("reference_rgb"), labels("target_labels"),
            labels("reference_labels"))


def postprocess(ab_net: torch.Tensor, gray_full: np.ndarray) -> torch.Tensor:
    """The released output step: network ab -> RGB at the target's full size.

    Args:
        ab_net: :math:`(2, h, w)` the network's tanh output in [-1, 1] (224 x 224).
        gray_full: ``(H, W)`` float target ``rgb2gray`` in [0, 1] at full resolution.

    Returns:
        :math:`(3, H, W)` float32 RGB in [0, 1] (kornia ``lab_to_rgb``, clipped), on ``ab_net``'s device.
    """
    if ab_net.ndim != 3 or ab_net.shape[0] != 2:
        raise ValueError(f"ab_net must have a shape of (2, h, w); got {tuple(ab_net.shape)}")
    height, width = gray_full.shape
    # skimage resize of the (2, h, w) float32 array, as the released code does (order 1; a
    # 2 -> 2 first axis is left alone; anti-aliased when the target is smaller than 224).
    ab = resize((ab_net * 127.0).detach().cpu().numpy(), (2, height, width))
    ab = torch.from_numpy(np.ascontiguousarray(ab)).to(ab_net.device, torch.float32)
    lightness = torch.from_numpy(gray_full).to(ab_net.device, torch.float32) * 100.0
    lab = torch.cat([lightness.unsqueeze(0), ab], dim=0)
    return kornia.color.lab_to_rgb(lab.unsqueeze(0), clip=True)[0]
