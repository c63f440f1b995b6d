"""The random stand-in weights load through the libraries' own code and give varied features."""

import lpips
import numpy as np
import torch
import torchvision.models as tvm
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from bench.testing import calibration_batch


def _spread(features: torch.Tensor) -> float:
    """Smallest distance between two images' features relative to the features' scale."""
    flat = features.flatten(1).double()
    distances = torch.cdist(flat, flat)
    off_diagonal = distances[~torch.eye(len(flat), dtype=torch.bool)]
    return float(off_diagonal.min() / flat.norm(dim=1).mean())


def test_inception_stand_in_loads_through_torch_fidelity(random_weights):
    random_weights("inception_fid")
    extractor = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    (features,) = extractor(calibration_batch(64))
    assert features.shape[1] == 2048
    assert _spread(features) > 1e-3  # BatchNorm calibrated: features differ between images


def test_torchvision_stand_ins_load_with_official_weight_enums(random_weights):
    random_weights("resnet101", "vgg19_bn")
    batch = calibration_batch(96).float() / 255.0
    resnet = tvm.resnet101(weights=tvm.ResNet101_Weights.IMAGENET1K_V1).eval()
    with torch.no_grad():
        logits = resnet(batch)
    assert _spread(logits) > 1e-3
    vgg_bn = tvm.vgg19_bn(weights=tvm.VGG19_BN_Weights.IMAGENET1K_V1).eval()
    with torch.no_grad():
        features = vgg_bn.features[:20](batch)
    assert _spread(features) > 1e-3


def test_lpips_loads_alexnet_stand_in(random_weights):
    random_weights("alexnet")
    metric = lpips.LPIPS(net="alex", verbose=False)
    batch = calibration_batch(64).float() / 127.5 - 1.0
    with torch.no_grad():
        same = metric(batch[:2], batch[:2]).flatten()
        different = metric(batch[:2], batch[2:4]).flatten()
    assert torch.all(same.abs() < 1e-6)
    assert torch.all(different > 0)


def test_stand_ins_are_deterministic(tmp_path):
    from bench.testing import write_random_weights

    a = torch.load(write_random_weights(tmp_path / "a", ["alexnet"])[0], weights_only=True)
    b = torch.load(write_random_weights(tmp_path / "b", ["alexnet"])[0], weights_only=True)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not np.allclose(a["features.0.weight"].numpy(), 0)
