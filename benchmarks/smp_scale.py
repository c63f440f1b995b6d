"""The feature scale SPColor's SMP weight was tuned on: torchvision's VGG19 vs. the released Caffe port.

    python benchmarks/smp_scale.py [--caffe PATH/vgg19_conv.pth] [--images bench/demo_data/images] [--size 256]

SPColor's similarity-masked perceptual loss is ``0.01 * mean((phi(pred) - phi(gt))^2 (1 - S))`` at
VGG19 relu5_2, and the 0.01 was chosen with the released ``vgg19_conv.pth`` (a Caffe port: BGR in
0..255 minus the Caffe mean). colorbench runs torchvision's VGG19 (RGB in 0..1, ImageNet mean and
std). A squared difference scales with the square of the features, so the loss balance is the
paper's only if the features are brought to the Caffe network's scale (``smp_feature_scale``,
:class:`reference_models.spcolor.config.SPColorConfig`). This script prints mean |relu5_2| of both
networks on the demo photographs (short side to ``--size``, centre crop) and their ratio.

Weights: torchvision's file from ``$TORCH_HOME`` when it is the official one (its SHA-256 prefix
``dcbb9e9d``), and the Caffe port from ``--caffe`` (default ``$TORCH_HOME/hub/checkpoints/vgg19_conv.pth``)
when present: then the ratio is the real one. Otherwise both are **random stand-ins**, and the
ratio measures nothing about the trained networks; what the stand-ins do show:

* ``same weights``: a Caffe-convention network holding torchvision's weights (first convolution's
  input channels reversed to BGR), written as a ``vgg19_conv.pth``-style file and read through
  :meth:`~reference_models.spcolor.vgg.SPColorVGG.load_caffe`: its input is ``255 * std`` times
  torchvision's (the two means agree to 0.002), torchvision's VGG19 is initialised with zero biases,
  and a bias-free ReLU network is positively homogeneous, so relu5_2 grows by the same ~57.6
  (``255 * std`` is 58.4 / 57.1 / 57.4 for R / G / B). This is the constant colorbench uses when the
  Caffe file is absent;
* ``function-equivalent port``: the same weights re-expressed for Caffe input (first convolution
  divided by ``255 * std``, its bias absorbing the mean difference): ratio ~1 (equal but for the
  zero padding at the borders). So the ratio is a property of how the two networks were *trained*,
  not of the input convention alone: only the real files measure it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
LAYER = "relu5_2"


def photos(folder: Path, size: int) -> torch.Tensor:
    """The folder's photographs, short side to ``size`` and centre-cropped, RGB in [0, 1], (N, 3, size, size)."""
    from PIL import Image

    from reference_models.spcolor.data import resize_and_center_crop

    images = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
            rgb = np.asarray(Image.open(path).convert("RGB"))
            images.append((path.name, resize_and_center_crop(rgb, size)))
    batch = torch.from_numpy(np.stack([image for _, image in images])).permute(0, 3, 1, 2).float() / 255.0
    return [name for name, _ in images], batch


def torchvision_is_official() -> bool:
    from bench.core.weights import file_sha256, get_weight_spec, weight_path

    path = weight_path("vgg19")
    return path.is_file() and file_sha256(path).startswith(get_weight_spec("vgg19").hash_prefix)


def caffe_file(vgg, path: Path, equivalent: bool) -> Path:
    """A ``vgg19_conv.pth``-style file (keys ``conv{b}_{i}.*``) holding ``vgg``'s (torchvision's) weights,
    first convolution reversed to BGR; ``equivalent``: also re-expressed for Caffe input."""
    from bench.features.vgg import IMAGENET_MEAN, IMAGENET_STD
    from reference_models.spcolor.vgg import CAFFE_MEAN_BGR, caffe_vgg19_key_map

    own = vgg.features.state_dict()
    inverse = {f"features.{key}": key for key in own}
    state = {}
    for caffe_key, torchvision_key in caffe_vgg19_key_map().items():
        if torchvision_key in inverse:
            state[caffe_key] = own[inverse[torchvision_key]].clone()
        else:  # a layer after relu5_2, which SPColorVGG does not keep: any value (load_caffe drops it)
            state[caffe_key] = torch.zeros(1)
    weight, bias = state["conv1_1.weight"], state["conv1_1.bias"]
    if equivalent:
        std = torch.tensor(IMAGENET_STD, dtype=weight.dtype).view(1, 3, 1, 1)
        # x_torchvision[c] = (x_caffe[2 - c] / 255 + m_caffe_rgb[c] - m_imagenet[c]) / std[c]
        offset = (torch.tensor(CAFFE_MEAN_BGR[::-1]) - torch.tensor(IMAGENET_MEAN)).view(1, 3, 1, 1) / std
        bias = bias + (weight * offset).sum(dim=(1, 2, 3))
        weight = weight / (255.0 * std)
    state["conv1_1.weight"], state["conv1_1.bias"] = weight.flip(1).contiguous(), bias
    torch.save(state, path)
    return path


