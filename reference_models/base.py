"""The inference contract every reference model keeps: :class:`ColorizationModel`.

A model is an ``nn.Module`` whose ``forward`` runs on its own preprocessed tensors. This base class
gives every model the same way in from photographs:

* ``colorize(gray, reference, masks=None)`` on tensors (uint8 or float in [0, 1], ``(3, H, W)`` or
  ``(B, 3, H, W)``), returning sRGB at the target's size;
* ``preparer()`` + ``colorize_prepared(samples)``: the same, split so the preparation (resizing,
  superpixels, CIELAB) runs in DataLoader workers and the network on batches
  (:func:`reference_models.colorize_split`);
* ``accepts_masks``: whether the model uses object masks (MSA, SA) or not (SPColor);
* ``checkpoint_state_dict()`` / ``load_checkpoint_state_dict(state)``: what a checkpoint holds (the
  whole state by default; SPColor leaves out the frozen networks it reads from their own files).

A model implements ``preparer()`` (a picklable ``prepare(target, reference, target_mask,
reference_mask) -> sample`` on numpy images) and ``predict(samples)`` (the network on a batch of
prepared samples, in eval mode and without gradients, one ``(3, H, W)`` sRGB tensor per sample);
the base class does the rest, so callers never probe a model for what it supports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import ClassVar

import torch
from torch import nn

from bench.core.errors import ColorbenchError

from .layers.colorize_inputs import split_colorize_inputs

__all__ = ["ColorizationModel"]


class ColorizationModel(nn.Module):
    """Base class of the reference models (see the module docstring)."""

    #: Whether ``colorize`` takes object masks (MaskSLIC, masked attention).
    accepts_masks: ClassVar[bool] = True
    #: The model's registry name, for messages.
    model_name: ClassVar[str] = "this model"

    @classmethod
    def from_config(cls, config) -> ColorizationModel:
        """A new network of ``config`` (its pretrained parts from the weights registry)."""
        return cls(config)

    @classmethod
    def for_checkpoint(cls, config) -> ColorizationModel:
        """The network a checkpoint of ``config`` is loaded into (by default :meth:`from_config`; a
        model whose checkpoint holds its pretrained parts need not read their files)."""
        return cls.from_config(config)

    def preparer(self) -> Callable:
        """A picklable ``prepare(target, reference, target_mask, reference_mask) -> sample``: numpy
        ``(H, W, 3)`` images (uint8, or float in [0, 1]) and optional ``(H, W)`` bool masks."""
        raise NotImplementedError

    def predict(self, samples: Sequence) -> list[torch.Tensor]:
        """The network on prepared samples as one batch: ``(3, H, W)`` float sRGB in [0, 1] per
        sample, at its target's size. Called in eval mode, without gradients."""
        raise NotImplementedError

    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode and no gradients inside; the previous mode restored after (training goes on)."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def colorize_prepared(self, samples: Sequence) -> list[torch.Tensor]:
        """Colorize samples made by :meth:`preparer` as one batch (see :meth:`predict`)."""
        with self.evaluating():
            return self.predict(samples)

    def colorize(self, gray_rgb: torch.Tensor, reference_rgb: torch.Tensor,
                 masks: tuple[torch.Tensor | None, torch.Tensor | None] | None = None) -> torch.Tensor:
        """Colorize at the target's size.

        Args:
            gray_rgb: target :math:`(3, H, W)` or :math:`(B, 3, H, W)`, uint8 or float in [0, 1].
            reference_rgb: :math:`(3, H', W')` or :math:`(B, 3, H', W')`, uint8 or float in [0, 1].
            masks: optional ``(target_mask, reference_mask)``, bool :math:`(H, W)` / :math:`(H', W')`
                (or batched), either may be ``None``; only for a model that ``accepts_masks``.

        Returns:
            sRGB float in [0, 1], :math:`(3, H, W)` or :math:`(B, 3, H, W)`.
        """
        self.check_masks(masks)
        targets, references, target_masks, reference_masks, batched = split_colorize_inputs(gray_rgb, reference_rgb,
                                                                                             masks)
        prepare = self.preparer()
        rgb = self.colorize_prepared([prepare(t, r, tm, rm) for t, r, tm, rm in
                                      zip(targets, references, target_masks, reference_masks)])
        return torch.stack(rgb) if batched else rgb[0]

    def check_masks(self, masks) -> None:
        """A one-line error when masks are given (or, as ``True``, asked for) to a model that takes none."""
        if masks is not None and masks is not False and not self.accepts_masks:
            raise ColorbenchError(f"{self.model_name} uses no object masks; colorize without them")

    def checkpoint_state_dict(self) -> dict[str, torch.Tensor]:
        """What a checkpoint holds (the whole ``state_dict`` unless a model says otherwise)."""
        return self.state_dict()

    def load_checkpoint_state_dict(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load :meth:`checkpoint_state_dict`'s output strictly (RuntimeError on other keys or shapes)."""
        self.load_state_dict(dict(state_dict), strict=True)
