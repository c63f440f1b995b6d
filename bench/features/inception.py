"""Inception pool3 features for FID: torch-fidelity's port of the TF Inception (2015-12-05).

This is the network the TTUR / TensorFlow FID and torch-fidelity use, read from torch-fidelity's
weight file and run the way ``FeatureExtractorInceptionV3.forward`` runs it up to pool3: the
TF1-style bilinear resize to 299 x 299, ``(x - 128) / 128``, then its layers in order (the same
convolutions, ReLUs, poolings and concatenations, written out in :data:`LAYERS` and the block
functions below). Inputs are uint8 RGB ``(B, 3, H, W)`` of any size; outputs are the 2048-d
average-pooled ``Mixed_7c`` activations ("pool3").

Running it here rather than through torch-fidelity's modules changes no number beyond float32
rounding (tested against the extractor's forward), and is faster:

* the resize gathers each source row and column once, straight into channels_last
  (:func:`tf1_bilinear_resize`, bit-exact to torch-fidelity's);
* each BatchNorm is folded into its convolution, and the layers run in channels_last layout
  (oneDNN's and cuDNN's fast kernels);
* on CPU each convolution and its ReLU are one oneDNN call, with the weights reordered into
  oneDNN's layout once at load instead of at every call, and the 1 x 1 convolutions that read
  the same input in a block are one convolution;
* importing it imports neither torch-fidelity nor torchvision (whose import pulls in
  ``torch._dynamo``: seconds of start-up in every scoring process).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..core.weights import ensure_weights, file_sha256, read_state_dict
from .conv import ConvReLU

__all__ = ["POOL3_DIM", "InceptionPool3", "tf1_bilinear_resize"]

#: Size of the pool3 features.
POOL3_DIM = 2048
#: The network's input side.
INPUT_SIDE = 299
#: torch-fidelity's BatchNorm epsilon (``BasicConv2d``).
BN_EPS = 0.001
#: ``BasicConv2d`` layers whose stride or padding is not ``1`` / "same" (``kernel // 2``): name ->
#: (stride, padding), as torch-fidelity builds them.
_NOT_SAME = {"Conv2d_1a_3x3": (2, 0), "Conv2d_2a_3x3": (1, 0), "Conv2d_4a_3x3": (1, 0),
             "Mixed_6a.branch3x3": (2, 0), "Mixed_6a.branch3x3dbl_3": (2, 0),
             "Mixed_7a.branch3x3_2": (2, 0), "Mixed_7a.branch7x7x3_4": (2, 0)}
#: The 1 x 1 convolutions of a block that read the block's input, run as one convolution (their
#: output channels concatenated, then split): block type -> branch names, in that order.
_HEADS = {"A": ("branch1x1", "branch5x5_1", "branch3x3dbl_1"),
          "B": ("branch3x3dbl_1",),
          "C": ("branch1x1", "branch7x7_1", "branch7x7dbl_1"),
          "D": ("branch3x3_1", "branch7x7x3_1"),
          "E1": ("branch1x1", "branch3x3_1", "branch3x3dbl_1"),
          "E2": ("branch1x1", "branch3x3_1", "branch3x3dbl_1")}
#: ``FeatureExtractorInceptionV3.forward`` up to pool3: (module name, block type).
LAYERS = (("Conv2d_1a_3x3", "conv"), ("Conv2d_2a_3x3", "conv"), ("Conv2d_2b_3x3", "conv"), ("MaxPool_1", "max"),
          ("Conv2d_3b_1x1", "conv"), ("Conv2d_4a_3x3", "conv"), ("MaxPool_2", "max"),
          ("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"), ("Mixed_6b", "C"),
          ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"), ("Mixed_7a", "D"), ("Mixed_7b", "E1"),
          ("Mixed_7c", "E2"))


def _source_positions(in_size: int, out_size: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TF1's ``align_corners=False`` sampling: position ``i * in / out`` (float32, as torch-fidelity
    computes it), its floor, the next index (clamped) and the fraction."""
    grid = torch.arange(0, out_size, 1, dtype=torch.float32, device=device) * torch.tensor(in_size / out_size,
                                                                                              dtype=torch.float32)
    low = grid.long()
    return low, (low + 1).clamp_max(in_size - 1), grid - low.float()


