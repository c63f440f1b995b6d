"""The super-attention family's training loss: ``lambda_1 * SmoothL1 + lambda_2 * LPIPS`` (MSA paper
eq. 3; SA trained here takes the same loss with its authors' training code's weights, ``sa-code``).

What each term sees (``pred_ab`` is the network's tanh output, i.e. ab / 127 in [-1, 1]):

* **SmoothL1**: ``torch.nn.functional.smooth_l1_loss(pred_ab, target_ab, beta=1)``, mean over every
  element, with both ab in the network's scale ``ab / 127`` (the ground truth's CIELAB a, b divided
  by 127). The paper does not give the scale; ab / 127 is what the SA authors' code uses (a beta of
  1 in ab / 127 units is an L2 zone of +-127 ab: in practice the loss is quadratic).
* **LPIPS** (v0.1, the ``lpips`` package; its backbone comes from colorbench's weights registry
  through :func:`bench.metrics.lpips.load_lpips`) between two sRGB images mapped to [-1, 1]
  (``2 * rgb - 1``), averaged over the batch:
  ``rgb_pred = lab_to_rgb(cat[L, 127 * pred_ab])`` and ``rgb_gt = lab_to_rgb(cat[L, 127 * target_ab])``
  with ``L = 100 * target_l`` the ground truth's own lightness in both, so the two images differ
  only in their chroma. ``lab_to_rgb`` is kornia's (differentiable; clipped to [0, 1], whose
  gradient is 0 outside the gamut). The LPIPS network is frozen, but the gradient flows to
  ``pred_ab``: the module is called directly, never through the ``no_grad`` metric.

The loss runs in float32 even when called under bf16 autocast (the family's training task calls
it inside the loop's autocast; the loss turns autocast off and casts its inputs itself): LPIPS compares the features of
two images that differ only in chroma, and in bfloat16 (3 significant digits) LPIPS-VGG was off by
10% with 1 ab unit of noise on the prediction and by 0.7% with 4, its gradient turned by 14 and 7
degrees (random VGG weights, four demo photographs at 128 x 128).

Presets (:data:`LOSS_PRESETS`):

* ``"paper"``: ``lambda_1 = 2``, ``lambda_2 = 0.15`` (MSA Sec. V-A). The paper does not say which
  LPIPS network; VGG16 is chosen because the same authors' training code uses LPIPS-VGG and the
  ``lpips`` package recommends its VGG variant as an optimisation loss (AlexNet for evaluation).
* ``"sa-code"``: the SA authors' training code: ``20 * SmoothL1(ab / 127) + 0.15 * LPIPS-VGG`` on RGB
  in [-1, 1] (its ``training_color``: ``alpha = 20``, ``nn.SmoothL1Loss()``, ``alpha_lpips = 0.15``).

**What ``2 * SmoothL1(ab / 127, beta = 1)`` is.** The paper gives ``lambda_1 = 2`` but neither the
ab scale nor ``beta``; ab / 127 and beta = 1 (PyTorch's default) are the authors' code's. Both ab
are in [-1, 1] at that scale and an error reaches beta only at 127 ab units, so SmoothL1's linear
(L1) branch never acts: the term is ``2 * 0.5 * mean(d^2) = mean(d^2)``, the mean squared error of
ab / 127 (MSE in ab units / 16129). Consequences: it is an L2 loss, pulling towards the mean of
plausible colours (desaturation) rather than their median as an L1 would, and its gradient shrinks
with the error (``2 d / 127^2`` per element: at a 5-unit error, 1/25 of a 127-unit one); it is small
beside ``0.15 * LPIPS`` (an RMS error of 10 ab units gives 0.0062, of 20 units 0.025), so under
``"paper"`` the perceptual term leads. The authors' own training code weights the same term 20x,
10x the paper's, so the regression term leads there: ``loss = "sa-code"`` (in the training
config's ``task`` table) is that alternative. ``"paper"`` stays the default because the paper states 2;
``smooth_l1_beta`` (e.g. ``10 / 127``) would give a true L1 beyond that error, which neither source uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.color import lab_to_rgb
from bench.core.errors import unknown_name
from bench.core.settings import settings_from_dict
from reference_models.layers.checks import check_tensor
from reference_models.layers.precision import autocast_off, full_precision

__all__ = ["LOSS_PRESETS", "ColorizationLoss", "LossConfig", "LossTerms", "ab_to_rgb", "get_loss_config"]

_LPIPS_NETS = ("alexnet", "vgg16")


@dataclass(frozen=True)
class LossConfig:
    """Weights and settings of :class:`ColorizationLoss`.

    Attributes:
        smooth_l1_weight: ``lambda_1`` (paper: 2; the SA authors' training code: 20; ours: 2).
            At ab / 127 and ``beta = 1`` the term is quadratic over the whole ab range, i.e.
            ``2 * SmoothL1 = MSE(ab / 127)``: see the module docstring for what that does and for
            the ``"sa-code"`` preset (20).
        lpips_weight: ``lambda_2`` (0 disables LPIPS; no network is loaded then).
        lpips_net: ``"vgg16"`` or ``"alexnet"`` (:func:`bench.metrics.lpips.load_lpips` backbones).
        smooth_l1_beta: SmoothL1's ``beta`` in ab / 127 units (paper: silent; authors' code and
            ours: PyTorch's default 1, i.e. 127 ab units, beyond any error: the loss is quadratic).
        ab_scale: the network's ab unit: ab = ``ab_scale * pred`` (127, the tanh * 127 of both papers).
    """

    smooth_l1_weight: float = 2.0
    lpips_weight: float = 0.15
    lpips_net: str = "vgg16"
    smooth_l1_beta: float = 1.0
    ab_scale: float = 127.0

    def __post_init__(self) -> None:
        if self.lpips_net not in _LPIPS_NETS:
            raise ValueError(f"lpips_net must be one of {_LPIPS_NETS}; got {self.lpips_net!r}")
        if self.smooth_l1_weight < 0 or self.lpips_weight < 0:
            raise ValueError("loss weights must be >= 0")

    @classmethod
    def from_dict(cls, values: dict | None) -> LossConfig:
        """A config from user settings; a mistyped key is an error, never silently ignored."""
        return settings_from_dict(cls, values, "loss setting")

    def as_dict(self) -> dict:
        return asdict(self)


#: Named loss settings: the MSA paper's and the SA authors' code's.
LOSS_PRESETS: dict[str, LossConfig] = {
    "paper": LossConfig(smooth_l1_weight=2.0, lpips_weight=0.15, lpips_net="vgg16"),
    "sa-code": LossConfig(smooth_l1_weight=20.0, lpips_weight=0.15, lpips_net="vgg16"),
}


def get_loss_config(name: str) -> LossConfig:
    """The preset called ``name`` (``paper`` or ``sa-code``); a clear error lists them."""
    if name not in LOSS_PRESETS:
        raise unknown_name("loss preset", name, LOSS_PRESETS)
    return LOSS_PRESETS[name]


def ab_to_rgb(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """CIELAB -> sRGB, differentiable (kornia), clipped to [0, 1].

    Args:
        lightness: :math:`(B, 1, H, W)` L in [0, 100].
        ab: :math:`(B, 2, H, W)` a, b in CIELAB units.

    Returns:
        :math:`(B, 3, H, W)` sRGB in [0, 1].
    """
    return lab_to_rgb(torch.cat([lightness, ab], dim=1))


class LossTerms(NamedTuple):
    """:class:`ColorizationLoss`'s result: the weighted ``total`` (what to backpropagate) and the
    unweighted terms (for logging); all scalars."""

    total: torch.Tensor
    smooth_l1: torch.Tensor
    lpips: torch.Tensor


class ColorizationLoss(nn.Module):
    """``smooth_l1_weight * SmoothL1 + lpips_weight * LPIPS`` (see the module docstring).

    Args:
        config: a :class:`LossConfig` or a preset name (default ``"paper"``).
        lpips_model: an ``lpips.LPIPS``-like module taking two :math:`(B, 3, H, W)` images in [-1, 1]
            and returning :math:`(B, 1, 1, 1)`; ``None`` loads ``config.lpips_net`` with
            :func:`bench.metrics.lpips.load_lpips` (frozen, eval) on ``device``.
        device: where the LPIPS network goes when it is loaded here.
    """

    def __init__(self, config: LossConfig | str = "paper", lpips_model: nn.Module | None = None,
                 device: torch.device | str = "cpu"):
        super().__init__()
        self.config = get_loss_config(config) if isinstance(config, str) else config
        if lpips_model is None and self.config.lpips_weight > 0:
            from bench.metrics.lpips import load_lpips

            lpips_model = load_lpips(self.config.lpips_net, device)
        if lpips_model is not None:
            lpips_model.requires_grad_(False).eval()
        self.lpips = lpips_model

    def train(self, mode: bool = True) -> ColorizationLoss:
        super().train(mode)
        if self.lpips is not None:
            self.lpips.eval()  # the LPIPS network is a fixed metric (its dropout stays off)
        return self

    def forward(self, pred_ab: torch.Tensor, target_ab: torch.Tensor, target_l: torch.Tensor) -> LossTerms:
        """The loss of a batch.

        Args:
            pred_ab: :math:`(B, 2, H, W)` predicted ab / 127 (the network's tanh output).
            target_ab: :math:`(B, 2, H, W)` ground-truth ab / 127.
            target_l: :math:`(B, 1, H, W)` ground-truth L / 100 in [0, 1].

        Returns:
            :class:`LossTerms`.
        """
        for name, tensor, channels in (("pred_ab", pred_ab, 2), ("target_ab", target_ab, 2),
                                       ("target_l", target_l, 1)):
            check_tensor(tensor, name, f"B {channels} H W")
        if pred_ab.shape != target_ab.shape or target_l.shape[-2:] != pred_ab.shape[-2:]:
            raise ValueError(f"pred_ab {tuple(pred_ab.shape)}, target_ab {tuple(target_ab.shape)} and target_l "
                             f"{tuple(target_l.shape)} must share batch and size")
        cfg = self.config
        with autocast_off(pred_ab.device):
            pred_ab, target_ab, target_l = (full_precision(x) for x in (pred_ab, target_ab, target_l))
            smooth_l1 = F.smooth_l1_loss(pred_ab, target_ab, beta=cfg.smooth_l1_beta)
            if cfg.lpips_weight > 0:
                lightness = target_l * 100.0
                rgb_pred = ab_to_rgb(lightness, pred_ab * cfg.ab_scale)
                rgb_gt = ab_to_rgb(lightness, target_ab * cfg.ab_scale)
                lpips = self.lpips(rgb_pred * 2.0 - 1.0, rgb_gt * 2.0 - 1.0).mean()
            else:
                lpips = pred_ab.new_zeros(())
            total = cfg.smooth_l1_weight * smooth_l1 + cfg.lpips_weight * lpips
        return LossTerms(total, smooth_l1.detach(), lpips.detach())