def mean_abs(vgg, batch: torch.Tensor) -> torch.Tensor:
    """Mean |relu5_2| per image."""
    with torch.no_grad():
        return vgg(batch)[LAYER].abs().mean(dim=(1, 2, 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caffe", type=Path, help="the released vgg19_conv.pth (default: "
                                                    "$TORCH_HOME/hub/checkpoints/vgg19_conv.pth when present)")
    parser.add_argument("--images", type=Path, default=ROOT / "bench" / "demo_data" / "images")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    from bench.core.weights import checkpoints_dir
    from bench.features.vgg import IMAGENET_STD
    from bench.testing import write_random_weights
    from reference_models.spcolor.config import TORCHVISION_TO_CAFFE_FEATURE_SCALE
    from reference_models.spcolor.vgg import SPColorVGG

    caffe = args.caffe or checkpoints_dir() / "vgg19_conv.pth"
    real_torchvision, real_caffe = torchvision_is_official(), caffe.is_file()
    names, batch = photos(args.images, args.size)
    print(f"{len(names)} photographs from {args.images}, {args.size} x {args.size}; layer {LAYER}")
    print("255 * ImageNet std (R, G, B): " + ", ".join(f"{255 * s:.3f}" for s in IMAGENET_STD)
          + f"; colorbench's constant: {TORCHVISION_TO_CAFFE_FEATURE_SCALE}")
    with tempfile.TemporaryDirectory() as scratch:
        if not real_torchvision:
            os.environ["TORCH_HOME"] = scratch
            write_random_weights(scratch, ["vgg19"])
        torchvision = SPColorVGG(layers=(LAYER,))
        reference = mean_abs(torchvision, batch)
        biases = max(float(p.abs().max()) for n, p in torchvision.named_parameters() if n.endswith("bias"))
        print(f"torchvision VGG19: {'official weights' if real_torchvision else 'RANDOM STAND-IN weights'}; "
              f"largest |bias| up to {LAYER}: {biases:.3g}")
        rows = []
        if real_caffe:
            rows.append(("released Caffe port (" + str(caffe) + ")", SPColorVGG(layers=(LAYER,)).load_caffe(caffe)))
        else:
            print(f"Caffe VGG19: {caffe} absent: RANDOM STAND-INS built from the torchvision weights above "
                  "(the ratios below measure nothing about the trained networks)")
            for label, equivalent in (("same weights, Caffe input", False), ("function-equivalent port", True)):
                path = caffe_file(torchvision, Path(scratch) / f"vgg19_conv_{int(equivalent)}.pth", equivalent)
                rows.append((label, SPColorVGG(layers=(LAYER,)).load_caffe(path)))
        print(f"{'image':<22}{'torchvision':>14}" + "".join(f"{label[:30]:>34}" for label, _ in rows))
        values = [mean_abs(vgg, batch) for _, vgg in rows]
        for i, name in enumerate(names):
            print(f"{name:<22}{float(reference[i]):>14.5g}"
                  + "".join(f"{float(v[i]):>20.5g} (x{float(v[i] / reference[i]):>9.4f})" for v in values))
        for (label, _), v in zip(rows, values):
            ratio = float(v.mean() / reference.mean())
            print(f"ratio of mean |{LAYER}|, {label}: {ratio:.4f} (squared, the SMP's factor: {ratio ** 2:.1f})")


if __name__ == "__main__":
    main()