def tf1_bilinear_resize(images: torch.Tensor, size: int = INPUT_SIDE) -> torch.Tensor:
    """TensorFlow 1's bilinear resize (``align_corners=False``) of ``(B, C, H, W)`` (any real or
    uint8 dtype, computed in float32) to float32 ``(B, C, size, size)`` in channels_last layout.

    Bit-exact to ``torch_fidelity.interpolate_compat_tensorflow.interpolate_bilinear_2d_like_tensorflow1x``:
    every output is ``in_0 + (in_1 - in_0) * dy`` with ``in_0 = in_00 + (in_01 - in_00) * dx``
    (and ``in_1`` likewise) from the same float32 operands. Interpolating along each source row
    first gives ``in_0`` and ``in_1`` for all output rows that share it at once, so each source
    pixel is gathered twice instead of four times, and working on ``(B, H, W, C)`` writes the
    channels_last layout the network wants without another copy.
    """
    x = images.permute(0, 2, 3, 1).to(torch.float32)  # (B, H, W, C): channels_last memory
    y_lo, y_hi, dy = _source_positions(x.shape[1], size, x.device)
    x_lo, x_hi, dx = _source_positions(x.shape[2], size, x.device)
    left = x.index_select(2, x_lo)
    rows = x.index_select(2, x_hi).sub_(left).mul_(dx.view(1, 1, size, 1)).add_(left)
    top = rows.index_select(1, y_lo)
    out = rows.index_select(1, y_hi).sub_(top).mul_(dy.view(1, size, 1, 1)).add_(top)
    return out.permute(0, 3, 1, 2)


