"""What MSA and SA share besides the attention layer: the conv block of their encoders and decoders,
and the model base class that colorizes through the family's views (:mod:`.views`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import torch
from torch import nn

from bench.core.device import move_to
from reference_models.base import ColorizationModel
from reference_models.superattention.views import (
    ViewSpec,
    collate,
    postprocess_lightness,
    prepare_pair,
    target_lightness,
)

__all__ = ["SuperAttentionModel", "conv_block", "prepare_for_colorize"]


def conv_block(in_channels: int, out_channels: int, convs: int) -> nn.Sequential:
    """``convs`` times 3x3 conv (padding 1) + BatchNorm + ReLU (the released SA generator's layout)."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1),
                   nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def prepare_for_colorize(target: np.ndarray, reference: np.ndarray, target_mask: np.ndarray | None,
                         reference_mask: np.ndarray | None, spec: ViewSpec) -> dict:
    """The training sample of a pair (:func:`~.views.prepare_pair`) plus the target's own
    full-resolution L, which the output keeps (run in DataLoader workers)."""
    sample = prepare_pair(target, reference, target_mask, reference_mask, spec)
    sample["target_l_full"] = target_lightness(target)
    return sample


class SuperAttentionModel(ColorizationModel):
    """A family member: ``forward(target_input, reference_l, reference_rgb, target_labels,
    reference_labels) -> ab / 127``, with ``config.views`` (a :class:`~.views.ViewSpec`) saying how
    its inputs are made. Colorizing prepares each pair exactly as a training sample is prepared."""

    config: object

    def preparer(self) -> Callable:
        """A picklable ``prepare(target, reference, target_mask, reference_mask) -> sample``."""
        return partial(prepare_for_colorize, spec=self.config.views)

    def predict(self, samples: Sequence[dict]) -> list[torch.Tensor]:
        """The network on prepared samples (their masks, if any, are already in their MaskSLIC label
        maps); the ab resized back to each target's size and joined with its own L."""
        batch = move_to(collate(samples), next(self.parameters()).device)
        ab = self(batch.target_input, batch.reference_l, batch.reference_rgb, batch.target_labels,
                  batch.reference_labels)
        return [postprocess_lightness(ab[k], sample["target_l_full"]) for k, sample in enumerate(samples)]
