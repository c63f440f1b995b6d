"""Inception pool3 features for FID: torch-fidelity's port of the TF Inception (2015-12-05).

This is the network the TTUR / TensorFlow FID and torch-fidelity use, run through
torch-fidelity's own ``FeatureExtractorInceptionV3`` (its loading code, its TF1-style bilinear
resize to 299 x 299, its ``(x - 128) / 128`` scaling). Inputs are uint8 RGB ``(B, 3, H, W)`` of any
size; outputs are the 2048-d average-pooled ``Mixed_7c`` activations ("pool3").
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.weights import ensure_weights, file_sha256

__all__ = ["POOL3_DIM", "InceptionPool3"]

#: Size of the pool3 features.
POOL3_DIM = 2048


def _fold_batch_norms(model: torch.nn.Module) -> torch.nn.Module:
    """Fold each ``BasicConv2d``'s eval-mode BatchNorm into its convolution (the same affine map,
    one pass over memory fewer: ~8% faster on CPU; features agree to float32 rounding)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in model.modules():
        if isinstance(getattr(module, "conv", None), torch.nn.Conv2d) and isinstance(
                getattr(module, "bn", None), torch.nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(module.conv, module.bn)
            module.bn = torch.nn.Identity()
    return model


class InceptionPool3:
    """Frozen, eval-mode torch-fidelity Inception returning pool3 features as float64 numpy.

    Args:
        device: where the network runs.
        batch_size: images per forward pass (torch-fidelity's default is 64); only memory and
            speed depend on it.
    """

    def __init__(self, device: torch.device | str = "cpu", batch_size: int = 64):
        from torch_fidelity.feature_extractor_inceptionv3 import (
            FeatureExtractorInceptionV3,
        )

        # Resolve the file first: a missing one is named in one line instead of failing inside
        # torch-fidelity's download. The library then finds it in the same hub cache and loads it
        # with torch.hub (weights_only); passing the path instead would make torch-fidelity
        # unpickle the file without the weights_only guard.
        self.weights = ensure_weights("inception_fid")
        # channels_last lets oneDNN/cuDNN pick faster convolution kernels (1.4x here on CPU); the
        # features differ from the default layout only by float32 rounding (~1e-6 relative).
        model = _fold_batch_norms(FeatureExtractorInceptionV3("inception-v3-compat", [str(POOL3_DIM)]).eval())
        self.model = model.to(device, memory_format=torch.channels_last)
        self.device = torch.device(device)
        self.batch_size = batch_size

    def record(self) -> dict:
        """What the features depend on (for cache keys): the port, its weight file and checksum."""
        return self.describe_weights()

    @staticmethod
    def describe_weights() -> dict:
        """:meth:`record` without loading the network."""
        from torch_fidelity import __version__ as fidelity_version

        weights = ensure_weights("inception_fid")
        return {"network": "inception_fid", "features": f"pool{POOL3_DIM}", "torch_fidelity": fidelity_version,
                "file": weights.name, "sha256": file_sha256(weights)}

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """uint8 ``(B, 3, H, W)`` -> ``(B, 2048)`` float64 pool3 features."""
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
            kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
            raise TypeError(f"Inception features need a uint8 tensor; got {kind}")
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"Inception features need images of shape (B, 3, H, W); got {tuple(images.shape)}")
        chunks = [self.model(chunk.to(self.device).contiguous(memory_format=torch.channels_last))[0]
                  for chunk in images.split(self.batch_size)]
        if not chunks:
            return np.zeros((0, POOL3_DIM), dtype=np.float64)
        return torch.cat(chunks).to(torch.float64).cpu().numpy()
