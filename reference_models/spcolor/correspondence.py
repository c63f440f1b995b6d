"""SPColor's semantic prior guided correspondence (SPC, paper eq. 5-14), vectorised.

Given target features ``F_T`` and reference features ``F_R`` and a pseudo-class per position on
each side (from a :mod:`~reference_models.spcolor.prior`), every target position ``i`` of class
``c`` attends only to the reference positions of the same class ``c``:

* per sample and class, ``theta(F_T)`` and ``phi(F_R)`` are centred over the class's positions and
  L2-normalised over channels (``x / (||x|| + eps)``, ``eps`` = float64 machine epsilon, as the
  released code);
* ``f_ij = theta_i . phi_j`` (a cosine); ``S_w(i) = max_j f_ij`` (eq. 10, before the temperature),
  which is in [0, 1]: the centred, normalised keys of a class have a positive combination equal
  to 0, so some ``f_ij`` is >= 0;
* ``P_ij = softmax_j(f_ij / tau)``, ``tau = 0.01``; the warped values are ``sum_j P_ij v_j`` with
  ``v = [avgpool4(reference ab), reference confidence]`` (eq. 7-8, 12-13);
* ``S = S_w x S'_cl,R x S_cl,T`` (eq. 14);
* a target class absent from the reference (an *unrelated region*) gets warped ab = 0 and S = 0,
  exactly (eq. 7, 10), as does a target position whose class is ``ignore``-labelled (< 0).

With one class (``k = 1``) this is the plain non-local correspondence of Zhang et al. 2019.

**Two implementations, one result.** :func:`semantic_correspondence` runs either the batched form
below or a loop over (sample, class) groups (:mod:`~reference_models.spcolor.class_loop`), equal up
to float rounding; ``method="auto"`` (:func:`auto_method`) picks by device. Speed
(``benchmarks/spc_bench.py``: batch 8, 256 channels, 64 x 64, STEGO-like class maps; 2 CPU cores):
the loop, whose products are exactly ``n_c x m_c``, is 1.25-1.9x faster on a CPU for ``k >= 2``,
in inference and in training, where the tiles' padding and gathers cost more than its few hundred
Python iterations; the batched form is 1.4x faster at ``k = 1`` in inference (fewer passes over the
``N x M`` logits; a tie in training) and is meant for GPUs, where every per-class launch and
synchronisation costs. So ``auto`` runs the loop on a CPU when ``k >= 2`` and the batched form
otherwise.

**Vectorisation.** One batched computation over all samples and classes (in memory-bounded
blocks on a CPU, below), no Python loop over either: positions are sorted by ``(sample, class)``;
each (sample, class) *group* is padded to a whole number of tiles of ``T`` rows on each side; the
tile pairs of every group (``ceil(n/T) x ceil(m/T)`` of them) go through one batched matrix
product; a per-row maximum (a scatter-max over a row's tile pairs), one exponential and a second
batched product with ``[v, 1]`` give ``S_w``, the softmax numerators and the denominator in one
sweep (the division comes last, on ``(rows, V)`` instead of the ``(rows, M)`` weights). The work
is ``sum_groups n_g m_g`` padded to tiles, not ``B N M``: a per-class loop's work, not a dense
masked one's. ``T`` is chosen per call by a small cost model (padding waste vs. tile-pair
overhead; :func:`choose_tile`); when every group fits one tile (``k = 1``: a sample is one group),
the products run on the packed tensors directly, without per-pair gathers. The tile size changes
the rounding of the products only.

On a CPU the pairs run in blocks of about 32 MB of temporaries (fresh large buffers cost page
faults there), with an online softmax across blocks (each block's maximum rescales what was summed
before it); a block bounds memory, it is not a loop over samples or classes, and on a GPU one
block holds everything.

**Precision.** :func:`semantic_correspondence` computes in float32 at least, also under bf16
autocast (training) and for bfloat16 / float16 features, and :class:`CorrespondenceNet` runs
theta / phi in float32 too (:mod:`reference_models.layers.precision`): at ``tau = 0.01`` a
bfloat16 cosine would move a logit by up to ~0.4.

The feature network (:class:`CorrespondenceNet`) follows the released ``WarpNet``
(``models/NonlocalNet_stego.py`` of ``viector/spcolor``); :data:`AUTHORS_KEY_MAP` renames its
state dict to ours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from reference_models.layers.checks import check_tensor
from reference_models.layers.precision import autocast_off, full_precision
from reference_models.spcolor.class_loop import class_loop_correspondence
from reference_models.spcolor.correspondence_result import EPS, Correspondence

__all__ = [
    "AUTHORS_KEY_MAP",
    "CORRESPONDENCE_LAYERS",
    "Correspondence",
    "CorrespondenceNet",
    "CorrespondenceOutput",
    "ResidualBlock",
    "auto_method",
    "choose_tile",
    "convert_authors_state_dict",
    "normalize_features",
    "semantic_correspondence",
]

#: The VGG19 layers the correspondence features are built from (the released code's r22 .. r52).
CORRESPONDENCE_LAYERS = ("relu2_2", "relu3_2", "relu4_2", "relu5_2")
#: Prefix renames from the released ``WarpNet`` state dict to :class:`CorrespondenceNet`.
AUTHORS_KEY_MAP = {"layer2_1.": "level2.", "layer3_1.": "level3.", "layer4_1.": "level4.",
                   "layer5_1.": "level5.", "layer.": "fuse.", "theta_class.": "theta.", "phi_class.": "phi."}
#: Candidate tile heights (rows) for :func:`choose_tile`, besides the largest group's size.
_TILES = (16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192)
#: Default ``block`` of :func:`semantic_correspondence`: floats of temporaries per block on a CPU / a GPU.
_BLOCK_CPU, _BLOCK_GPU = 1 << 23, 1 << 29
#: Masks a padded key: ``exp(-1e30 - max)`` is exactly 0 in float32 and float64.
_PAD_LOGIT = -1e30
#: ``method`` of :func:`semantic_correspondence`.
METHODS = ("auto", "batched", "loop")
#: Device types where ``method="auto"`` runs the per-class loop (from ``LOOP_MIN_CLASSES`` classes on);
#: change these (or pass ``method``) to choose otherwise, e.g. to benchmark.
LOOP_DEVICES = frozenset({"cpu"})
LOOP_MIN_CLASSES = 2


def _check_classes(name: str, classes: torch.Tensor, shape: tuple[int, ...]) -> None:
    check_tensor(classes, name, "B h w", torch.int64)
    if tuple(classes.shape) != shape:
        raise ValueError(f"{name} must have a shape of (B, h, w) = {shape}; got {tuple(classes.shape)}")


def choose_tile(target_counts: torch.Tensor, reference_counts: torch.Tensor, channels: int, values: int) -> int:
    """The tile height (rows) that minimises a rough cost estimate of :func:`semantic_correspondence`.

    Args:
        target_counts: :math:`(G,)` positions of each matched (sample, class) group in the target.
        reference_counts: :math:`(G,)` the same in the reference (same groups, all > 0).
        channels: feature channels ``C``.
        values: warped channels ``V``.

    Returns:
        The chosen tile height. The estimate, in nanoseconds on one CPU core (fitted once on
        ``benchmarks/spc_bench.py``'s inputs; only the *ranking* of candidates matters): per computed
        logit ``2 (C + V + 1) / 40 + 4`` (the products, then the max / exp passes), per tile pair
        9000 (batching overhead), per packed row element 3. Speed only: any tile gives the same
        result up to rounding.
    """
    if target_counts.numel() == 0:
        return _TILES[0]
    nq = target_counts.double()
    nk = reference_counts.double()
    largest = int(max(nq.max().item(), nk.max().item()))
    candidates = sorted({t for t in _TILES if t < largest} | {max(16, -(-largest // 16) * 16)})
    best_cost, best_tile = math.inf, candidates[-1]
    for tile in candidates:
        tq = torch.ceil(nq / tile)
        tk = torch.ceil(nk / tile)
        pairs = float((tq * tk).sum())
        cost = pairs * tile * tile * (2 * (channels + values + 1) / 40 + 4) + pairs * 9000
        cost += float(tq.sum() + tk.sum()) * tile * 3 * channels
        if cost < best_cost:
            best_cost, best_tile = cost, tile
    return best_tile


class _Layout(NamedTuple):
    src: torch.Tensor        # (tiles * T,) row feeding each packed slot; ``rows`` (one past the end) = padding
    slot_of_row: torch.Tensor  # (rows,) packed slot of each row; ``tiles * T`` (one past the end) = not packed
    tile_group: torch.Tensor  # (tiles,) the group of each tile
    tiles: int


def _layout(groups: torch.Tensor, counts: torch.Tensor, tiles_per_group: torch.Tensor, tile: int) -> _Layout:
    """Sort rows by group and pad each group to ``tiles_per_group[g] * tile`` slots (0 tiles: dropped)."""
    rows = groups.numel()
    device = groups.device
    order = torch.argsort(groups, stable=True)
    sorted_groups = groups[order]
    rank = torch.arange(rows, device=device) - (torch.cumsum(counts, 0) - counts)[sorted_groups]
    tile_offset = torch.cumsum(tiles_per_group, 0) - tiles_per_group
    slot = tile_offset[sorted_groups] * tile + rank
    keep = tiles_per_group[sorted_groups] > 0
    tiles = int(tiles_per_group.sum())
    src = torch.full((tiles * tile,), rows, dtype=torch.long, device=device)
    src[slot[keep]] = order[keep]
    slot_of_row = torch.full((rows,), tiles * tile, dtype=torch.long, device=device)
    slot_of_row[order[keep]] = slot[keep]
    tile_group = torch.repeat_interleave(torch.arange(counts.numel(), device=device), tiles_per_group)
    return _Layout(src, slot_of_row, tile_group, tiles)


def _normalised_rows(x: torch.Tensor, groups: torch.Tensor, counts: torch.Tensor, scale: float) -> torch.Tensor:
    """Rows ``x (R, C)`` centred on their group's mean, over ``||.|| + eps``, times ``scale`` (a new tensor)."""
    sums = x.new_zeros(counts.numel(), x.shape[1]).index_add_(0, groups, x)
    means = sums / counts.clamp(min=1).to(x.dtype)[:, None]
    centred = x - means.index_select(0, groups)
    denominator = (torch.linalg.vector_norm(centred, dim=1, keepdim=True) + EPS) / scale
    if torch.is_grad_enabled():
        return centred / denominator
    return centred.div_(denominator)  # in place: one (R, C) buffer less when nothing needs gradients


def _gather_tiles(rows: torch.Tensor, src: torch.Tensor, tile: int) -> torch.Tensor:
    """``rows (R, C)`` at the packed slots ``src`` (``R`` = padding, filled with the last row: padded
    queries are dropped and padded keys masked, so no zero-fill pass is needed) -> ``(len(src) / T, T, C)``."""
    count = rows.shape[0]
    if src.numel() == count and bool((src == torch.arange(count, device=src.device)).all()):
        return rows.view(-1, tile, rows.shape[1])  # already in order (one class per sample): no copy
    return rows.index_select(0, src.clamp(max=count - 1)).view(-1, tile, rows.shape[1])


def _direct(q_rows: torch.Tensor, k_rows: torch.Tensor, v_rows: torch.Tensor, q_src: torch.Tensor,
            k_src: torch.Tensor, key_pad: torch.Tensor, tile: int, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every group is one tile per side: query tile ``t`` meets key tile ``t``. Row blocks of all
    tiles at once (each row sees all its keys, so blocks are independent).

    Returns ``(row_max (tiles, T), sums (tiles, T, V + 1))`` of ``exp(logit - row_max) [v, 1]``.
    """
    qp = _gather_tiles(q_rows, q_src, tile)
    kt = _gather_tiles(k_rows, k_src, tile).transpose(1, 2)
    vp = _gather_tiles(v_rows, k_src, tile)
    padded = bool(key_pad.any())
    rows = max(1, block // (qp.shape[0] * tile))
    maxima, sums = [], []
    for start in range(0, tile, rows):  # blocks of rows: a memory bound, not a loop over samples or classes
        logits = torch.bmm(qp[:, start:start + rows], kt)
        if padded:
            logits = logits.masked_fill_(key_pad[:, None, :], _PAD_LOGIT)
        row_max = logits.amax(-1)
        # exp(z - max z): the max is a constant shift of the softmax, so it carries no gradient
        if torch.is_grad_enabled():
            weights = torch.exp(logits - row_max.detach()[..., None])
        else:
            weights = logits.sub_(row_max[..., None]).exp_()
        maxima.append(row_max)
        sums.append(torch.bmm(weights, vp))
    return torch.cat(maxima, 1), torch.cat(sums, 1)


def _paired(q_rows: torch.Tensor, k_rows: torch.Tensor, v_rows: torch.Tensor, q_src: torch.Tensor,
            k_src: torch.Tensor, key_pad: torch.Tensor, pair_q: torch.Tensor, pair_k: torch.Tensor, q_tiles: int,
            tile: int, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tile pairs ``(pair_q[p], pair_k[p])``, in blocks of pairs with an online softmax: each block's
    maximum updates the rows' running maximum, and what was summed under the old one is rescaled by
    ``exp(old - new)``. One block (the usual case on a GPU) is the plain two-pass computation.

    Returns ``(row_max (q_tiles, T), sums (q_tiles, T, V + 1))`` as :func:`_direct`.
    """
    channels, values = q_rows.shape[1], v_rows.shape[1]
    q_src, k_src = q_src.view(-1, tile), k_src.view(-1, tile)
    grad = torch.is_grad_enabled()
    padded = bool(key_pad.any())
    row_max = torch.full((q_tiles, tile), -math.inf, dtype=q_rows.dtype, device=q_rows.device)
    sums = q_rows.new_zeros(q_tiles, tile, values)
    per_block = max(1, block // (tile * (2 * channels + tile + values)))
    for start in range(0, pair_q.numel(), per_block):  # blocks of tile pairs: a memory bound, not classes
        pq, pk = pair_q[start:start + per_block], pair_k[start:start + per_block]
        k_block = k_src.index_select(0, pk).reshape(-1)
        logits = torch.bmm(_gather_tiles(q_rows, q_src.index_select(0, pq).reshape(-1), tile),
                           _gather_tiles(k_rows, k_block, tile).transpose(1, 2))
        if padded:
            logits = logits.masked_fill_(key_pad.index_select(0, pk)[:, None, :], _PAD_LOGIT)
        block_max = torch.full_like(row_max, -math.inf).scatter_reduce(0, pq[:, None].expand(-1, tile),
                                                                        logits.amax(-1), "amax")
        new_max = torch.maximum(row_max, block_max)
        shift = new_max.detach()
        # rows met before: their sums were taken relative to the old maximum; rows not met yet hold 0
        seen = torch.isfinite(row_max)
        factor = torch.exp(torch.where(seen, row_max.detach() - shift, -math.inf))[..., None]
        if grad:
            weights = torch.exp(logits - shift.index_select(0, pq)[..., None])
            sums = (sums * factor).index_add(0, pq, torch.bmm(weights, _gather_tiles(v_rows, k_block, tile)))
        else:
            weights = logits.sub_(shift.index_select(0, pq)[..., None]).exp_()
            sums.mul_(factor).index_add_(0, pq, torch.bmm(weights, _gather_tiles(v_rows, k_block, tile)))
        row_max = new_max
    return row_max, sums


def auto_method(device: torch.device | str, num_classes: int) -> str:
    """What ``semantic_correspondence(..., method="auto")`` runs: ``"loop"`` on a CPU when
    ``num_classes >= LOOP_MIN_CLASSES``, ``"batched"`` otherwise (one class, or a GPU).

    On a CPU the per-class loop's exact ``n_c x m_c`` products beat the batched form's tiles and
    gathers once there are several classes (1.25-1.9x at k >= 2 in ``benchmarks/spc_bench.py``,
    inference and training); with one class a sample is one group and the batched form's direct path
    is faster (1.4x at k = 1 in inference, a tie in training). On a GPU every per-class launch and
    synchronisation costs, which the batched form avoids.
    """
    return "loop" if torch.device(device).type in LOOP_DEVICES and num_classes >= LOOP_MIN_CLASSES else "batched"


def semantic_correspondence(target_features: torch.Tensor, reference_features: torch.Tensor,
                            reference_values: torch.Tensor, target_classes: torch.Tensor,
                            reference_classes: torch.Tensor, num_classes: int | None = None,
                            temperature: float = 0.01, tile: int | None = None,
                            block: int | None = None, method: str = "auto") -> Correspondence:
    """Class-restricted non-local correspondence (SPC), batched over samples and classes or by a loop.

    Args:
        target_features: :math:`(B, C, h, w)` projected target features (``theta``, before
            centring), float.
        reference_features: :math:`(B, C, h', w')` projected reference features (``phi``).
        reference_values: :math:`(B, V, h', w')` what is warped (SPColor: ``[a, b, confidence]``).
        target_classes: :math:`(B, h, w)` int64 pseudo-classes in ``[0, num_classes)``; a negative
            class matches nothing (an unrelated position).
        reference_classes: :math:`(B, h', w')` int64, the same classes.
        num_classes: ``k``; default: ``max(class) + 1`` over both maps.
        temperature: ``tau`` of the softmax (the released code passes 0.01).
        tile: tile height (rows) of the packed products; ``None`` = :func:`choose_tile`. Speed only.
        block: at most about this many floats of temporaries (gathered tiles and logits) at once;
            ``None`` = 2^23 (32 MB in float32) on a CPU, where fresh large buffers cost page faults,
            and 2^29 on a GPU (one block). Speed and memory only.
        method: ``"batched"`` (one computation over all samples and classes; ``tile`` and ``block``
            apply to it only), ``"loop"`` (one (sample, class) group at a time,
            :func:`~reference_models.spcolor.class_loop.class_loop_correspondence`) or ``"auto"``
            (:func:`auto_method`: the loop on a CPU, the batched form on a GPU). The same result up
            to float rounding.

    Returns:
        :class:`Correspondence` with ``warped`` :math:`(B, V, h, w)`, ``best`` (``S_w``) and
        ``matched`` :math:`(B, h, w)`; float64 for float64 inputs, float32 otherwise (also under
        autocast). Differentiable with respect to the features and values.

    Raises:
        TypeError: a tensor of the wrong type or dtype.
        ValueError: shapes that do not agree, classes outside ``[.., num_classes)``, ``temperature <= 0``.
    """
    check_tensor(target_features, "target_features", "B C h w", "float")
    check_tensor(reference_features, "reference_features", "B C h' w'", "float")
    check_tensor(reference_values, "reference_values", "B V h' w'", "float")
    batch, channels, height, width = target_features.shape
    _, _, ref_height, ref_width = reference_features.shape
    if reference_features.shape[:2] != (batch, channels):
        raise ValueError(f"reference_features must have a shape of (B, C, h', w') = ({batch}, {channels}, h', w'); "
                         f"got {tuple(reference_features.shape)}")
    if reference_values.shape[0] != batch or reference_values.shape[2:] != reference_features.shape[2:]:
        raise ValueError(f"reference_values must have a shape of (B, V, h', w') = ({batch}, V, {ref_height}, "
                         f"{ref_width}); got {tuple(reference_values.shape)}")
    _check_classes("target_classes", target_classes, (batch, height, width))
    _check_classes("reference_classes", reference_classes, (batch, ref_height, ref_width))
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    top = int(max(target_classes.max().item(), reference_classes.max().item())) if target_classes.numel() else -1
    if num_classes is None:
        num_classes = max(top + 1, 1)
    if top >= num_classes:
        raise ValueError(f"classes must be < num_classes = {num_classes}; got {top}")
    if method == "auto":
        method = auto_method(target_features.device, num_classes)
    # float32 at least, also when called under bf16 autocast or with half-precision features (see
    # Precision in the module docstring): the products and the softmax at tau run in that dtype
    target_features, reference_features, reference_values = (
        full_precision(x) for x in (target_features, reference_features, reference_values))
    with autocast_off(target_features.device):
        if method == "loop":
            return class_loop_correspondence(target_features, reference_features, reference_values, target_classes,
                                             reference_classes, num_classes, temperature)
        return _batched(target_features, reference_features, reference_values, target_classes, reference_classes,
                        num_classes, temperature, tile, block)


def _batched(target_features: torch.Tensor, reference_features: torch.Tensor, reference_values: torch.Tensor,
             target_classes: torch.Tensor, reference_classes: torch.Tensor, num_classes: int, temperature: float,
             tile: int | None, block: int | None) -> Correspondence:
    """The batched form of :func:`semantic_correspondence` (inputs checked there; module docstring)."""
    batch, channels, height, width = target_features.shape
    ref_height, ref_width = reference_features.shape[2:]
    device = target_features.device
    values = reference_values.shape[1]
    n, m = height * width, ref_height * ref_width
    groups_total = batch * num_classes
    q = target_features.flatten(2).transpose(1, 2).reshape(batch * n, channels)
    k = reference_features.flatten(2).transpose(1, 2).reshape(batch * m, channels)
    v = reference_values.flatten(2).transpose(1, 2).reshape(batch * m, values)
    offset = torch.arange(batch, device=device)[:, None] * num_classes
    # A negative class goes to an extra group (index groups_total) that never matches.
    gq = torch.where(target_classes.flatten(1) >= 0, target_classes.flatten(1) + offset, groups_total).reshape(-1)
    gk = torch.where(reference_classes.flatten(1) >= 0, reference_classes.flatten(1) + offset,
                     groups_total).reshape(-1)
    nq = torch.bincount(gq, minlength=groups_total + 1)
    nk = torch.bincount(gk, minlength=groups_total + 1)
    used = (nq > 0) & (nk > 0)
    used[groups_total] = False

    warped_rows = q.new_zeros(batch * n, values)
    best_rows = q.new_zeros(batch * n)
    if bool(used.any()):
        if tile is None:
            tile = choose_tile(nq[used], nk[used], channels, values)
        tq = torch.where(used, (nq + tile - 1) // tile, 0)
        tk = torch.where(used, (nk + tile - 1) // tile, 0)
        q_layout = _layout(gq, nq, tq, tile)
        k_layout = _layout(gk, nk, tk, tile)
        # The temperature is folded into the queries: one pass less over the (pairs, T, T) logits.
        q_rows = _normalised_rows(q, gq, nq, 1.0 / temperature)
        k_rows = _normalised_rows(k, gk, nk, 1.0)
        v_rows = torch.cat([v, v.new_ones(v.shape[0], 1)], 1)  # [v, 1]: numerators and denominator in one product
        key_pad = k_layout.src.view(k_layout.tiles, tile) == k.shape[0]
        pairs_per_group = tq * tk
        pairs = int(pairs_per_group.sum())
        if block is None:
            block = _BLOCK_CPU if device.type == "cpu" else _BLOCK_GPU
        if pairs == q_layout.tiles == k_layout.tiles:  # every group is one tile per side
            row_max, sums = _direct(q_rows, k_rows, v_rows, q_layout.src, k_layout.src, key_pad, tile, block)
        else:
            pair_group = torch.repeat_interleave(torch.arange(groups_total + 1, device=device), pairs_per_group)
            first_pair = torch.cumsum(pairs_per_group, 0) - pairs_per_group
            local = torch.arange(pairs, device=device) - first_pair[pair_group]
            per_row = tk[pair_group]
            pair_q = (torch.cumsum(tq, 0) - tq)[pair_group] + torch.div(local, per_row, rounding_mode="floor")
            pair_k = (torch.cumsum(tk, 0) - tk)[pair_group] + local % per_row
            row_max, sums = _paired(q_rows, k_rows, v_rows, q_layout.src, k_layout.src, key_pad, pair_q, pair_k,
                                    q_layout.tiles, tile, block)
        packed_warped = (sums[..., :values] / sums[..., values:]).reshape(-1, values)
        packed_best = (row_max * temperature).reshape(-1)
        matched_rows = q_layout.slot_of_row < packed_best.numel()
        take = q_layout.slot_of_row.clamp(max=packed_best.numel() - 1)
        warped_rows = torch.where(matched_rows[:, None], packed_warped.index_select(0, take), warped_rows)
        best_rows = torch.where(matched_rows, packed_best.index_select(0, take), best_rows)
    matched = used[gq].view(batch, height, width)
    warped = warped_rows.view(batch, height, width, values).permute(0, 3, 1, 2)
    return Correspondence(warped, best_rows.view(batch, height, width), matched)


def normalize_features(features: torch.Tensor) -> torch.Tensor:
    """``x / (||x||_2 + eps)`` over channels (dim 1), as the released ``feature_normalize``."""
    return features / (torch.linalg.vector_norm(features, dim=1, keepdim=True) + EPS)


def _conv_block(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    # ReflectionPad-conv-InstanceNorm-PReLU, the released WarpNet's unit (its module order, so the
    # state dict keys line up index for index).
    return [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=0),
            nn.InstanceNorm2d(out_channels), nn.PReLU()]


class ResidualBlock(nn.Module):
    """Two ReflectionPad-conv(3x3)-InstanceNorm layers, PReLU between and after the residual add
    (one PReLU module, used twice, as the released ``ResidualBlock``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.padding1 = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=0)
        self.bn1 = nn.InstanceNorm2d(channels)
        self.prelu = nn.PReLU()
        self.padding2 = nn.ReflectionPad2d(1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=0)
        self.bn2 = nn.InstanceNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.prelu(self.bn1(self.conv1(self.padding1(x))))
        out = self.bn2(self.conv2(self.padding2(out)))
        return self.prelu(out + x)


class CorrespondenceOutput(NamedTuple):
    """What :meth:`CorrespondenceNet.forward` returns, at the image resolution (x4 nearest).

    Attributes:
        warped_ab: :math:`(B, 2, H, W)` warped reference ab (raw CIELAB units); 0 in unrelated regions.
        similarity: :math:`(B, 1, H, W)` ``S = S_w x S'_cl,R x S_cl,T``; 0 in unrelated regions.
        matched: :math:`(B, 1, H, W)` bool, the position's class is present in the reference.
    """

    warped_ab: torch.Tensor
    similarity: torch.Tensor
    matched: torch.Tensor


class CorrespondenceNet(nn.Module):
    """The released ``WarpNet`` with the semantic correspondence: VGG19 pyramid -> features -> SPC.

    Each of relu2_2 (128 ch, H/2), relu3_2 (256, H/4), relu4_2 (512, H/8), relu5_2 (512, H/16),
    L2-normalised over channels, is mapped to ``channels`` at H/4 (two ReflectionPad-conv-IN-PReLU
    units: relu2_2 strided down, relu4_2 and relu5_2 nearest-upsampled), concatenated
    (``4 channels``), through three residual blocks; ``theta`` / ``phi`` are per-position linear
    maps ``4c -> 4c`` (the released ``theta_class`` / ``phi_class``).

    Args:
        channels: per-level width (the released 64; the concatenation is ``4 channels`` = 256).
        temperature: ``tau`` (0.01, what the released code passes in training and inference).
        method: how the SPC runs (``semantic_correspondence``'s ``method``: ``"auto"`` picks by device;
            ``"batched"`` or ``"loop"`` force one, e.g. to benchmark); the attribute can be changed later.
    """

    def __init__(self, channels: int = 64, temperature: float = 0.01, method: str = "auto"):
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1; got {channels}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        c2, c4 = 2 * channels, 4 * channels  # the released mid widths 128 and 256 at channels = 64
        self.channels, self.temperature, self.method = channels, temperature, method
        self.level2 = nn.Sequential(*_conv_block(128, c2), *_conv_block(c2, channels, stride=2))
        self.level3 = nn.Sequential(*_conv_block(256, c2), *_conv_block(c2, channels))
        self.level4 = nn.Sequential(*_conv_block(512, c4), *_conv_block(c4, channels), nn.Upsample(scale_factor=2))
        self.level5 = nn.Sequential(*_conv_block(512, c4), nn.Upsample(scale_factor=2), *_conv_block(c4, channels),
                                    nn.Upsample(scale_factor=2))
        self.fuse = nn.Sequential(ResidualBlock(c4), ResidualBlock(c4), ResidualBlock(c4))
        self.theta = nn.Linear(c4, c4)
        self.phi = nn.Linear(c4, c4)

    def features(self, vgg: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``{relu2_2, relu3_2, relu4_2, relu5_2}`` of an image :math:`(B, 3, H, W)` (H, W divisible
        by 16) -> correspondence features :math:`(B, 4c, H/4, W/4)` (before theta/phi)."""
        missing = [name for name in CORRESPONDENCE_LAYERS if name not in vgg]
        if missing:
            raise ValueError(f"VGG features must hold {CORRESPONDENCE_LAYERS}; missing {missing}")
        levels = (self.level2, self.level3, self.level4, self.level5)
        maps = [level(normalize_features(vgg[name])) for level, name in zip(levels, CORRESPONDENCE_LAYERS)]
        if len({tuple(x.shape[2:]) for x in maps}) != 1:
            raise ValueError(f"the four levels must meet at H/4 x W/4 (H, W divisible by 16); got "
                             f"{[tuple(x.shape[2:]) for x in maps]}")
        return self.fuse(torch.cat(maps, 1))

    def forward(self, target_vgg: Mapping[str, torch.Tensor], reference_vgg: Mapping[str, torch.Tensor],
                reference_ab: torch.Tensor, target_classes: torch.Tensor, target_confidence: torch.Tensor,
                reference_classes: torch.Tensor, reference_confidence: torch.Tensor,
                num_classes: int | None = None) -> CorrespondenceOutput:
        """Warp the reference's colour onto the target.

        Args:
            target_vgg: VGG19 ``relu2_2 .. relu5_2`` of the (gray) target, from an image :math:`(B, 3, H, W)`.
            reference_vgg: the same for the reference (same H, W).
            reference_ab: :math:`(B, 2, H, W)` reference ab, raw CIELAB units.
            target_classes: :math:`(B, h_c, w_c)` int64 pseudo-classes (any size; nearest-resized to H/4).
            target_confidence: :math:`(B, h_c, w_c)` classification confidence in [0, 1].
            reference_classes: :math:`(B, h_r, w_r)` int64.
            reference_confidence: :math:`(B, h_r, w_r)` in [0, 1].
            num_classes: ``k`` (default: the largest class + 1).

        Returns:
            :class:`CorrespondenceOutput` at :math:`(H, W)`.
        """
        tf = self.features(target_vgg)
        rf = self.features(reference_vgg)
        batch, _, h, w = tf.shape
        if reference_ab.ndim != 4 or reference_ab.shape[:2] != (batch, 2) or reference_ab.shape[2:] != (4 * h, 4 * w):
            raise ValueError(f"reference_ab must have a shape of (B, 2, H, W) = ({batch}, 2, {4 * h}, {4 * w}); "
                             f"got {tuple(reference_ab.shape)}")
        size = (h, w)
        cls_t = _nearest(target_classes, size, "target_classes").long()
        cls_r = _nearest(reference_classes, size, "reference_classes").long()
        # float32 from theta / phi on, even under bf16 autocast: at tau = 0.01 a bf16 cosine (3
        # significant digits) would move the softmax's logits by about 0.4; theta / phi alone in
        # bfloat16 (the SPC in float32) moved the warped ab by up to 0.69 (random weights, the test)
        with autocast_off(tf.device):
            tf, rf = full_precision(tf), full_precision(rf)
            conf_t = _nearest(target_confidence, size, "target_confidence").to(tf.dtype)
            conf_r = _nearest(reference_confidence, size, "reference_confidence").to(tf.dtype)
            values = torch.cat([F.avg_pool2d(reference_ab, 4), conf_r[:, None]], 1)
            theta = self.theta(tf.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            phi = self.phi(rf.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            corr = semantic_correspondence(theta, phi, values, cls_t, cls_r, num_classes, self.temperature,
                                           method=self.method)
            similarity = corr.best * corr.warped[:, 2] * conf_t
        out = torch.cat([corr.warped[:, :2], similarity[:, None]], 1)
        out = F.interpolate(out, scale_factor=4, mode="nearest")
        matched = F.interpolate(corr.matched[:, None].to(out.dtype), scale_factor=4, mode="nearest") > 0
        return CorrespondenceOutput(out[:, :2], out[:, 2:], matched)


def _nearest(x: torch.Tensor, size: tuple[int, int], name: str) -> torch.Tensor:
    """``(B, h, w)`` -> ``(B, *size)`` nearest-neighbour, as the released ``F.interpolate(..., mode="nearest")``."""
    check_tensor(x, name, "B h w")
    if tuple(x.shape[1:]) == size:
        return x
    dtype = x.dtype if x.is_floating_point() else torch.float64  # class ids stay exact
    return F.interpolate(x[:, None].to(dtype), size=size, mode="nearest")[:, 0]


def convert_authors_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A released ``WarpNet`` state dict (``nonlocal_net_iter_*.pth``) renamed for :class:`CorrespondenceNet`.

    Keys of parts SPColor does not use (the base project's ``theta`` / ``phi`` convolutions) are dropped.
    """
    out = {}
    for key, value in state_dict.items():
        for old, new in AUTHORS_KEY_MAP.items():
            if key.startswith(old):
                out[new + key[len(old):]] = value
                break
    return out
