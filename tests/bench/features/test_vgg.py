"""Named VGG19 layers: the same activations as torchvision's own network, sliced."""

from __future__ import annotations

import pytest
import torch

from bench.features.vgg import IMAGENET_MEAN, IMAGENET_STD, VGGFeatures, vgg_layer_names


@pytest.fixture(scope="module")
def vgg(build_offline):
    return build_offline(["vgg19"], lambda: VGGFeatures(["relu1_2", "relu3_2", "fc6"]))


def test_layers_are_torchvisions_activations(vgg):
    import torchvision

    x = torch.rand(2, 3, 224, 224)
    out = vgg(x)
    assert [tuple(out[k].shape) for k in ("relu1_2", "relu3_2", "fc6")] == [(2, 64, 224, 224), (2, 256, 56, 56),
                                                                           (2, 4096)]
    reference = torchvision.models.vgg19()
    reference.load_state_dict({**vgg.features.state_dict(prefix="features."),
                               **vgg.classifier.state_dict(prefix="classifier.")}, strict=False)
    reference.eval()
    normalised = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(out["relu3_2"], reference.features[:14](normalised))
        fc6 = torch.relu(reference.classifier[0](torch.flatten(reference.avgpool(reference.features(normalised)), 1)))
    torch.testing.assert_close(out["fc6"], fc6, rtol=1e-4, atol=1e-4)
    assert not any(p.requires_grad for p in vgg.parameters())


def test_layer_names_and_bad_layers(vgg):
    names = vgg_layer_names(vgg.features)
    assert names[:4] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2"] and "pool2" in names
    with pytest.raises(ValueError, match="unknown VGG layer"):
        VGGFeatures(["relu9_9"])
