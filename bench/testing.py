"""Randomly initialised stand-ins for the pretrained networks, for offline tests.

:func:`write_random_weights` writes a state dict under each network's exact file name into
``<torch_home>/hub/checkpoints``, so torchvision, lpips and torch-fidelity run their real loading
code unchanged. Numbers computed with these weights exercise code paths and equivalence with the
reference implementations; they are never results.

A freshly initialised net with BatchNorm gives nearly constant features in eval mode (running
mean 0, variance 1), which would make every FID 0 and equivalence tests vacuous. So the BatchNorm
statistics of such nets are calibrated on a few real photographs (the bundled demo set) first.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable
from unittest import mock

import torch
import torch.nn.functional as F

from .core.weights import get_weight_spec

__all__ = ["write_random_weights", "calibration_batch", "RANDOM_WEIGHT_NETWORKS"]


def _torchvision(builder_name: str) -> Callable[[], torch.nn.Module]:
    def build() -> torch.nn.Module:
        import torchvision.models

        return getattr(torchvision.models, builder_name)(weights=None)

    return build


def _inception_v3_torchvision() -> torch.nn.Module:
    import torchvision.models

    return torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)


def _inception_fid() -> torch.nn.Module:
    # torch-fidelity's extractor loads its weights inside __init__; skip that once to obtain the
    # randomly initialised architecture whose state dict we then save under the official name.
    from torch_fidelity import feature_extractor_inceptionv3 as tf_inception

    cls = tf_inception.FeatureExtractorInceptionV3
    with mock.patch.object(tf_inception, "load_state_dict_from_url", return_value={}), \
            mock.patch.object(cls, "load_state_dict", return_value=None):
        return cls("inception-v3-compat", ["2048"])


#: network name -> (builder of the architecture, input side for BatchNorm calibration, uint8 input?)
RANDOM_WEIGHT_NETWORKS: dict[str, tuple[Callable[[], torch.nn.Module], int, bool]] = {
    "alexnet": (_torchvision("alexnet"), 224, False),
    "vgg16": (_torchvision("vgg16"), 224, False),
    "vgg19": (_torchvision("vgg19"), 224, False),
    "vgg19_bn": (_torchvision("vgg19_bn"), 224, False),
    "resnet101": (_torchvision("resnet101"), 224, False),
    "inception_fid": (_inception_fid, 299, True),
    "inception_v3_torchvision": (_inception_v3_torchvision, 299, False),
}


#: Each stand-in's seed offset, fixed so that registering another network never changes a stand-in.
_SEED_OFFSETS = {"alexnet": 0, "inception_fid": 1, "resnet101": 4, "vgg16": 5, "vgg19": 6, "vgg19_bn": 7,
                "inception_v3_torchvision": 8}


def calibration_batch(side: int) -> torch.Tensor:
    """The bundled demo photographs resized to ``side`` x ``side``: uint8 ``(N, 3, side, side)``."""
    from .core.images import list_images, read_rgb
    from .demo_data import demo_images_dir

    images = []
    for path in list_images(demo_images_dir()):
        x = torch.from_numpy(read_rgb(path)).permute(2, 0, 1)[None].float()
        images.append(F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False))
    return torch.cat(images).round().clamp(0, 255).to(torch.uint8)


@contextmanager
def _seeded(seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _calibrate_batchnorm(model: torch.nn.Module, side: int, uint8_input: bool) -> None:
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one pass gives the batch statistics exactly
    batch = calibration_batch(side)
    if not uint8_input:
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        batch = (batch.float() / 255.0 - mean) / std
    model.train()
    with torch.no_grad():
        model(batch)
    model.eval()


def write_random_weights(torch_home: str | os.PathLike, names: Iterable[str] | None = None,
                         seed: int = 0) -> list[Path]:
    """Write random (BatchNorm-calibrated) weights for ``names`` under ``torch_home``.

    Files already present are kept. Returns the paths of the files, written or kept.
    """
    folder = Path(torch_home) / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names if names is not None else RANDOM_WEIGHT_NETWORKS:
        spec = get_weight_spec(name)
        if name not in RANDOM_WEIGHT_NETWORKS:
            raise ValueError(f"no random stand-in for {name!r} (it ships with {spec.bundled_in or 'its library'})")
        path = folder / spec.file_name
        if not path.exists():
            build, side, uint8_input = RANDOM_WEIGHT_NETWORKS[name]
            with _seeded(seed + _SEED_OFFSETS[name]):
                model = build()
            _calibrate_batchnorm(model, side, uint8_input)
            state = {k: v.contiguous() for k, v in model.state_dict().items()}
            tmp = path.with_name(f".{path.name}.tmp")
            torch.save(state, tmp)
            os.replace(tmp, path)
        paths.append(path)
    return paths
