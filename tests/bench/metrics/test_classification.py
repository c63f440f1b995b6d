"""top1 / top5 against torchvision's own ResNet-101 evaluation transform + model.

The ResNet-101 weights are random stand-ins (BatchNorm calibrated on real photographs, so logits
differ between images): the numbers test preprocessing, batching and the top-k decisions, never
the metric's values.
"""

from __future__ import annotations

import math

import pytest
import torch

from bench.config import ScoreConfig
from bench.core.errors import MissingWeightsError
from bench.metrics.base import Batch
from bench.metrics.classification import (
    imagenet_eval_transform,
    top1_metric,
    top5_metric,
    topk_hits,
)
from bench.metrics.registry import get_metric
from bench.testing import calibration_batch

CONFIG = ScoreConfig()


@pytest.fixture(scope="module")
def metrics(build_offline):
    """top1 and top5 (one ResNet-101 load) for the module, under the session's offline TORCH_HOME."""
    return build_offline(["resnet101"], lambda: (top1_metric(CONFIG, "cpu"), top5_metric(CONFIG, "cpu")))


@pytest.fixture(scope="module")
def images():
    return calibration_batch(200)[:3, :, :, 40:190].contiguous()  # 200 x 150: the short side is resized


@pytest.fixture(scope="module")
def reference_logits(metrics, images):
    """torchvision's way, one image at a time: its ImageNet evaluation transform (the weights'
    transforms(), with SPColor's resize 224 instead of 256) then the model."""
    from torchvision.transforms._presets import ImageClassification

    transform = ImageClassification(crop_size=CONFIG.classifier_crop, resize_size=CONFIG.classifier_resize)
    model = metrics[0].classifier.model
    with torch.no_grad():
        return torch.cat([model(transform(image)[None]) for image in images])


def test_logits_match_torchvision(metrics, images, reference_logits):
    logits = metrics[0].classifier.logits(images)
    torch.testing.assert_close(logits, reference_logits, rtol=0, atol=1e-5)
    assert (reference_logits[1:] - reference_logits[0]).abs().amax(dim=1).min() > 1e-2  # images differ


def test_default_is_spcolors_resize_224_crop_224():
    assert (CONFIG.classifier_resize, CONFIG.classifier_crop) == (224, 224)
    assert "224" in get_metric("top1").matches and "SPColor" in get_metric("top1").matches


def test_topk_decisions_match_torchvision(metrics, images, reference_logits):
    top1, top5 = metrics
    ranked = reference_logits.argsort(dim=1, descending=True)
    # image 0: its top class; image 1: its 3rd (top-5 only); image 2: its 10th (neither)
    labels = torch.stack([ranked[0, 0], ranked[1, 2], ranked[2, 9]])
    batch = Batch(pred=images, label=labels)
    assert top1(batch).tolist() == [1.0, 0.0, 0.0]
    assert top5(batch).tolist() == [1.0, 1.0, 0.0]


def test_one_forward_for_both(metrics, images):
    top1, top5 = metrics
    assert top1.classifier is top5.classifier
    calls = []
    hook = top1.classifier.model.register_forward_hook(lambda *args: calls.append(1))
    try:
        batch = Batch(pred=images[:1].clone(), label=torch.tensor([3]))
        hit1, hit5 = top1(batch), top5(batch)
        assert len(calls) == 1
        assert (hit5 >= hit1).all()
        top1(Batch(pred=images[:1].clone(), label=torch.tensor([3])))  # a new batch: a new pass
        assert len(calls) == 2
    finally:
        hook.remove()


def test_unknown_label_is_nan():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3]])
    hits = topk_hits(logits, torch.tensor([1, -1]), 1)
    assert hits.dtype == torch.float64 and hits[0] == 1.0 and math.isnan(hits[1])


def test_bad_labels():
    logits = torch.zeros(2, 10)
    with pytest.raises(ValueError, match=r"\[10\]"):
        topk_hits(logits, torch.tensor([0, 10]), 1)
    with pytest.raises(ValueError, match=r"\[-2\]"):
        topk_hits(logits, torch.tensor([-2, 0]), 1)
    with pytest.raises(TypeError, match="integer"):
        topk_hits(logits, torch.tensor([0.0, 1.0]), 1)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        topk_hits(logits, torch.tensor([0, 1, 2]), 1)
    with pytest.raises(ValueError, match=r"\(2, 10\)"):
        topk_hits(logits, torch.tensor([0, 1]), 11)


def test_batch_without_labels(metrics, images):
    with pytest.raises(ValueError, match="labels"):
        metrics[0](Batch(pred=images))


def test_transform_bad_input():
    with pytest.raises(ValueError, match=r"\(3, 8, 8\)"):
        imagenet_eval_transform(torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        imagenet_eval_transform(torch.zeros(1, 3, 8, 8))


def test_missing_weights_is_one_line(empty_torch_home):
    with pytest.raises(MissingWeightsError, match="resnet101-63fe2227.pth"):
        top1_metric(CONFIG, "cpu")


def test_through_the_tensor_api_equals_torchvision(metrics, images, reference_logits, build_offline):
    from bench import create_metric

    top5 = build_offline(["resnet101"], lambda: create_metric("top5"))
    labels = reference_logits.argsort(dim=1, descending=True)[:, 3]  # each image's 4th class: a top-5 hit
    assert top5(pred=images, label=labels).tolist() == [1.0, 1.0, 1.0]
    assert top5(pred=images.float() / 255, label=labels).tolist() == [1.0, 1.0, 1.0]
