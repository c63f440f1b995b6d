"""What outputs and ground truths go through before the metrics, as other papers' evaluations do.

Papers resize or crop their ground truths (and outputs) before computing anything, and some compare
against a ground truth sent through CIELAB and back. Those steps move every number, so they are
metric settings (:class:`~bench.config.ScoreConfig` ``image_transform``, ``image_size``,
``gt_roundtrip``), recorded in every summary and part of every cache key. :class:`ImagePrep` applies
them to a decoded pair, in the DataLoader worker that decoded it (no image is decoded twice):

* ``squash``: both images to ``size x size``, bilinear without antialiasing, pixel centres aligned
  (``cv2.resize(img, (size, size))``'s ``INTER_LINEAR``, which DDColor's validation set applies to
  its ground truths: ``basicsr/data/lab_dataset.py``); computed in float32 and rounded to uint8.
* ``center_crop_resize``: the centred square of the short side, then ``size x size`` with PIL's
  bilinear filter (CT2's ``transforms.CenterCrop(min(w, h))`` + ``transforms.Resize(size)`` on PIL
  images: ``segm/data/coco.py`` ``get_img``). torchvision's CenterCrop rounds the offsets as
  ``int(round((h - s) / 2))``; so does this.
* ``gt_roundtrip``: the ground truth through ``skimage.color.rgb2lab`` (float32) and ``lab2rgb``,
  clipped, ``* 255`` and truncated to uint8, exactly CT2's ``rgb_to_lab`` / ``lab_to_rgb``
  (``segm/metrics.py``), after the resize.

An output already at ``size x size`` passes ``squash`` and a square one ``center_crop_resize`` at
that size unchanged, so methods that write 256 x 256 outputs are scored as the papers score them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .core.errors import ColorbenchError

__all__ = ["ImagePrep", "center_crop_resize", "lab_roundtrip", "squash"]


def squash(image: np.ndarray, size: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(size, size, 3)`` uint8, bilinear, no antialiasing (cv2 ``INTER_LINEAR``)."""
    if image.shape[:2] == (size, size):
        return image
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    return y[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def center_crop_resize(image: np.ndarray, size: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> the centred square of the short side, resized to ``(size, size, 3)`` (PIL bilinear)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = int(round((height - side) / 2.0)), int(round((width - side) / 2.0))
    square = image[top:top + side, left:left + side]
    if side == size:
        return np.ascontiguousarray(square)
    return np.asarray(Image.fromarray(np.ascontiguousarray(square)).resize((size, size), Image.BILINEAR))


def lab_roundtrip(image: np.ndarray) -> np.ndarray:
    """uint8 RGB through CIELAB (float32) and back, clipped, truncated to uint8 (CT2's ``*_convert`` ground truth)."""
    from skimage import color

    lab = color.rgb2lab(image).astype(np.float32)
    return (255 * np.clip(color.lab2rgb(lab), 0, 1)).astype(np.uint8)


_TRANSFORMS = {"squash": squash, "center_crop_resize": center_crop_resize}


@dataclass(frozen=True)
class ImagePrep:
    """One way of preparing a pair's output and ground truth (hashable: the compare command keys views by it)."""

    transform: str = "none"
    size: int = 256
    gt_roundtrip: bool = False

    @classmethod
    def of(cls, config) -> ImagePrep:
        """The preparation a :class:`~bench.config.ScoreConfig` asks for."""
        return cls(config.image_transform, config.image_size, config.gt_roundtrip)

    @property
    def resizes(self) -> bool:
        return self.transform != "none"

    def record(self) -> dict:
        """What ground-truth caches depend on."""
        return {"image_transform": self.transform, "image_size": self.size if self.resizes else None,
                "gt_roundtrip": self.gt_roundtrip}

    def apply(self, item: dict) -> dict:
        """The decoded pair ``item`` with its ``pred`` and ``gt`` prepared (the other keys shared).

        Raises:
            ColorbenchError: the output's size differs from its ground truth's after the preparation.
        """
        pred, gt = item["pred"], item["gt"]
        if self.resizes:
            pred, gt = _TRANSFORMS[self.transform](pred, self.size), _TRANSFORMS[self.transform](gt, self.size)
        if pred.shape != gt.shape:
            raise ColorbenchError(f"output {item['pair_id']}.png is {pred.shape[1]}x{pred.shape[0]} but its target is "
                                  f"{gt.shape[1]}x{gt.shape[0]}; write outputs at the target's size, or pass --resize "
                                  "(bicubic, documented)")
        if self.gt_roundtrip:
            gt = lab_roundtrip(gt)
        return {**item, "pred": pred, "gt": gt}