def _geometry(name: str, weight: torch.Tensor) -> tuple[int, tuple[int, int]]:
    """Stride and padding of ``BasicConv2d`` ``name`` (its weight gives the kernel size)."""
    if name in _NOT_SAME:
        stride, padding = _NOT_SAME[name]
        return stride, (padding, padding)
    return 1, (weight.shape[-2] // 2, weight.shape[-1] // 2)


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    # torch-fidelity's patch: TensorFlow's average pool leaves the padding out of the average
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _dense(x: torch.Tensor) -> torch.Tensor:
    """A channel slice of a channels_last tensor as a dense one (the convolutions' input layout)."""
    return x.contiguous(memory_format=torch.channels_last)


def _block_a(c: Callable, heads: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    b1, b5, b3 = heads
    b5 = c("branch5x5_2", _dense(b5))
    b3 = c("branch3x3dbl_3", c("branch3x3dbl_2", _dense(b3)))
    return torch.cat([b1, b5, b3, c("branch_pool", _avg_pool(x))], 1)


def _block_b(c: Callable, heads: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    b3 = c("branch3x3dbl_3", c("branch3x3dbl_2", heads[0]))
    return torch.cat([c("branch3x3", x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


def _block_c(c: Callable, heads: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    b1, b7, b7dbl = heads
    b7 = c("branch7x7_3", c("branch7x7_2", _dense(b7)))
    b7dbl = _dense(b7dbl)
    for i in range(2, 6):
        b7dbl = c(f"branch7x7dbl_{i}", b7dbl)
    return torch.cat([b1, b7, b7dbl, c("branch_pool", _avg_pool(x))], 1)


def _block_d(c: Callable, heads: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    b3, b7 = heads
    b3 = c("branch3x3_2", _dense(b3))
    b7 = _dense(b7)
    for i in range(2, 5):
        b7 = c(f"branch7x7x3_{i}", b7)
    return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


def _block_e(pool: Callable) -> Callable:
    def block(c: Callable, heads: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        b1, b3, b3dbl = heads
        b3 = _dense(b3)
        b3 = torch.cat([c("branch3x3_2a", b3), c("branch3x3_2b", b3)], 1)
        b3dbl = c("branch3x3dbl_2", _dense(b3dbl))
        b3dbl = torch.cat([c("branch3x3dbl_3a", b3dbl), c("branch3x3dbl_3b", b3dbl)], 1)
        return torch.cat([b1, b3, b3dbl, c("branch_pool", pool(x))], 1)

    return block


_BLOCKS = {"A": _block_a, "B": _block_b, "C": _block_c, "D": _block_d, "E1": _block_e(_avg_pool),
           # torch-fidelity's patch: the TF graph max-pools in its last block
           "E2": _block_e(lambda x: F.max_pool2d(x, kernel_size=3, stride=1, padding=1))}


def _folded(state: dict[str, torch.Tensor], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``BasicConv2d`` ``name``'s convolution with its eval-mode BatchNorm folded in (weight, bias)."""
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    weight, bias = fuse_conv_bn_weights(state[f"{name}.conv.weight"], None, state[f"{name}.bn.running_mean"],
                                        state[f"{name}.bn.running_var"], BN_EPS, state[f"{name}.bn.weight"],
                                        state[f"{name}.bn.bias"])
    return weight.detach().float(), bias.detach().float()


class InceptionPool3:
    """Frozen torch-fidelity Inception (2015-12-05) returning pool3 features as float64 numpy.

    Args:
        device: where the network runs.
        batch_size: images per forward pass (torch-fidelity's default is 64); only memory and
            speed depend on it.
    """

    def __init__(self, device: torch.device | str = "cpu", batch_size: int = 64):
        # the same file torch-fidelity's extractor loads from the hub cache (a missing one is named
        # in one line); read as tensors only (weights_only), never unpickling code
        self.weights = ensure_weights("inception_fid")
        self.device = torch.device(device)
        self.batch_size = batch_size
        state = read_state_dict(self.weights)
        self._convs: dict[str, ConvReLU] = {}
        self._head_widths: dict[str, list[int]] = {}  # block -> output channels of each of its heads
        side = INPUT_SIDE  # of each layer's input, for oneDNN's choice of weight layout
        for name, kind in LAYERS:
            if kind == "conv":
                weight = state[f"{name}.conv.weight"]
                stride, padding = _geometry(name, weight)
                self._add(state, name, [name], padding, stride, [batch_size, weight.shape[1], side, side])
                side = (side + 2 * padding[0] - weight.shape[-1]) // stride + 1
            elif kind == "max":
                side = (side - 3) // 2 + 1
            else:
                self._add_block(state, name, kind, side)
                side = (side - 3) // 2 + 1 if kind in ("B", "D") else side

    def _add(self, state: dict, key: str, names: list[str], padding: tuple[int, int], stride: int,
             input_size: list[int]) -> None:
        folded = [_folded(state, name) for name in names]
        self._convs[key] = ConvReLU(torch.cat([w for w, _ in folded]), torch.cat([b for _, b in folded]),
                                    (stride, stride), padding, self.device, input_size)

    def _add_block(self, state: dict, block: str, kind: str, side: int) -> None:
        prefix = f"{block}."
        channels = state[f"{prefix}{_HEADS[kind][0]}.conv.weight"].shape[1]
        heads = [prefix + name for name in _HEADS[kind]]
        self._add(state, f"{prefix}heads", heads, (0, 0), 1, [self.batch_size, channels, side, side])
        self._head_widths[block] = [state[f"{name}.conv.weight"].shape[0] for name in heads]
        names = {key[len(prefix):-len(".conv.weight")] for key in state
                 if key.startswith(prefix) and key.endswith(".conv.weight")}
        for name in sorted(names - set(_HEADS[kind])):
            full = prefix + name
            weight = state[f"{full}.conv.weight"]
            stride, padding = _geometry(full, weight)
            # every convolution of a block reads a map of the block's input side
            self._add(state, full, [full], padding, stride, [self.batch_size, weight.shape[1], side, side])

    def record(self) -> dict:
        """What the features depend on (for cache keys): the port, its weight file and checksum."""
        return self.describe_weights()

    @staticmethod
    def describe_weights() -> dict:
        """:meth:`record` without loading the network."""
        from importlib.metadata import version

        weights = ensure_weights("inception_fid")
        return {"network": "inception_fid", "features": f"pool{POOL3_DIM}",
                "torch_fidelity": version("torch-fidelity"), "file": weights.name, "sha256": file_sha256(weights)}

    def _pool3(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, 3, H, W)`` on the device -> float32 ``(B, 2048)``, as the extractor's forward."""
        # torch-fidelity's (x - 128) / 128, in place on the resized copy
        x = tf1_bilinear_resize(images).sub_(128).div_(128)
        for name, kind in LAYERS:
            if kind == "conv":
                x = self._convs[name](x)
            elif kind == "max":
                x = F.max_pool2d(x, kernel_size=3, stride=2)
            else:
                heads = self._convs[f"{name}.heads"](x).split(self._head_widths[name], 1)
                x = _BLOCKS[kind](lambda branch, y, block=name: self._convs[f"{block}.{branch}"](y), list(heads), x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """uint8 ``(B, 3, H, W)`` -> ``(B, 2048)`` float64 pool3 features."""
        return batched_features(images, self._pool3, self.device, self.batch_size, POOL3_DIM)


@torch.inference_mode()
def batched_features(images: torch.Tensor, network, device: torch.device, batch_size: int, dim: int) -> np.ndarray:
    """``network`` (float32 ``(b, dim)`` features of uint8 images on ``device``) over uint8 ``(B, 3, H, W)``
    images in batches of ``batch_size`` -> ``(B, dim)`` float64 numpy; TypeError / ValueError on other input."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"Inception features need a uint8 tensor; got {kind}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"Inception features need images of shape (B, 3, H, W); got {tuple(images.shape)}")
    chunks = [network(chunk.to(device)) for chunk in images.split(batch_size)]
    if not chunks:
        return np.zeros((0, dim), dtype=np.float64)
    return torch.cat(chunks).to(torch.float64).cpu().numpy()
