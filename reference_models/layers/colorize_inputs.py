"""The inputs the models' preprocessing takes, checked in one place: the tensors of a model's
``colorize(gray_rgb, reference_rgb, masks)`` split into the per-image numpy arrays the
(skimage-based) preprocessing of SA and MSA works on (or, for SPColor, the float batches it
prepares on its device: :func:`as_image_batches`), and the checks of one numpy image or mask."""

from __future__ import annotations

import numpy as np
import torch

from reference_models.layers.checks import check_array, check_tensor

__all__ = ["ColorizeInputs", "as_image_batches", "check_rgb_array", "resize_mask", "split_colorize_inputs"]

#: ``(targets, references, target_masks, reference_masks, batched)``.
ColorizeInputs = tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray | None], list[np.ndarray | None], bool]


def check_rgb_array(image: np.ndarray, name: str, uint8_only: bool = False) -> np.ndarray:
    """``image`` if it is an RGB array :math:`(H, W, 3)`, uint8 (or float in [0, 1] unless
    ``uint8_only``); else a TypeError / ValueError naming ``name``."""
    return check_array(image, name, "H W 3", np.uint8 if uint8_only else (np.uint8, "float"))


def resize_mask(mask: np.ndarray | None, image_shape: tuple[int, ...], size: int, name: str) -> np.ndarray | None:
    """An object mask of an image of ``image_shape`` at ``size`` x ``size`` (None stays None):
    nearest-neighbour, so a mask stays binary (no anti-aliasing blur)."""
    from skimage.transform import resize

    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != tuple(image_shape[:2]):
        raise ValueError(f"{name} must have the image's shape (H, W) = {tuple(image_shape[:2])}; got {mask.shape}")
    return resize(mask.astype(bool), (size, size), order=0, anti_aliasing=False)


def _as_image_batch(images: torch.Tensor, name: str, to_float: bool) -> torch.Tensor:
    check_tensor(images, name, ("3 H W", "B 3 H W"), (torch.uint8, "float"))
    if to_float and images.dtype == torch.uint8:
        images = images.float() / 255.0
    return images if images.ndim == 4 else images[None]


def as_image_batches(gray_rgb: torch.Tensor, reference_rgb: torch.Tensor,
                     to_float: bool = False) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Check ``colorize``'s two image tensors; each as a batch :math:`(B, 3, H, W)` on its device.

    Args:
        gray_rgb: target :math:`(3, H, W)` or :math:`(B, 3, H, W)`, uint8 or float in [0, 1].
        reference_rgb: :math:`(3, H', W')` or :math:`(B, 3, H', W')` (as many images as ``gray_rgb``).
        to_float: uint8 becomes float32 ``x / 255`` (float stays as given: same tensor, dtype and
            device); else the dtype is kept.

    Returns:
        ``(targets, references, batched)``: whether ``gray_rgb`` was batched.
    """
    targets = _as_image_batch(gray_rgb, "gray_rgb", to_float)
    references = _as_image_batch(reference_rgb, "reference_rgb", to_float)
    if len(references) != len(targets):
        raise ValueError(f"gray_rgb and reference_rgb must hold as many images; got {tuple(gray_rgb.shape)} and "
                         f"{tuple(reference_rgb.shape)}")
    return targets, references, gray_rgb.ndim == 4


def _as_numpy_images(images: torch.Tensor) -> list[np.ndarray]:
    array = images.detach().cpu().movedim(-3, -1).numpy()
    # uint8 stays uint8 so skimage converts it exactly as when the released code reads a file.
    return [a if a.dtype == np.uint8 else a.astype(np.float64) for a in array]


def _as_numpy_masks(mask: torch.Tensor | None, count: int, name: str) -> list[np.ndarray | None]:
    if mask is None:
        return [None] * count
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None; got {type(mask).__name__}")
    check_tensor(mask, name, ("H W", f"{count} H W") if count == 1 else f"{count} H W")
    array = mask.detach().cpu().numpy().astype(bool)
    if array.ndim == 2:
        array = array[None]
    return list(array)


def split_colorize_inputs(gray_rgb: torch.Tensor, reference_rgb: torch.Tensor,
                          masks: tuple[torch.Tensor | None, torch.Tensor | None] | None = None) -> ColorizeInputs:
    """Check ``colorize``'s tensors and split them into per-image numpy arrays.

    Args:
        gray_rgb: target :math:`(3, H, W)` or :math:`(B, 3, H, W)`, uint8 or float in [0, 1].
        reference_rgb: :math:`(3, H', W')` or :math:`(B, 3, H', W')` (as many images as ``gray_rgb``).
        masks: ``None`` or ``(target_mask, reference_mask)``, each ``None`` or a bool tensor
            :math:`(H, W)` / :math:`(B, H, W)`.

    Returns:
        ``(targets, references, target_masks, reference_masks, batched)``: lists of ``(H, W, 3)``
        arrays (uint8 kept as uint8, so skimage converts it as when an image file is read; float
        as float64), lists of ``(H, W)`` bool arrays or ``None``, and whether the input was batched.
    """
    target_batch, reference_batch, batched = as_image_batches(gray_rgb, reference_rgb)
    targets, references = _as_numpy_images(target_batch), _as_numpy_images(reference_batch)
    if masks is not None and (not isinstance(masks, (tuple, list)) or len(masks) != 2):
        raise ValueError("masks must be a pair (target_mask, reference_mask); either may be None")
    target_mask, reference_mask = masks if masks is not None else (None, None)
    return (targets, references, _as_numpy_masks(target_mask, len(targets), "target mask"),
            _as_numpy_masks(reference_mask, len(targets), "reference mask"), batched)
