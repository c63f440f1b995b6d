"""Super-attention (Carrillo et al., ACCV 2022) and masked super-attention (MSA, Carrillo et al. 2023).

Attention between a target and a reference at the level of superpixels instead of pixels: each
superpixel's features are max-pooled into one "super-feature", target super-features attend to
reference super-features, and the attended reference *colour* features are spread back over the
target's pixels. With ``N`` and ``M`` superpixels the attention map is ``N x M`` (a few hundred
squared) instead of ``HW x HW``.

For one sample, with ``F_T (C, N)`` and ``F_R (C, M)`` the max-pooled target/reference features
and ``Phi_R (C_v, M)`` the max-pooled reference colour (value) features:

* ``n(F) = (F - mean_c F) / (||F - mean_c F||_2 + 1e-5)`` per superpixel (over channels);
* ``q = W_q n(F_T) + b_q``, ``k = W_k n(F_R) + b_k``, ``v = W_v Phi_R + b_v`` (1x1 ``Conv1d``);
* ``A = softmax_j(q_i . k_j / tau)``, ``tau = 0.01``; output super-feature ``i`` = ``sum_j A_ij v_j``;
* unpooling: each target pixel takes its superpixel's output (a gather with its label map).

Masked super-attention (MSA eq. 1-2): the masks arrive through the label maps (MaskSLIC, see
:mod:`reference_models.layers.superpixels`): label 0 = outside the mask. A reference superpixel
outside ``M_R`` is removed from the softmax (its logit is ``-inf``, so its weight is exactly 0);
a target superpixel outside ``M_T`` gets no attended features (exactly 0 there, so a residual
add keeps the target's own features). Without masks every label is ``>= 1`` and this is the
global super-attention of SA. A sample whose reference has no superpixel at a level attends to
nothing (zero output) instead of producing NaNs.

Batching: every sample has its own ``N`` and ``M``; super-features are padded to the batch's
largest label and a validity mask removes the padding from the softmax, so one batched pass
equals a per-sample loop (to float rounding) with no Python loop over the batch. Bins are indexed
by label value (row ``i`` of the attention map is target label ``i``), so bin 0 is always present
and (outside official-compatible mode) always invalid.

``official_compat=True`` reproduces the released SA test code exactly, quirks included:

* super-features are pooled on the interior only (a 1-pixel border of features and labels is
  cropped before pooling; unpooling still covers every pixel);
* the softmax runs over reference bins ``0 .. min(M_b, P_R) - 1`` where ``M_b`` is the sample's
  largest label + 1 and ``P_R`` the batch's largest *interior* label + 1 (the width of the pooled
  tensor), so label 0 and superpixels lying only on the border enter the softmax with all-zero
  features (logit ``q . b_k``, value ``b_v``); target rows are computed for bins
  ``0 .. min(N_b, P_T) - 1`` likewise and rows beyond stay 0.

It is off for MSA and for any new training.

Precision: under bf16 autocast (training) the super-features' normalisation, the projections,
the logits, the softmax and the weighted sum run in float32 (:mod:`reference_models.layers.precision`),
so the outputs are float32 and equal a float32 layer's on the same input values. At tau = 0.01 the
bfloat16 ones moved the attention weights by up to 0.05 (the projections alone by about half of
that). It costs little: the work is superpixels x superpixels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from reference_models.layers.checks import check_tensor
from reference_models.layers.precision import autocast_off, full_precision

__all__ = [
    "SuperAttention",
    "SuperAttentionOutput",
    "normalize_superfeatures",
    "super_pool",
    "super_unpool",
    "superpixel_validity",
]


def _check_labels(labels: torch.Tensor, name: str, like: torch.Tensor) -> torch.Tensor:
    check_tensor(labels, name, "B H W", "integer")  # superpixel labels
    expected = (like.shape[0], *like.shape[-2:])
    if tuple(labels.shape) != expected:
        raise ValueError(f"{name} must have a shape of (B, H, W) = {expected} (the features' batch and size); "
                         f"got {tuple(labels.shape)}")
    return labels.long()


def super_pool(features: torch.Tensor, labels: torch.Tensor, num_bins: int, crop_border: bool = False) -> torch.Tensor:
    """Max-pool features over each superpixel: one super-feature per label.

    Args:
        features: :math:`(B, C, H, W)` float.
        labels: :math:`(B, H, W)` int64, values in ``[0, num_bins)``.
        num_bins: number of output bins ``K`` (at least the largest label + 1).
        crop_border: pool the interior only, dropping a 1-pixel border (the released SA code).

    Returns:
        :math:`(B, C, K)`: bin ``l`` holds the channel-wise max over the pixels labelled ``l``;
        bins with no pixel are 0 (as ``torch_scatter.scatter_max`` leaves them).
    """
    if crop_border:
        features, labels = features[..., 1:-1, 1:-1], labels[..., 1:-1, 1:-1]
    batch, channels = features.shape[:2]
    # One index row per sample, broadcast over channels without a copy: the channel-major layout
    # was the fastest of the layouts measured for scatter_reduce on CPU.
    index = labels.reshape(batch, 1, -1).expand(-1, channels, -1)
    # Start from -inf and include it (3x faster than include_self=False on CPU: no per-bin
    # "first value" bookkeeping): an occupied bin ends as the max of its pixels alone (negative
    # values stay negative), an empty bin stays -inf and is set to 0, as scatter_max leaves it.
    # Gradients are the same: -inf never wins a max over real pixels.
    out = features.new_full((batch, channels, num_bins), float("-inf"))
    out = out.scatter_reduce(2, index, features.reshape(batch, channels, -1), "amax", include_self=True)
    return out.masked_fill(torch.isneginf(out), 0.0)


def super_unpool(superfeatures: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Spread super-features back over the pixels: pixel ``p`` takes bin ``labels[p]``.

    Args:
        superfeatures: :math:`(B, C, K)`.
        labels: :math:`(B, H, W)` int64, values in ``[0, K)``.

    Returns:
        :math:`(B, C, H, W)`.
    """
    batch, channels = superfeatures.shape[:2]
    height, width = labels.shape[-2:]
    index = labels.reshape(batch, 1, -1).expand(-1, channels, -1)
    return superfeatures.gather(2, index).view(batch, channels, height, width)


