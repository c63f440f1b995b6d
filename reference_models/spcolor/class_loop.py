"""SPColor's semantic correspondence (SPC) one (sample, class) group at a time: the CPU path.

The same computation as the batched :func:`~reference_models.spcolor.correspondence.semantic_correspondence`
(which dispatches here on a CPU): for each sample and each class present on both sides, the class's
target and reference positions are taken, each side is centred over them and L2-normalised over
channels (``+ eps``), ``f = theta phi^T``, ``S_w = max_j f``, ``P = softmax_j(f / tau)``, and ``P
[values]`` goes to the class's target positions; positions of a class missing on either side (or
of a negative class) get warped values and ``S_w`` of 0.

Each product is exactly ``n_c x m_c``: no padding to tiles and no gathers per tile pair, so on a
CPU this loop is faster than the batched form once there are several classes
(``benchmarks/spc_bench.py``), where a few hundred Python iterations cost less than the tiles'
padding. Positions are sorted by (sample, class) once and the groups are slices of the sorted
rows (``torch.split``), and the results are joined once: an autograd step per group on the whole
input (what boolean indexing of each sample and class gives, a full-size zero tensor per group in
the backward pass) would make training slower than the batched form. On a GPU every iteration's
launches cost, and the batched form is used.
"""

from __future__ import annotations

import torch

from reference_models.spcolor.correspondence_result import EPS, Correspondence

__all__ = ["class_loop_correspondence"]


def class_loop_correspondence(target_features: torch.Tensor, reference_features: torch.Tensor,
                              reference_values: torch.Tensor, target_classes: torch.Tensor,
                              reference_classes: torch.Tensor, num_classes: int,
                              temperature: float = 0.01) -> Correspondence:
    """SPC by a loop over (sample, class) groups (inputs already checked by ``semantic_correspondence``).

    Args:
        target_features: :math:`(B, C, h, w)` projected target features.
        reference_features: :math:`(B, C, h', w')` projected reference features.
        reference_values: :math:`(B, V, h', w')` values to warp.
        target_classes: :math:`(B, h, w)` int64 classes in ``[0, num_classes)`` (negative: matches nothing).
        reference_classes: :math:`(B, h', w')` int64 classes.
        num_classes: ``k``.
        temperature: softmax temperature ``tau``.

    Returns:
        :class:`~reference_models.spcolor.correspondence.Correspondence`; differentiable with respect
        to the features and values.
    """
    batch, _, height, width = target_features.shape
    values = reference_values.shape[1]
    groups = batch * num_classes  # group g = (sample g // k, class g % k); index ``groups``: no class
    q_groups = _group_of(target_classes, num_classes)
    k_groups = _group_of(reference_classes, num_classes)
    q_counts = torch.bincount(q_groups, minlength=groups + 1)
    k_counts = torch.bincount(k_groups, minlength=groups + 1)
    q_order = torch.argsort(q_groups, stable=True)
    k_order = torch.argsort(k_groups, stable=True)
    # rows sorted by group, then each group a slice: one gather and one split (whose backward is one
    # concatenation), not an indexing of the whole input per group
    queries = torch.split(_rows(target_features).index_select(0, q_order), q_counts.tolist())
    keys = torch.split(_rows(reference_features).index_select(0, k_order), k_counts.tolist())
    vals = torch.split(_rows(reference_values).index_select(0, k_order), k_counts.tolist())
    warped, best = [], []
    for g, (theta, phi) in enumerate(zip(queries, keys)):
        if theta.shape[0] == 0:
            continue
        if phi.shape[0] == 0 or g == groups:  # the class is missing in the reference, or no class
            warped.append(theta.new_zeros(theta.shape[0], values))
            best.append(theta.new_zeros(theta.shape[0]))
            continue
        theta = theta - theta.mean(dim=0, keepdim=True)  # (n, C), centred over the class's positions
        theta = theta / (torch.linalg.vector_norm(theta, dim=1, keepdim=True) + EPS)
        phi = phi - phi.mean(dim=0, keepdim=True)  # (m, C)
        phi = phi / (torch.linalg.vector_norm(phi, dim=1, keepdim=True) + EPS)
        f = theta @ phi.T  # (n, m) cosines
        warped.append(torch.softmax(f / temperature, dim=1) @ vals[g])
        best.append(f.amax(dim=1))
    # back from the sorted order to the positions' order
    position = torch.empty_like(q_order)
    position[q_order] = torch.arange(q_order.numel(), device=q_order.device)
    warped_rows = torch.cat(warped).index_select(0, position)  # (B h w, V)
    best_rows = torch.cat(best).index_select(0, position)
    matched = (q_counts > 0) & (k_counts > 0)
    matched[groups] = False
    return Correspondence(warped_rows.view(batch, height, width, values).permute(0, 3, 1, 2),
                          best_rows.view(batch, height, width), matched[q_groups].view(batch, height, width))


def _group_of(classes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(B, h, w)`` classes -> ``(B h w,)`` group ``sample * k + class``; ``B k`` for a negative class."""
    batch = classes.shape[0]
    flat = classes.flatten(1)
    offset = torch.arange(batch, device=classes.device)[:, None] * num_classes
    return torch.where(flat >= 0, flat + offset, batch * num_classes).reshape(-1)


def _rows(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, h, w)`` -> ``(B h w, C)``, one row per position (a view for channels-last memory)."""
    return x.flatten(2).transpose(1, 2).reshape(-1, x.shape[1])
