"""SPColor's training losses (paper eq. 11-17; the released ``train_stego.py`` where the paper is silent).

All images are CIELAB with L in [0, 100] and raw ab (about [-128, 127]), as the released code's
``uncenter_l`` outputs; VGG features are :class:`~reference_models.spcolor.vgg.SPColorVGG`'s.

* **L1** (eq. 16, x2): ``|ab_pred - ab_gt|`` on the *self-reference* samples only (their reference
  is their own colour image, so the ground truth is the right answer), averaged over those samples
  (:func:`self_reference_l1`); 0 in a batch without one.
* **SMP** (eq. 15, x0.01): ``(phi(pred) - phi(gt))^2`` at VGG relu5_2, weighted by ``1 - S`` (``S``
  detached, nearest-resized to the feature map), averaged over everything
  (:func:`similarity_masked_perceptual`): little penalty where the warp is trusted. The features
  are first brought to the Caffe VGG19's scale the 0.01 was tuned on (x ``smp_feature_scale``,
  57.63 with torchvision's VGG19 by default, so the loss x3321; see
  :class:`~reference_models.spcolor.config.SPColorConfig`).
* **Adversarial** (x0.4): relativistic-average LSGAN, as released
  (:func:`relativistic_lsgan_generator` / :func:`relativistic_lsgan_discriminator`).
* **Smoothness** (x2): ``MSE(ab_pred, sum_n w_n ab_pred(n))`` over each pixel's 3x3 neighbours
  ``n``, ``w = softmax_n(-||Lab_gt(n) - Lab_gt||^2 / 2)`` (zero padding at the border, as released:
  :func:`smoothness_loss`).
* **Contextual** (released code only; off by default, x0.2): the forward contextual loss
  (``h = 0.1``) of the output's VGG features against the *reference's*: relu5_2 x8, relu4_2 x4,
  relu3_2 (2x2 average-pooled) x2 (:func:`contextual_loss`).

:class:`SPColorLoss` puts them together for one training iteration.

**Precision.** Training runs under bf16 autocast; these losses run in float32 inside it
(:mod:`reference_models.layers.precision`) where bfloat16 was measured to be wrong (random VGG19
weights, four demo photographs at 192 x 192, the prediction = the ground truth's ab + Gaussian
noise of 1 or 4 ab units):

* the perceptual features: VGG19 in bfloat16 on two nearly equal images put the SMP loss off by
  19% (noise 1) and 1.3% (noise 4) and turned its gradient (cosine 0.86 and 0.94 with float32's),
  so the VGG19 of the output and of the ground truth runs in float32 (its features also feed the
  contextual loss);
* the contextual loss: ``1 - cos`` near its minimum, divided by that minimum and by ``h = 0.1``:
  the released three-layer sum in bfloat16, on the same (bfloat16-rounded) features, was off by
  0.3% and its gradient's cosine with float32's was 0.97 (against another image's features);
* the GAN losses: ``D(r) - mean D(f)`` subtracts logits whose level is free (the relativistic
  loss does not see it), so they are taken in float32 from the discriminator's float32 head.

The L1 and smoothness terms already ran in float32 (a float32 operand promotes the output's
bfloat16 ab) and equal their float32 values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.color import lab_to_rgb
from reference_models.layers.precision import autocast_off, full_precision
from reference_models.spcolor.config import SPColorConfig
from reference_models.spcolor.correspondence import normalize_features

if TYPE_CHECKING:
    from reference_models.spcolor.model import SPColorOutput

__all__ = [
    "CONTEXTUAL_LAYERS",
    "LossTerms",
    "SPColorLoss",
    "contextual_loss",
    "relativistic_lsgan_discriminator",
    "relativistic_lsgan_generator",
    "self_reference_l1",
    "shift_batch",
    "similarity_masked_perceptual",
    "smoothness_loss",
]

#: (layer, weight, 2x2 average pool first) of the released contextual loss.
CONTEXTUAL_LAYERS = (("relu5_2", 8.0, False), ("relu4_2", 4.0, False), ("relu3_2", 2.0, True))


def self_reference_l1(pred_ab: torch.Tensor, target_ab: torch.Tensor, self_reference: torch.Tensor,
                      reduction: str = "self_reference_mean") -> torch.Tensor:
    """L1 of ab on the self-reference samples only.

    Args:
        pred_ab: :math:`(B, 2, H, W)` predicted ab.
        target_ab: :math:`(B, 2, H, W)` ground-truth ab.
        self_reference: :math:`(B,)` bool, the sample's reference is its own colour image.
        reduction: ``"self_reference_mean"``: ``sum_i s_i mean|d_i| / max(1, sum_i s_i)`` (the mean over
            the self-reference samples); ``"released"``: ``sum_i s_i mean|d_i| / (sum_i s_i + 1e-5) / B``
            (what the released ``weighted_l1_loss`` computes: the same, divided by the batch size).

    Returns:
        A scalar; 0 when no sample is a self-reference.
    """
    if pred_ab.shape != target_ab.shape or pred_ab.ndim != 4 or pred_ab.shape[1] != 2:
        raise ValueError(f"pred_ab and target_ab must both have a shape of (B, 2, H, W); got "
                         f"{tuple(pred_ab.shape)} and {tuple(target_ab.shape)}")
    if self_reference.shape != pred_ab.shape[:1]:
        raise ValueError(f"self_reference must have a shape of (B,) = ({pred_ab.shape[0]},); got "
                         f"{tuple(self_reference.shape)}")
    flags = self_reference.to(pred_ab.dtype)
    per_sample = (pred_ab - target_ab).abs().mean(dim=(1, 2, 3))
    total = (per_sample * flags).sum()
    if reduction == "released":
        return total / (flags.sum() + 1e-5) / pred_ab.shape[0]
    if reduction != "self_reference_mean":
        raise ValueError(f"reduction must be 'self_reference_mean' or 'released'; got {reduction!r}")
    return total / flags.sum().clamp(min=1.0)


def similarity_masked_perceptual(pred_features: torch.Tensor, target_features: torch.Tensor,
                                 similarity: torch.Tensor) -> torch.Tensor:
    """``mean((phi(pred) - phi(gt))^2 (1 - S))`` (eq. 15).

    Args:
        pred_features: :math:`(B, C, h, w)` VGG relu5_2 of the output.
        target_features: :math:`(B, C, h, w)` the same of the ground truth (detached here).
        similarity: :math:`(B, 1, H, W)` ``S`` in [0, 1] (detached here; nearest-resized to ``h x w``).
    """
    if pred_features.shape != target_features.shape:
        raise ValueError(f"feature shapes differ: {tuple(pred_features.shape)} and {tuple(target_features.shape)}")
    if similarity.ndim != 4 or similarity.shape[:2] != (pred_features.shape[0], 1):
        raise ValueError(f"similarity must have a shape of (B, 1, H, W); got {tuple(similarity.shape)}")
    weight = F.interpolate(1.0 - similarity.detach(), size=pred_features.shape[-2:], mode="nearest")
    return ((pred_features - target_features.detach()) ** 2 * weight).mean()


def relativistic_lsgan_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``[mean((D(r) - mean D(f) - 1)^2) + mean((D(f) - mean D(r) + 1)^2)] / 2`` (pass detached fakes), in
    float32 at least: the logits' common level is free, and their difference must not lose digits to it."""
    real_logits, fake_logits = full_precision(real_logits), full_precision(fake_logits)
    return (torch.mean((real_logits - fake_logits.mean() - 1.0) ** 2)
            + torch.mean((fake_logits - real_logits.mean() + 1.0) ** 2)) / 2