def normalize_superfeatures(superfeatures: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Centre each super-feature over its channels and divide by its L2 norm + ``eps``.

    This is MSA eq. 2's normalisation (the correlation of centred, unit vectors) as the released
    code computes it; an all-zero super-feature stays all zero.

    Args:
        superfeatures: :math:`(B, C, K)`.
        eps: added to the norm (the released code: 1e-5).

    Returns:
        :math:`(B, C, K)`.
    """
    centred = superfeatures - superfeatures.mean(dim=1, keepdim=True)
    return centred / (centred.norm(p=2, dim=1, keepdim=True) + eps)


def superpixel_validity(labels: torch.Tensor, num_bins: int) -> torch.Tensor:
    """Which bins are real superpixels: a label ``>= 1`` with at least one pixel.

    Args:
        labels: :math:`(B, H, W)` int64.
        num_bins: ``K``.

    Returns:
        :math:`(B, K)` bool; bin 0 (outside the mask, or no superpixel) is always False.
    """
    batch = labels.shape[0]
    offsets = torch.arange(batch, device=labels.device).view(batch, 1, 1) * num_bins
    counts = (labels + offsets).flatten().bincount(minlength=batch * num_bins).view(batch, num_bins)
    valid = counts > 0
    valid[:, 0] = False
    return valid


def _official_validity(labels: torch.Tensor, num_bins: int) -> torch.Tensor:
    # The released code slices the pooled tensor (width P = batch's largest interior label + 1)
    # to the sample's largest label + 1, so bins below min(max_b + 1, P) take part, empty or not.
    pooled_width = int(labels[:, 1:-1, 1:-1].max()) + 1
    per_sample = labels.flatten(1).amax(1).clamp_max(pooled_width - 1) + 1
    return torch.arange(num_bins, device=labels.device).view(1, -1) < per_sample.view(-1, 1)


class SuperAttentionOutput(NamedTuple):
    """What :class:`SuperAttention` returns.

    Attributes:
        features: :math:`(B, C, H_T, W_T)` attended reference value features unpooled on the target's
            label map; exactly 0 on pixels of target superpixels that take no part (outside
            ``M_T``).
        attention: :math:`(B, K_T, K_R)` attention map, row ``i`` = target label ``i``, column ``j`` =
            reference label ``j``; rows sum to 1 over the valid columns; invalid rows and columns
            are exactly 0.
        target_valid: :math:`(B, K_T)` bool, the target bins that take part.
        reference_valid: :math:`(B, K_R)` bool, the reference bins that take part.
    """

    features: torch.Tensor
    attention: torch.Tensor
    target_valid: torch.Tensor
    reference_valid: torch.Tensor


class SuperAttention(nn.Module):
    """(Masked) super-attention over superpixels, batched.

    The parameter names (``query_conv``, ``key_conv``, ``value_conv``: ``Conv1d`` with kernel 1 and
    bias) are those of the released code's ``Superattention_conv``, so its checkpoints load.

    Args:
        channels: ``C``, the channels of the target/reference features (query and key: C -> C).
        value_channels: ``C_v``, the channels of the reference colour features (value: C_v -> C);
            defaults to ``channels`` (the released code).
        temperature: ``tau`` of the softmax (both papers: 0.01).
        eps: added to the super-features' norms (the released code: 1e-5).
        official_compat: reproduce the released code's quirks (border crop, label 0 and empty bins
            in the softmax); see the module docstring. Off for MSA.
    """

    def __init__(self, channels: int, value_channels: int | None = None, temperature: float = 0.01,
                 eps: float = 1e-5, official_compat: bool = False):
        super().__init__()
        if channels < 1 or (value_channels is not None and value_channels < 1):
            raise ValueError(f"channels must be >= 1; got {channels} and {value_channels}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0; got {temperature}")
        self.channels = channels
        self.value_channels = value_channels or channels
        self.temperature = temperature
        self.eps = eps
        self.official_compat = official_compat
        self.query_conv = nn.Conv1d(channels, channels, kernel_size=1)
        self.key_conv = nn.Conv1d(channels, channels, kernel_size=1)
        self.value_conv = nn.Conv1d(self.value_channels, channels, kernel_size=1)

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, value_channels={self.value_channels}, temperature={self.temperature}, "
                f"official_compat={self.official_compat}")

    def forward(self, target: torch.Tensor, reference: torch.Tensor, reference_values: torch.Tensor,
                target_labels: torch.Tensor, reference_labels: torch.Tensor,
                official_compat: bool | None = None) -> SuperAttentionOutput:
        """Attend from the target's superpixels to the reference's.

        Args:
            target: :math:`(B, C, H_T, W_T)` target features ``f_T`` (queries).
            reference: :math:`(B, C, H_R, W_R)` reference features ``f_R`` (keys).
            reference_values: :math:`(B, C_v, H_R, W_R)` reference colour features ``phi_R`` (values).
            target_labels: :math:`(B, H_T, W_T)` integer superpixel labels of the target at this level
                (0 = outside ``M_T``).
            reference_labels: :math:`(B, H_R, W_R)` integer labels of the reference (0 = outside ``M_R``).
            official_compat: override the module's ``official_compat`` for this call (``None``: keep it).

        Returns:
            :class:`SuperAttentionOutput`; ``features`` has shape :math:`(B, C, H_T, W_T)`.
        """
        check_tensor(target, "target", "B C H W", "float")
        check_tensor(reference, "reference", "B C H W", "float")
        check_tensor(reference_values, "reference_values", "B V H W", "float")
        if target.shape[1] != self.channels or reference.shape[1] != self.channels:
            raise ValueError(f"target and reference must have {self.channels} channels (B, {self.channels}, H, W); "
                             f"got {tuple(target.shape)} and {tuple(reference.shape)}")
        if reference_values.shape[1] != self.value_channels or reference_values.shape[-2:] != reference.shape[-2:]:
            raise ValueError(f"reference_values must have a shape of (B, {self.value_channels}, "
                             f"{reference.shape[-2]}, {reference.shape[-1]}); got {tuple(reference_values.shape)}")
        if not target.shape[0] == reference.shape[0] == reference_values.shape[0]:
            raise ValueError(f"batch sizes differ: target {tuple(target.shape)}, reference {tuple(reference.shape)}, "
                             f"reference_values {tuple(reference_values.shape)}")
        target_labels = _check_labels(target_labels, "target_labels", target)
        reference_labels = _check_labels(reference_labels, "reference_labels", reference)
        if bool((target_labels < 0).any()) or bool((reference_labels < 0).any()):
            raise ValueError("superpixel labels must be >= 0 (0 = outside the mask)")

        bins_t = int(target_labels.max()) + 1
        bins_r = int(reference_labels.max()) + 1
        compat = self.official_compat if official_compat is None else official_compat
        pooled_t = super_pool(target, target_labels, bins_t, crop_border=compat)
        pooled_r = super_pool(reference, reference_labels, bins_r, crop_border=compat)
        pooled_v = super_pool(reference_values, reference_labels, bins_r, crop_border=compat)
        if compat:
            valid_t = _official_validity(target_labels, bins_t)
            valid_r = _official_validity(reference_labels, bins_r)
        else:
            valid_t = superpixel_validity(target_labels, bins_t)
            valid_r = superpixel_validity(reference_labels, bins_r)

        # float32 from the normalisation to the weighted sum, also under bf16 autocast (module docstring)
        with autocast_off(target.device):
            query = self.query_conv(normalize_superfeatures(full_precision(pooled_t), self.eps))  # (B, C, K_T)
            key = self.key_conv(normalize_superfeatures(full_precision(pooled_r), self.eps))  # (B, C, K_R)
            value = self.value_conv(full_precision(pooled_v))  # (B, C, K_R)
            logits = torch.bmm(query.transpose(1, 2), key) / self.temperature  # (B, K_T, K_R)

            # Padding and masked-out reference bins get -inf: exp(-inf) = 0, an exact zero weight.
            # A sample with no valid reference bin at all gets finite logits (no NaN from an all -inf
            # row) and is zeroed by the multiplication below.
            has_reference = valid_r.any(dim=1)
            blocked = ~valid_r & has_reference.view(-1, 1)
            logits = logits.masked_fill(blocked.unsqueeze(1), float("-inf"))
            attention = torch.softmax(logits, dim=2)
            attention = attention * (valid_t.unsqueeze(2) & valid_r.unsqueeze(1)).to(attention.dtype)
            attended = torch.bmm(attention, value.transpose(1, 2)).transpose(1, 2)  # (B, C, K_T)
        return SuperAttentionOutput(super_unpool(attended, target_labels), attention, valid_t, valid_r)
