"""The super-attention family's inputs: one view per image, one sample per pair, one batch, and the
output step, parameterised by what differs between MSA and SA (:class:`ViewSpec`).

Per image (:func:`prepare_view`, cached by content in training): the image resized to the input
size with skimage ``resize`` (order 1, anti-aliased when shrinking) and rounded to uint8, and its
superpixels at every level (:func:`~reference_models.layers.superpixels.superpixel_levels`;
MaskSLIC inside a mask, resized with nearest-neighbour sampling, label 0 outside) on one
luminance channel:

* ``target_luminance = "lightness"`` (MSA): CIELAB ``L / 100`` for both roles, so one view serves
  an image as target and as reference;
* ``target_luminance = "gray"`` (SA, as its released code): the target's skimage ``rgb2gray``, the
  reference's ``L / 100``, so the target's view and the reference's view of one image differ.

Per pair (:func:`pair_sample`): CIELAB (skimage ``rgb2lab``) of both views; the regression target
``target_ab = ab / 127`` (the network's scale) and ``target_l = L / 100`` (the loss's lightness);
the network's ``target_input``: ``target_l`` (MSA), or the target's ``rgb2gray`` re-mapped to the
reference's luminance statistics (SA, :func:`remap_luminance`); ``reference_l``; ``reference_rgb``
(the colour network's input). Gray inputs are replicated to ``channels`` (SA's encoder takes 3).

A sample is a dict of numpy arrays (lists of arrays for the label maps); :func:`collate` stacks
samples into a :class:`SuperAttentionBatch` (moved to a device by :func:`bench.core.device.move_to`).
The same functions make the training samples and, for a model trained here, the samples it
colorizes, so it sees at inference exactly the inputs it trained on. (The released SA checkpoint
runs the released float pipeline instead: :mod:`reference_models.superattention.released_preprocess`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import kornia.color
import numpy as np
import torch
import torch.nn.functional as F
from skimage.color import rgb2gray, rgb2lab
from skimage.transform import resize

from reference_models.layers.colorize_inputs import check_rgb_array, resize_mask
from reference_models.layers.superpixels import SuperpixelConfig, stack_levels, superpixel_levels

__all__ = ["SuperAttentionBatch", "ViewSpec", "collate", "pair_sample", "postprocess_lightness", "prepare_pair",
           "prepare_view", "remap_luminance", "resize_view", "target_lightness"]

_LUMINANCES = ("lightness", "gray")


@dataclass(frozen=True)
class ViewSpec:
    """What a family member's inputs depend on.

    Attributes:
        size: the network's input side (224).
        superpixels: the superpixel settings (their ``levels``: 4 for MSA, 3 for SA).
        target_luminance: ``"lightness"`` (MSA: CIELAB ``L / 100``) or ``"gray"`` (SA: ``rgb2gray``,
            re-mapped to the reference's statistics as the network's input); see the module docstring.
        channels: how many channels the gray inputs are replicated to (MSA 1, SA 3).
    """

    size: int
    superpixels: SuperpixelConfig
    target_luminance: str = "lightness"
    channels: int = 1

    def __post_init__(self) -> None:
        if self.target_luminance not in _LUMINANCES:
            raise ValueError(f"target_luminance must be one of {_LUMINANCES}; got {self.target_luminance!r}")

    @property
    def depends_on_role(self) -> bool:
        """Whether an image's view as a target differs from its view as a reference."""
        return self.target_luminance == "gray"


def resize_view(rgb: np.ndarray, size: int) -> np.ndarray:
    """The image at ``size x size`` as the SA authors' code resizes it (skimage ``resize``: order 1,
    anti-aliased when shrinking), float in [0, 1]."""
    return resize(rgb, (size, size))


def remap_luminance(gray: np.ndarray, reference_l: np.ndarray) -> np.ndarray:
    """Give ``gray`` the mean and (population) standard deviation of ``reference_l``.

    ``std(reference_l) / std(gray) * (gray - mean(gray)) + mean(reference_l)``, the SA authors'
    luminance remapping. A constant ``gray`` (std 0, where their code divides by zero) is shifted to
    the reference's mean instead.
    """
    spread = np.std(gray)
    scale = np.std(reference_l) / spread if spread > 0 else 1.0
    return scale * (gray - np.mean(gray)) + np.mean(reference_l)


def prepare_view(rgb: np.ndarray, mask: np.ndarray | None, spec: ViewSpec, role: str = "target",
                 cache: bool = False) -> dict:
    """What the family needs of one image in one role (computed once per image, mask and role, and
    cacheable: see :mod:`reference_models.training.data`).

    Args:
        rgb: ``(H, W, 3)`` uint8 or float in [0, 1].
        mask: optional ``(H, W)`` bool object mask (MaskSLIC inside it).
        spec: the member's :class:`ViewSpec`.
        role: ``"target"`` or ``"reference"`` (matters only when ``spec.depends_on_role``).
        cache: cache the superpixels on disk by content.

    Returns:
        ``{"rgb": uint8 (S, S, 3), "labels0".."labels{L-1}": int label maps (S / 2**i, S / 2**i)}``.
    """
    rgb = check_rgb_array(rgb, "image")
    small = np.clip(np.rint(resize_view(rgb, spec.size) * 255.0), 0, 255).astype(np.uint8)  # stored as 8-bit
    # from the stored uint8 view, as pair_sample reads it
    luminance = rgb2gray(small) if role == "target" and spec.target_luminance == "gray" else \
        rgb2lab(small)[..., 0] / 100.0
    mask = resize_mask(mask, rgb.shape, spec.size, "mask")
    labels = superpixel_levels(luminance, mask, spec.superpixels, cache=cache)
    return {"rgb": small, **{f"labels{i}": level for i, level in enumerate(labels)}}