def relativistic_lsgan_generator(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``[mean((D(r) - mean D(f) + 1)^2) + mean((D(f) - mean D(r) - 1)^2)] / 2``, in float32 at least."""
    real_logits, fake_logits = full_precision(real_logits), full_precision(fake_logits)
    return (torch.mean((real_logits - fake_logits.mean() + 1.0) ** 2)
            + torch.mean((fake_logits - real_logits.mean() - 1.0) ** 2)) / 2


def shift_batch(x: torch.Tensor) -> torch.Tensor:
    """Sample ``i`` takes sample ``i - 1`` (the released ``permute_data`` of the real images)."""
    return torch.roll(x, shifts=1, dims=0)


def _neighbours(x: torch.Tensor, patch: int) -> torch.Tensor:
    """:math:`(B, 1, H, W)` -> the ``patch x patch`` neighbourhood of each pixel :math:`(B, patch^2, H, W)`
    (zero padding, the released ``find_local_patch``)."""
    b, _, h, w = x.shape
    return F.unfold(x, kernel_size=patch, padding=patch // 2).view(b, patch * patch, h, w)


def smoothness_loss(target_lab: torch.Tensor, pred_ab: torch.Tensor, alpha: float = 2.0,
                    patch: int = 3) -> torch.Tensor:
    """The released smoothness loss (``WeightedAverage_color``, ``mse_loss``).

    Args:
        target_lab: :math:`(B, 3, H, W)` ground-truth CIELAB (L in [0, 100], raw ab): the affinities.
        pred_ab: :math:`(B, 2, H, W)` predicted ab.
        alpha: ``w = softmax(-||Lab(n) - Lab||^2 / alpha)`` (released: 2).
        patch: neighbourhood side (3).
    """
    expected = (target_lab.shape[0], 2, *target_lab.shape[2:])
    if target_lab.ndim != 4 or target_lab.shape[1] != 3 or pred_ab.shape != expected:
        raise ValueError(f"target_lab must be (B, 3, H, W) and pred_ab (B, 2, H, W); got {tuple(target_lab.shape)} "
                         f"and {tuple(pred_ab.shape)}")
    distance = sum((_neighbours(target_lab[:, c:c + 1], patch) - target_lab[:, c:c + 1]) ** 2 for c in range(3))
    weights = torch.softmax(-distance / alpha, dim=1)
    smoothed = torch.cat([(weights * _neighbours(pred_ab[:, c:c + 1], patch)).sum(1, keepdim=True)
                          for c in range(2)], 1)
    return ((pred_ab - smoothed) ** 2).mean()


def contextual_loss(pred_features: torch.Tensor, reference_features: torch.Tensor, h: float = 0.1) -> torch.Tensor:
    """The released forward contextual loss per sample (``ContextualLoss_forward``).

    Both sides are centred on the reference's mean feature and L2-normalised (``+ eps``);
    ``d_ij = |1 - cos|``, ``d~ = d / (min_j d + 1e-5)``, ``A_ij = softmax_j((1 - d~_ij) / h)`` (over
    the reference), ``CX = mean_i max_j A_ij`` (for each output feature its best match),
    ``loss = -log CX``. (This is the *output* direction; :mod:`bench.metrics.contextual` also has
    it, in float64 for scoring: here it must stay differentiable.) It runs in float32 at least, also
    under bf16 autocast: ``d`` near its minimum is a difference of nearly equal numbers, and dividing
    by that minimum and by ``h`` magnifies its rounding.

    Args:
        pred_features: :math:`(B, C, H, W)`.
        reference_features: :math:`(B, C, H', W')` (detached here).
        h: band width (0.1).

    Returns:
        :math:`(B,)`.
    """
    with autocast_off(pred_features.device):
        y = full_precision(reference_features.detach()).flatten(2)
        mu = y.mean(dim=2, keepdim=True)
        x = full_precision(pred_features).flatten(2) - mu
        y = y - mu
        x, y = normalize_features(x), normalize_features(y)
        d = (1.0 - torch.bmm(x.transpose(1, 2), y)).abs()
        d_rel = d / (d.amin(dim=2, keepdim=True) + 1e-5)
        affinity = torch.softmax((1.0 - d_rel) / h, dim=2)
        return -torch.log(affinity.amax(dim=2).mean(dim=1))


class LossTerms(NamedTuple):
    """One generator step's weighted loss terms (scalars) and their sum ``total``."""

    l1: torch.Tensor
    smp: torch.Tensor
    adversarial: torch.Tensor
    smoothness: torch.Tensor
    contextual: torch.Tensor
    total: torch.Tensor


class SPColorLoss(nn.Module):
    """The generator's and the discriminator's losses of one iteration, weighted by an :class:`SPColorConfig`.

    Args:
        config: the weights and options.
        vgg: the VGG19 of the model (``model.vgg``): relu5_2 (and relu3_2, relu4_2 for the
            contextual loss) of the output and of the ground truth.
    """

    def __init__(self, config: SPColorConfig, vgg: nn.Module):
        super().__init__()
        self.config = config
        self.vgg = vgg

    def _lab(self, target_lab: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return torch.cat([target_lab[:, :1], ab], 1)  # the clean ground-truth L, never the noisy input

    def discriminator_loss(self, pred_ab: torch.Tensor, target_lab: torch.Tensor,
                           discriminator: nn.Module) -> torch.Tensor:
        """The discriminator's loss on detached fakes ``[L, ab_pred]`` and reals ``[L, ab_gt]`` (rolled
        by one sample when ``shift_real_batch``), times ``discriminator_weight``."""
        real = target_lab if not self.config.shift_real_batch else shift_batch(target_lab)
        fake = self._lab(target_lab, full_precision(pred_ab.detach()))
        loss = relativistic_lsgan_discriminator(discriminator(real), discriminator(fake))
        return loss * self.config.discriminator_weight

    def generator_loss(self, output: SPColorOutput, target_lab: torch.Tensor, self_reference: torch.Tensor,
                       discriminator: nn.Module | None = None,
                       reference_features: Mapping[str, torch.Tensor] | None = None) -> LossTerms:
        """All generator terms, weighted.

        Args:
            output: :meth:`SPColor.forward`'s result (``ab``, ``similarity``, ``reference_features``).
            target_lab: :math:`(B, 3, H, W)` ground truth (L in [0, 100], raw ab).
            self_reference: :math:`(B,)` bool.
            discriminator: needed when ``adversarial_weight > 0``.
            reference_features: the reference's VGG features for the contextual loss (default:
                ``output.reference_features``).
        """
        cfg = self.config
        ab = full_precision(output.ab)  # bfloat16 under autocast: every term below takes it in float32
        zero = ab.new_zeros(())
        l1 = self_reference_l1(ab, target_lab[:, 1:], self_reference, cfg.l1_reduction) * cfg.l1_weight \
            if cfg.l1_weight else zero
        with autocast_off(ab.device):  # the perceptual features in float32 (module docstring)
            pred_features = self.vgg(lab_to_rgb(self._lab(target_lab, ab)))
            with torch.no_grad():
                gt_features = self.vgg(lab_to_rgb(target_lab))
        # the features x smp_scale (the config's smp_feature_scale) is the loss x smp_scale^2
        smp = similarity_masked_perceptual(pred_features["relu5_2"], gt_features["relu5_2"], output.similarity) \
            * (cfg.smp_weight * cfg.smp_scale ** 2) if cfg.smp_weight else zero
        adversarial = zero
        if cfg.adversarial_weight:
            if discriminator is None:
                raise ValueError("adversarial_weight > 0 needs the discriminator")
            real = target_lab if not cfg.shift_real_batch else shift_batch(target_lab)
            with torch.no_grad():  # the real images' logits depend on no generator weight: no graph needed
                real_logits = discriminator(real)
            adversarial = relativistic_lsgan_generator(real_logits, discriminator(
                self._lab(target_lab, ab))) * cfg.adversarial_weight
        smooth = smoothness_loss(target_lab, ab, cfg.smoothness_alpha) * cfg.smoothness_weight \
            if cfg.smoothness_weight else zero
        contextual = zero
        if cfg.contextual_weight:
            ref = reference_features if reference_features is not None else output.reference_features
            for layer, weight, pool in CONTEXTUAL_LAYERS:
                x, y = pred_features[layer], ref[layer]
                if pool:
                    x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
                contextual = contextual + contextual_loss(x, y, cfg.contextual_h).mean() * weight
            contextual = contextual * cfg.contextual_weight
        total = l1 + smp + adversarial + smooth + contextual
        return LossTerms(l1, smp, adversarial, smooth, contextual, total)
