"""What a semantic correspondence returns (:class:`Correspondence`) and the epsilon both of its
implementations use: its own module, so the batched one (:mod:`~reference_models.spcolor.correspondence`)
and the per-class loop (:mod:`~reference_models.spcolor.class_loop`) import it without importing each other."""

from __future__ import annotations

import sys
from typing import NamedTuple

import torch

__all__ = ["EPS", "Correspondence"]

#: The released code's ``sys.float_info.epsilon`` guard in ``x / (||x|| + eps)``.
EPS = sys.float_info.epsilon


class Correspondence(NamedTuple):
    """What :func:`semantic_correspondence` returns (target positions ``(B, h, w)``).

    Attributes:
        warped: :math:`(B, V, h, w)` ``sum_j P_ij v_j``; exactly 0 where ``matched`` is False.
        best: :math:`(B, h, w)` ``S_w = max_j f_ij`` in [0, 1] (a cosine, see above); exactly 0 where
            ``matched`` is False.
        matched: :math:`(B, h, w)` bool, the position's class is present in its reference.
    """

    warped: torch.Tensor
    best: torch.Tensor
    matched: torch.Tensor