def _channels(gray: np.ndarray, channels: int) -> np.ndarray:
    # real copies, contiguous: convolutions pick their algorithm (and float rounding) by memory layout
    return np.repeat(gray[None], channels, 0).astype(np.float32)


def pair_sample(target_view: dict, reference_view: dict, spec: ViewSpec) -> dict:
    """A training (or inference) sample from two :func:`prepare_view` results.

    Returns:
        A dict (``S`` the views' side, ``C = spec.channels``, ``L`` the levels), float32 unless
        stated: ``target_input`` ``(C, S, S)`` (the target encoder's input); ``target_l`` ``(1, S, S)``
        L / 100 in [0, 1]; ``target_ab`` ``(2, S, S)`` ab / 127 (the regression target);
        ``reference_l`` ``(C, S, S)``; ``reference_rgb`` ``(3, S, S)`` in [0, 1]; ``target_labels``,
        ``reference_labels``: lists of ``L`` int64 arrays ``(S / 2**i, S / 2**i)``.
    """
    levels = spec.superpixels.levels
    target_lab = rgb2lab(target_view["rgb"])
    reference_l = rgb2lab(reference_view["rgb"])[..., 0] / 100.0
    target_l = (target_lab[..., 0] / 100.0)[None].astype(np.float32)
    if spec.target_luminance == "gray":
        target_input = _channels(remap_luminance(rgb2gray(target_view["rgb"]), reference_l), spec.channels)
    else:
        target_input = target_l if spec.channels == 1 else _channels(target_l[0], spec.channels)
    return {
        "target_input": target_input,
        "target_l": target_l,
        # channel-first and contiguous (a transposed view would reach the convolutions as a
        # strided tensor, whose algorithm choice changes the float rounding)
        "target_ab": np.ascontiguousarray((target_lab[..., 1:] / 127.0).transpose(2, 0, 1), dtype=np.float32),
        "reference_l": _channels(reference_l, spec.channels),
        "reference_rgb": np.ascontiguousarray(reference_view["rgb"].transpose(2, 0, 1), dtype=np.float32) / 255.0,
        "target_labels": [np.asarray(target_view[f"labels{i}"], np.int64) for i in range(levels)],
        "reference_labels": [np.asarray(reference_view[f"labels{i}"], np.int64) for i in range(levels)],
    }


def prepare_pair(target_rgb: np.ndarray, reference_rgb: np.ndarray, target_mask: np.ndarray | None,
                 reference_mask: np.ndarray | None, spec: ViewSpec, cache: bool = False) -> dict:
    """:func:`pair_sample` of the two images' :func:`prepare_view` (``target_rgb`` is the colour
    ground truth in training, its L the input and its ab the target; the gray image at inference)."""
    return pair_sample(prepare_view(target_rgb, target_mask, spec, "target", cache),
                       prepare_view(reference_rgb, reference_mask, spec, "reference", cache), spec)


@dataclass
class SuperAttentionBatch:
    """A batch of :func:`pair_sample` results as tensors (``B`` samples, side ``S``, ``C`` channels).

    Attributes:
        target_input: :math:`(B, C, S, S)`; target_l: :math:`(B, 1, S, S)`; target_ab: :math:`(B, 2, S, S)`;
        reference_l: :math:`(B, C, S, S)`; reference_rgb: :math:`(B, 3, S, S)`; target_labels /
        reference_labels: one int64 tensor :math:`(B, S / 2^i, S / 2^i)` per level.
    """

    target_input: torch.Tensor
    target_l: torch.Tensor
    target_ab: torch.Tensor
    reference_l: torch.Tensor
    reference_rgb: torch.Tensor
    target_labels: list[torch.Tensor]
    reference_labels: list[torch.Tensor]


def collate(samples: Sequence[dict]) -> SuperAttentionBatch:
    """Stack :func:`pair_sample` dicts into a :class:`SuperAttentionBatch` (a DataLoader ``collate_fn``)."""
    if not samples:
        raise ValueError("collate needs at least one sample")

    def stack(name: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([s[name] for s in samples]))

    target_l = stack("target_l")
    same = all(s["target_input"] is s["target_l"] for s in samples)  # MSA: the input is the lightness
    return SuperAttentionBatch(target_l if same else stack("target_input"), target_l, stack("target_ab"),
                               stack("reference_l"), stack("reference_rgb"),
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
