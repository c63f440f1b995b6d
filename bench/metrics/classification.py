"""``top1`` / ``top5``: ImageNet accuracy of torchvision's ResNet-101 on the colorized outputs.

Per image the metric is 1.0 when the split's label is among the classifier's top-1 (top-5)
predictions, else 0.0, so the mean over a split is the accuracy and its ci95 exists; an unknown
label (-1) gives NaN for that image. The classifier is ``torchvision.models.resnet101`` with
``ResNet101_Weights.IMAGENET1K_V1``; the input is resized so its short side is
``ScoreConfig.classifier_resize`` (bilinear, antialiased), centre-cropped to ``classifier_crop``,
scaled to [0, 1] and ImageNet-normalised. The defaults, 224 and 224, are SPColor's evaluation
(resize to 224, centre crop 224); torchvision's own ImageNet transform is 256 -> 224
(``classifier_resize = 256``).

top1 and top5 share one network and one forward pass: both factories return views of a single
:class:`ImageNetClassifier` per (device, sizes), held in a weak-value map (it lives as long as a
metric uses it), and the classifier keeps the logits of the last images it saw, recognised by
identity (a weak reference, so a new tensor that reuses a freed one's id is never mistaken for it).
"""

from __future__ import annotations

import weakref

from ..config import ScoreConfig
from ..core.lazy import lazy_import
from ..core.weights import ensure_weights
from .base import Batch, check_images
from .registry import register_metric

torch = lazy_import("torch")

__all__ = ["NUM_CLASSES", "ImageNetClassifier", "imagenet_eval_transform", "topk_hits"]

NUM_CLASSES = 1000


def imagenet_eval_transform(images: torch.Tensor, resize: int = 256, crop: int = 224) -> torch.Tensor:
    """torchvision's ImageNet evaluation transform (``ImageClassification``) on a uint8 batch.

    Args:
        images: uint8 ``(B, 3, H, W)``.
        resize: the short side after resizing (bilinear, antialiased, on the uint8 images as
            torchvision does, so the rounding is the same).
        crop: side of the centre crop.

    Returns:
        float32 ``(B, 3, crop, crop)``, ``(x / 255 - mean) / std``.
    """
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    from ..features.vgg import IMAGENET_MEAN, IMAGENET_STD

    check_images(images)
    x = TF.resize(images, [resize], interpolation=InterpolationMode.BILINEAR, antialias=True)
    x = TF.center_crop(x, [crop])
    x = TF.convert_image_dtype(x, torch.float)
    return TF.normalize(x, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))


def topk_hits(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Whether each label is among the ``k`` highest logits.

    Args:
        logits: ``(B, C)`` class scores.
        labels: ``(B,)`` integer class indices in [0, C), or -1 for unknown.
        k: 1 for top-1, 5 for top-5.

    Returns:
        ``(B,)`` float64: 1.0 (hit), 0.0 (miss), NaN where the label is -1.
    """
    if logits.dim() != 2 or not 1 <= k <= logits.shape[1]:
        raise ValueError(f"logits must be (B, C) with C >= k = {k}, got shape {tuple(logits.shape)}")
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must have shape ({logits.shape[0]},), got {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integer class indices, got {labels.dtype}")
    labels = labels.to(logits.device, torch.int64)
    bad = (labels < -1) | (labels >= logits.shape[1])
    if bad.any():
        raise ValueError(f"labels must be in [0, {logits.shape[1]}) or -1 (unknown), got {labels[bad].tolist()}")
    top = logits.topk(k, dim=1).indices
    hits = (top == labels[:, None]).any(dim=1).double()
    return hits.masked_fill(labels < 0, float("nan"))


class ImageNetClassifier:
    """ResNet-101 (IMAGENET1K_V1) with its evaluation transform; remembers the last batch's logits."""

    def __init__(self, device: torch.device | str, resize: int = 256, crop: int = 224):
        from torchvision.models import ResNet101_Weights, resnet101

        ensure_weights("resnet101")  # a one-line error naming the file before torchvision tries a download
        self.model = resnet101(weights=ResNet101_Weights.IMAGENET1K_V1).to(device).eval().requires_grad_(False)
        self.device, self.resize, self.crop = device, resize, crop
        self._last: tuple[weakref.ref, int, torch.Tensor] | None = None

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 1000)`` float32 logits of uint8 ``(B, 3, H, W)`` images; one forward per new batch."""
        if self._last is not None and self._last[0]() is images and self._last[1] == images._version:
            return self._last[2]
        x = imagenet_eval_transform(images.to(self.device), self.resize, self.crop)
        with torch.no_grad():
            logits = self.model(x)
        self._last = (weakref.ref(images), images._version, logits)
        return logits


#: one classifier per (device, resize, crop), alive while a metric holds it
_SHARED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def shared_classifier(config: ScoreConfig, device: torch.device | str) -> ImageNetClassifier:
    """The :class:`ImageNetClassifier` for ``config``'s sizes on ``device``, built on first use."""
    ensure_weights("resnet101")  # also when one is cached: the file must still be there
    key = (str(torch.device(device)), config.classifier_resize, config.classifier_crop)
    classifier = _SHARED.get(key)
    if classifier is None:
        classifier = ImageNetClassifier(device, config.classifier_resize, config.classifier_crop)
        _SHARED[key] = classifier
    return classifier


class TopK:
    """The ``top1`` / ``top5`` metric: per-image hits of a shared classifier (``classifier``)."""

    def __init__(self, classifier: ImageNetClassifier, k: int):
        self.classifier, self.k = classifier, k

    def __call__(self, batch: Batch) -> torch.Tensor:
        """``(B,)`` float64 hits of ``batch.pred`` against ``batch.label`` (NaN where -1)."""
        if batch.label is None:
            raise ValueError(f"top{self.k} needs class labels, the batch has none")
        return topk_hits(self.classifier.logits(batch.pred), batch.label, self.k)


_MATCHES = ("torchvision resnet101(weights=ResNet101_Weights.IMAGENET1K_V1) after torchvision's ImageNet "
            "evaluation transform with resize classifier_resize (default 224, as SPColor's evaluation) and centre "
            "crop classifier_crop (224)")


@register_metric("top1", higher_is_better=True, needs=("label",), networks=("resnet101",),
                 matches=_MATCHES)
def top1_metric(config, device):
    """Top-1 ImageNet accuracy of ResNet-101 on the outputs (1 = label is the top prediction)."""
    return TopK(shared_classifier(config, device), 1)


@register_metric("top5", higher_is_better=True, needs=("label",), networks=("resnet101",),
                 matches=_MATCHES)
def top5_metric(config, device):
    """Top-5 ImageNet accuracy of ResNet-101 on the outputs (1 = label among the top five)."""
    return TopK(shared_classifier(config, device), 5)
