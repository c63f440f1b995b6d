"""SPColor's semantic correspondence as the released code loops over it: the test oracle and the benchmark's baseline.

It follows the structure of the released ``WarpNet.forward`` / ``WarpNet.non_local``
(``models/NonlocalNet_stego.py`` of ``viector/spcolor``): for each sample, for each class, select
the class's target and reference positions with the class map repeated over the channels (a
boolean index of the ``(C, h, w)`` feature map), centre each side over them, L2-normalise over
channels (``+ eps``), ``f = theta phi^T``, ``S_w = max_j f``, ``P = softmax_j(f / tau)``, warp the
values with ``P`` and write the result at the class's target positions; a class missing on either
side is skipped (warped values and ``S_w`` stay 0 there).

The model never calls it, so it does not ship in the package: both product paths of
:func:`~reference_models.spcolor.correspondence.semantic_correspondence` (the batched form and the
per-class loop of :mod:`~reference_models.spcolor.class_loop`) must agree with it
(``tests/reference_models/spcolor/test_correspondence.py`` imports it as
``benchmarks.spc_released_loop``), and ``benchmarks/spc_bench.py`` times it as "the loop as
released". It shares no code with the per-class loop on purpose: an oracle that called it would
check nothing.
"""

from __future__ import annotations

import torch

from reference_models.spcolor.correspondence import EPS, Correspondence

__all__ = ["released_loop_correspondence"]


def released_loop_correspondence(target_features: torch.Tensor, reference_features: torch.Tensor,
                                 reference_values: torch.Tensor, target_classes: torch.Tensor,
                                 reference_classes: torch.Tensor, num_classes: int,
                                 temperature: float = 0.01) -> Correspondence:
    """Per sample, per class: the released correspondence loop (same arguments and result as
    :func:`~reference_models.spcolor.correspondence.semantic_correspondence`).

    Args:
        target_features: :math:`(B, C, h, w)` projected target features.
        reference_features: :math:`(B, C, h', w')` projected reference features.
        reference_values: :math:`(B, V, h', w')` values to warp.
        target_classes: :math:`(B, h, w)` int64 classes (negative: matches nothing).
        reference_classes: :math:`(B, h', w')` int64 classes.
        num_classes: classes ``0 .. num_classes - 1`` are visited (the released loop visits 27).
        temperature: softmax temperature ``tau``.

    Returns:
        :class:`~reference_models.spcolor.correspondence.Correspondence`.
    """
    batch, channels, height, width = target_features.shape
    values = reference_values.shape[1]
    warped = target_features.new_zeros(batch, values, height, width)
    best = target_features.new_zeros(batch, height, width)
    matched = torch.zeros(batch, height, width, dtype=torch.bool, device=target_features.device)
    for b in range(batch):
        for c in range(num_classes):
            in_target = target_classes[b] == c
            in_reference = reference_classes[b] == c
            theta = target_features[b][in_target.expand(channels, -1, -1)].view(channels, -1)
            phi = reference_features[b][in_reference.expand(channels, -1, -1)].view(channels, -1)
            vals = reference_values[b][in_reference.expand(values, -1, -1)].view(values, -1)
            if theta.shape[1] * phi.shape[1] == 0:
                continue
            theta = theta.T - theta.T.mean(dim=0, keepdim=True)  # (n, C), centred over the class's positions
            theta = theta / (torch.linalg.vector_norm(theta, dim=1, keepdim=True) + EPS)
            phi = phi - phi.mean(dim=1, keepdim=True)  # (C, m)
            phi = phi / (torch.linalg.vector_norm(phi, dim=0, keepdim=True) + EPS)
            f = theta @ phi  # (n, m)
            s_w = f.max(dim=1).values
            p = torch.softmax(f / temperature, dim=1)
            y = p @ vals.T  # (n, V)
            warped[b][in_target.expand(values, -1, -1)] = y.T.reshape(-1)
            best[b][in_target] = s_w
            matched[b][in_target] = True
    return Correspondence(warped, best, matched)
