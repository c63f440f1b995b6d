"""Semantic priors for SPColor: a pseudo-class and a classification confidence per position.

One interface, :class:`SemanticPrior`: called on images :math:`(B, 3, H, W)` (RGB in [0, 1]), it
returns :class:`PriorOutput` ``(classes, confidence)`` at the correspondence resolution
(``out_size``, 64 x 64 for a 256 input): ``classes`` int64 in ``[0, num_classes)``, ``confidence``
float in [0, 1] (``S_cl`` of the paper). Only *whether two positions share a class* matters to
SPC, never what the class means.

The target is gray: :class:`~reference_models.spcolor.model.SPColor` hands a prior the neutral gray
image of the target's CIELAB L (:func:`gray_from_l`), never its colour. For the reference the
prior says what it wants through its ``gray_reference`` attribute (STEGO, as the authors: the
colour reference; :class:`KMeansPrior`: gray, since its centroids are fit on gray images).

Implementations:

* :class:`~reference_models.spcolor.stego.StegoPrior`: the paper's prior, STEGO (DINO ViT-B/8)
  from a user-supplied checkpoint.
* :class:`KMeansPrior`: no extra network or file: k-means clusters of the toolkit's own VGG19
  features. Centroids are fit **once, on a sample of training images** (:meth:`KMeansPrior.fit`)
  and stored as a buffer (saved in the state dict), like STEGO's fixed cluster centres. Per-image
  (or per-pair) clustering was rejected: class ids must mean the same thing in the target and the
  reference, and clustering a pair jointly would give every one of the ``k`` classes to every
  pair, so a reference could never *lack* a target class and SPC's unrelated regions would vanish.
  Confidence mirrors STEGO's ``cluster_probe(code, alpha=10)``: ``max_c softmax_c(10 cos(f, mu_c))``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.color import rgb_to_lab
from bench.core.errors import ColorbenchError
from reference_models.layers.checks import check_tensor
from reference_models.layers.precision import autocast_off, full_precision

__all__ = [
    "KMeansPrior",
    "PriorOutput",
    "SemanticPrior",
    "as_gray_rgb",
    "check_images",
    "check_prior_output",
    "cluster_maps",
    "gray_from_l",
    "spherical_kmeans",
]


class PriorOutput(NamedTuple):
    """A prior's answer for a batch.

    Attributes:
        classes: :math:`(B, h, w)` int64 pseudo-classes in ``[0, k)``.
        confidence: :math:`(B, h, w)` float in [0, 1].
    """

    classes: torch.Tensor
    confidence: torch.Tensor


@runtime_checkable
class SemanticPrior(Protocol):
    """What SPColor needs from a semantic prior.

    Attributes:
        num_classes: ``k``.
        out_size: side of the returned maps (64 for a 256 input).
        gray_reference: the reference too is turned gray before the prior sees it.
    """

    num_classes: int
    out_size: int
    gray_reference: bool

    def __call__(self, images: torch.Tensor) -> PriorOutput:
        """``images`` :math:`(B, 3, H, W)` RGB in [0, 1] -> :class:`PriorOutput` at ``out_size``."""
        ...


def check_images(images: torch.Tensor, name: str = "images") -> None:
    """What a prior takes: float :math:`(B, 3, H, W)` RGB in [0, 1] or :math:`(B, 1, H, W)` CIELAB L."""
    check_tensor(images, name, ("B 3 H W", "B 1 H W"), "float")


def gray_from_l(lightness: torch.Tensor) -> torch.Tensor:
    """The neutral sRGB gray of each CIELAB lightness: :math:`(B, 1, H, W)` L in [0, 100] ->
    :math:`(B, 3, H, W)` in [0, 1] with three equal channels.

    The same gray image every colorization method receives (:func:`bench.core.color.rgb_to_gray`,
    here exact and differentiable): ``Y = f^-1((L + 16) / 116)`` (CIELAB's inverse), then the sRGB
    transfer curve. (The released SPColor gave STEGO PIL's ``convert("L")`` luma instead.)
    """
    check_tensor(lightness, "lightness", "B 1 H W")
    fy = (lightness.clamp(0.0, 100.0) + 16.0) / 116.0
    y = torch.where(fy > 6.0 / 29.0, fy ** 3, (fy - 16.0 / 116.0) / 7.787)
    srgb = torch.where(y > 0.0031308, 1.055 * y.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, 12.92 * y)
    return srgb.clamp(0.0, 1.0).expand(-1, 3, -1, -1)


def as_gray_rgb(images: torch.Tensor) -> torch.Tensor:
    """Anything given as a target -> its neutral gray RGB :math:`(B, 3, H, W)` in [0, 1].

    :math:`(B, 1, H, W)` is read as CIELAB L in [0, 100]; :math:`(B, 3, H, W)` as RGB in [0, 1],
    whose colour is dropped (its L kept). So a prior fed through here can never see target colour.
    """
    check_images(images)
    if images.shape[1] == 1:
        return gray_from_l(images)
    return gray_from_l(rgb_to_lab(images.clamp(0.0, 1.0))[:, :1])


def check_prior_output(output: PriorOutput, batch: int, num_classes: int) -> PriorOutput:
    """Check a prior's answer (types, shapes, ranges); returns it unchanged.

    Raises:
        TypeError / ValueError: naming what is wrong.
    """
    classes, confidence = output
    check_tensor(classes, "a prior's classes", f"{batch} h w", torch.int64)
    check_tensor(confidence, "a prior's confidence", " ".join(map(str, classes.shape)))  # the classes' shape
    if classes.numel() and (int(classes.min()) < 0 or int(classes.max()) >= num_classes):
        raise ValueError(f"a prior's classes must be in [0, {num_classes}); got [{int(classes.min())}, "
                         f"{int(classes.max())}]")
    if confidence.numel() and (float(confidence.min()) < 0 or float(confidence.max()) > 1):
        raise ValueError("a prior's confidence must be in [0, 1]")
    return output


def cluster_probabilities(features: torch.Tensor, centroids: torch.Tensor, alpha: float) -> torch.Tensor:
    """STEGO's ``ClusterLookup``: ``softmax_c(alpha * cos(f, mu_c))``; :math:`(B, D, h, w)` x
    :math:`(k, D)` -> :math:`(B, k, h, w)`. In float32 under bf16 autocast: bfloat16 cosines changed
    the class of 8% of the positions (near-ties; 0.1% with only the features in bfloat16)."""
    with autocast_off(features.device):
        cos = torch.einsum("bdhw,kd->bkhw", F.normalize(full_precision(features), dim=1),
                           F.normalize(full_precision(centroids), dim=1))
        return torch.softmax(cos * alpha, dim=1)


def cluster_maps(probabilities: torch.Tensor, out_size: int) -> PriorOutput:
    """Class = argmax and confidence = max of :math:`(B, k, h, w)` cluster probabilities, nearest-
    resized to ``out_size`` x ``out_size``: what every prior returns."""
    confidence, classes = probabilities.max(1)
    size = (out_size, out_size)
    classes = F.interpolate(classes[:, None].double(), size=size, mode="nearest")[:, 0].long()
    confidence = F.interpolate(confidence[:, None], size=size, mode="nearest")[:, 0]
    return PriorOutput(classes, confidence)


def spherical_kmeans(points: torch.Tensor, k: int, generator: torch.Generator, iterations: int = 50) -> torch.Tensor:
    """Cosine k-means: :math:`(N, D)` points (normalised inside) -> :math:`(k, D)` unit centroids.

    k-means++ seeding with ``generator`` (distance ``1 - cos``), then Lloyd iterations (assign by
    the largest cosine; a centroid is its cluster's normalised mean) until the assignment stops
    changing or ``iterations`` run out; an emptied cluster takes the point worst served by its
    centroid. Deterministic given the generator's seed.
    """
    if points.ndim != 2 or points.shape[0] < k:
        raise ValueError(f"points must be (N, D) with N >= k = {k}; got {tuple(points.shape)}")
    x = F.normalize(points.double(), dim=1)
    first = int(torch.randint(x.shape[0], (1,), generator=generator))
    centroids = [x[first]]
    dist = 1.0 - x @ x[first]
    for _ in range(1, k):
        weights = dist.clamp(min=0.0) ** 2
        index = int(torch.multinomial(weights, 1, generator=generator)) if float(weights.sum()) > 0 else \
            int(torch.randint(x.shape[0], (1,), generator=generator))
        centroids.append(x[index])
        dist = torch.minimum(dist, 1.0 - x @ x[index])
    mu = torch.stack(centroids)
    assign = None
    for _ in range(iterations):
        cos = x @ mu.T
        new_assign = cos.argmax(1)
        if assign is not None and bool((new_assign == assign).all()):
            break
        assign = new_assign
        sums = torch.zeros_like(mu).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k)
        served = cos.gather(1, assign[:, None])[:, 0]
        for empty in torch.nonzero(counts == 0).flatten().tolist():  # rare; at most k iterations
            worst = int(served.argmin())
            sums[empty] = x[worst]
            served[worst] = float("inf")
        mu = F.normalize(sums, dim=1)
    return mu.to(points.dtype)


class KMeansPrior(nn.Module):
    """k-means pseudo-classes of VGG19 features, fit once on a sample of (gray) training images.

    Features: ``relu4_2`` (H/8) and ``relu5_2`` (H/16, bilinearly upsampled to H/8) of the gray
    image resized to ``input_size``, each L2-normalised over channels, concatenated and
    normalised again (1024 dims); classes and confidence at H/8 (32 x 32 at 256, STEGO's
    resolution), nearest-resized to ``out_size``.

    Args:
        num_classes: ``k`` (default 22, the paper's best).
        vgg: a callable ``RGB (B, 3, H, W) in [0, 1] -> {layer: features}`` holding ``relu4_2`` and
            ``relu5_2``; default: :class:`~reference_models.spcolor.vgg.SPColorVGG` (the registry's
            ``vgg19``).
        input_size: the images are resized to this square first (bilinear, antialiased).
        out_size: side of the returned maps.
        alpha: the confidence's softmax sharpness (STEGO's 10).
        seed: seed of :meth:`fit` (k-means++ seeding and position sampling).
        gray_reference: the reference is also made gray before the prior (default True: the
            centroids describe gray images).
    """

    LAYERS = ("relu4_2", "relu5_2")

    def __init__(self, num_classes: int = 22, vgg: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,
                 input_size: int = 256, out_size: int = 64, alpha: float = 10.0, seed: int = 0,
                 gray_reference: bool = True):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; got {num_classes}")
        if input_size % 16:
            raise ValueError(f"input_size must be divisible by 16; got {input_size}")
        if vgg is None:
            from reference_models.spcolor.vgg import SPColorVGG

            vgg = SPColorVGG(self.LAYERS)
        self.vgg = vgg
        self.num_classes, self.input_size, self.out_size = num_classes, input_size, out_size
        self.alpha, self.seed, self.gray_reference = alpha, seed, gray_reference
        self.register_buffer("centroids", torch.zeros(num_classes, 0))

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` ran (or fitted centroids were loaded)."""
        return self.centroids.shape[1] > 0

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Fitted centroids have a width the unfitted (k, 0) placeholder lacks: take the file's shape.
        key = prefix + "centroids"
        if key in state_dict:
            self.centroids = torch.empty_like(state_dict[key], device=self.centroids.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Gray features: images :math:`(B, 3|1, H, W)` -> :math:`(B, D, s/8, s/8)` unit vectors
        (``s = input_size``)."""
        gray = as_gray_rgb(images)
        if gray.shape[-2:] != (self.input_size, self.input_size):
            gray = F.interpolate(gray, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                                 antialias=True)
        feats = self.vgg(gray)
        side = self.input_size // 8
        r4 = F.normalize(feats["relu4_2"], dim=1)
        r5 = F.normalize(F.interpolate(feats["relu5_2"], size=(side, side), mode="bilinear", align_corners=False),
                         dim=1)
        return F.normalize(torch.cat([r4, r5], 1), dim=1)

    @torch.no_grad()
    def fit(self, images: torch.Tensor | Iterable[torch.Tensor], positions_per_image: int = 256,
            iterations: int = 50) -> KMeansPrior:
        """Fit the centroids on training images (their gray versions); returns ``self``.

        Args:
            images: one batch :math:`(N, 3, H, W)` RGB in [0, 1], or an iterable of such batches.
            positions_per_image: feature positions drawn per image (without replacement, seeded).
            iterations: Lloyd iterations at most (:func:`spherical_kmeans`).
        """
        generator = torch.Generator().manual_seed(self.seed)
        batches = [images] if isinstance(images, torch.Tensor) else images
        points = []
        for batch in batches:
            feats = self.embed(batch).flatten(2).transpose(1, 2).cpu()  # (B, P, D)
            take = min(positions_per_image, feats.shape[1])
            # an independent random subset of positions per image (argsort of uniform draws)
            pick = torch.rand(feats.shape[:2], generator=generator).argsort(1)[:, :take]
            points.append(feats.gather(1, pick[..., None].expand(-1, -1, feats.shape[2])).reshape(-1, feats.shape[2]))
        if not points:
            raise ColorbenchError("KMeansPrior.fit needs at least one image")
        self.centroids = spherical_kmeans(torch.cat(points), self.num_classes, generator, iterations).to(
            self.centroids.device, torch.float32)
        return self

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> PriorOutput:
        """Images :math:`(B, 3, H, W)` RGB in [0, 1] (or :math:`(B, 1, H, W)` L) -> :class:`PriorOutput`
        at ``out_size``. Only the images' lightness is used."""
        if not self.fitted:
            raise ColorbenchError("KMeansPrior has no centroids: call fit(images) on training images, or load a "
                                  "state dict that holds them")
        probs = cluster_probabilities(self.embed(images), self.centroids.to(images.device), self.alpha)
        return cluster_maps(probs, self.out_size)
