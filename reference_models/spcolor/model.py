"""SPColor (Chen et al. 2023, "SPColor: Semantic Prior Guided Exemplar-based Image Colorization").

:class:`SPColor` chains, for a gray target and a colour reference at ``image_size`` (256):

1. the semantic prior (:mod:`~reference_models.spcolor.prior`) on the target's **gray** image (made
   from its L, so the target's colour cannot reach it) and on the reference: pseudo-classes and
   confidences at 64 x 64;
2. VGG19 relu2_2 .. relu5_2 (frozen, :class:`~reference_models.spcolor.vgg.SPColorVGG`) of the
   target's ``L / 100`` (replicated) and of the reference RGB;
3. the correspondence (:class:`~reference_models.spcolor.correspondence.CorrespondenceNet`):
   warped reference ab and the similarity ``S``, 0 in the target's classes the reference lacks;
4. the colour network (:class:`~reference_models.spcolor.colornet.ColorNet`) on
   ``[a_warp, b_warp, S, L - 50]``: the target's ab (``tanh x 128``).

Trainable: ``correspondence`` and ``colornet`` (joint training, as released); ``vgg`` and ``prior``
are frozen and stay in eval mode. :meth:`SPColor.checkpoint_state_dict` holds what a checkpoint
needs: the trained part and the prior's cluster centres (the k-means prior's are fit on the
training images); the frozen VGG19 and STEGO backbone come from their own files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.core.color import lab_to_rgb, rgb_to_lab
from bench.core.errors import ColorbenchError
from reference_models.base import ColorizationModel
from reference_models.layers.checks import check_tensor
from reference_models.layers.colorize_inputs import as_image_batches
from reference_models.spcolor.colornet import ColorNet
from reference_models.spcolor.config import SPColorConfig
from reference_models.spcolor.correspondence import CorrespondenceNet
from reference_models.spcolor.prior import PriorOutput, SemanticPrior, as_gray_rgb, check_prior_output, gray_from_l
from reference_models.spcolor.vgg import SPColorVGG, gray_vgg_input

__all__ = ["CHECKPOINT_KEYS", "TRAINABLE_PREFIXES", "SPColor", "SPColorOutput"]

#: State-dict prefixes of the trained parts.
TRAINABLE_PREFIXES = ("correspondence.", "colornet.")
#: Other state a checkpoint holds: the prior's cluster centres (fit on the training images for the
#: k-means prior; the reduced STEGO centres otherwise).
CHECKPOINT_KEYS = ("prior.centroids",)


class SPColorOutput(NamedTuple):
    """What :meth:`SPColor.forward` returns (image resolution ``H x W`` unless said).

    Attributes:
        ab: :math:`(B, 2, H, W)` predicted ab, raw CIELAB units in (-128, 128).
        warped_ab: :math:`(B, 2, H, W)` the warped reference ab (0 in unrelated regions).
        similarity: :math:`(B, 1, H, W)` ``S`` in [0, 1] (0 in unrelated regions).
        matched: :math:`(B, 1, H, W)` bool, the target class is present in the reference.
        target_maps: the prior's :class:`~reference_models.spcolor.prior.PriorOutput` for the target.
        reference_maps: the same for the reference.
        reference_features: the reference's VGG features (for the contextual loss).
    """

    ab: torch.Tensor
    warped_ab: torch.Tensor
    similarity: torch.Tensor
    matched: torch.Tensor
    target_maps: PriorOutput
    reference_maps: PriorOutput
    reference_features: dict[str, torch.Tensor]


class SPColor(ColorizationModel):
    """The whole model: semantic prior, VGG19, correspondence, colour network.

    Args:
        config: the settings (default: the paper's).
        prior: a :class:`~reference_models.spcolor.prior.SemanticPrior` with ``num_classes ==
            config.num_classes``; default: built from ``config.prior`` (``"stego"``: the weights
            registry's STEGO file; ``"kmeans"``: an unfitted :class:`~reference_models.spcolor.prior.KMeansPrior`
            on this model's VGG, to be fit before use).
        vgg: the frozen VGG19 (default: :class:`~reference_models.spcolor.vgg.SPColorVGG`, torchvision's
            weights; with ``config.vgg_input == "caffe"`` pass ``SPColorVGG().load_caffe(path)``).
    """

    def __init__(self, config: SPColorConfig | None = None, prior: SemanticPrior | None = None,
                 vgg: nn.Module | None = None):
        super().__init__()
        self.config = config = config or SPColorConfig()
        if vgg is None and config.vgg_input == "caffe":
            raise ColorbenchError("vgg_input='caffe' needs the released vgg19_conv.pth: pass "
                                  "vgg=SPColorVGG().load_caffe(path)")
        self.vgg = vgg if vgg is not None else SPColorVGG()
        if prior is None:
            if config.prior == "stego":
                from reference_models.spcolor.stego import load_stego_prior

                prior = load_stego_prior(num_classes=config.num_classes, out_size=config.image_size // 4,
                                         input_size=config.image_size)
            else:
                from reference_models.spcolor.prior import KMeansPrior

                prior = KMeansPrior(config.num_classes, vgg=self.vgg, input_size=config.image_size,
                                    out_size=config.image_size // 4)
        if getattr(prior, "num_classes", None) != config.num_classes:
            raise ValueError(f"the prior has {getattr(prior, 'num_classes', None)} classes; the config says "
                             f"{config.num_classes}")
        self.prior = prior
        self.correspondence = CorrespondenceNet(config.correspondence_channels, config.temperature)
        self.colornet = ColorNet(4, config.colornet_widths)
        self._freeze()

    def _freeze(self) -> None:
        for frozen in (self.vgg, self.prior):
            if isinstance(frozen, nn.Module):
                frozen.requires_grad_(False)
                frozen.eval()

    def train(self, mode: bool = True) -> SPColor:
        super().train(mode)
        self._freeze()  # VGG and prior stay in eval mode
        return self

    #: SPColor uses no object masks: on object-level splits it colorizes the whole images.
    accepts_masks = False
    model_name = "SPColor"

    def checkpoint_state_dict(self) -> dict[str, torch.Tensor]:
        """What a checkpoint holds: the correspondence's and colour network's parameters and the
        prior's cluster centres (not the frozen VGG19 and prior backbone, read from their files)."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(TRAINABLE_PREFIXES) or k in CHECKPOINT_KEYS}

    def load_checkpoint_state_dict(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load :meth:`checkpoint_state_dict`'s output (strict over its keys and shapes).

        Raises:
            RuntimeError: keys missing or unexpected, or shapes that differ (naming a few), like
                ``load_state_dict``.
        """
        expected, given = set(self.checkpoint_state_dict()), set(state_dict)
        if expected != given:
            raise RuntimeError(f"Error(s) in loading SPColor weights:\n\tmissing {sorted(expected - given)[:3]}, "
                               f"unexpected {sorted(given - expected)[:3]}")
        self.load_state_dict(dict(state_dict), strict=False)

    @torch.no_grad()
    def semantic_maps(self, target_l: torch.Tensor, reference_rgb: torch.Tensor) -> tuple[PriorOutput, PriorOutput]:
        """The prior's classes and confidences for the target (from its L only) and the reference.

        Args:
            target_l: :math:`(B, 1, H, W)` the target's CIELAB L in [0, 100]; the prior sees its gray image.
            reference_rgb: :math:`(B, 3, H, W)` the reference RGB in [0, 1] (made gray first when the
                prior's ``gray_reference`` is set).
        """
        check_tensor(target_l, "target_l", "B 1 H W", "float")
        check_tensor(reference_rgb, "reference_rgb", "B 3 H W", "float")
        target_maps = self.prior(gray_from_l(target_l))
        reference_in = as_gray_rgb(reference_rgb) if getattr(self.prior, "gray_reference", False) else reference_rgb
        reference_maps = self.prior(reference_in)
        k = self.config.num_classes
        return check_prior_output(target_maps, len(target_l), k), check_prior_output(reference_maps, len(target_l), k)

    def forward(self, target_l: torch.Tensor, reference_lab: torch.Tensor, reference_rgb: torch.Tensor | None = None,
                target_maps: PriorOutput | None = None, reference_maps: PriorOutput | None = None,
                prior_l: torch.Tensor | None = None) -> SPColorOutput:
        """Predict the target's ab from preprocessed tensors (see :mod:`~reference_models.spcolor.data`).

        Args:
            target_l: :math:`(B, 1, H, W)` target CIELAB L in [0, 100], as the networks see it (in
                training the noisy ``target_l_input``); H, W divisible by 16 (256 in the paper).
            reference_lab: :math:`(B, 3, H, W)` reference CIELAB (L in [0, 100], raw ab).
            reference_rgb: :math:`(B, 3, H, W)` reference RGB in [0, 1] (default: from ``reference_lab``).
            target_maps: the prior's output for the target (default: computed with :meth:`semantic_maps`).
            reference_maps: the same for the reference.
            prior_l: the L the prior sees (default ``target_l``; in training pass the clean L).

        Returns:
            :class:`SPColorOutput`.
        """
        check_tensor(target_l, "target_l", "B 1 H W", "float")
        check_tensor(reference_lab, "reference_lab", "B 3 H W", "float")
        if reference_lab.shape[0] != target_l.shape[0] or reference_lab.shape[2:] != target_l.shape[2:]:
            raise ValueError(f"reference_lab must have a shape of (B, 3, H, W) = ({target_l.shape[0]}, 3, "
                             f"{target_l.shape[2]}, {target_l.shape[3]}); got {tuple(reference_lab.shape)}")
        if reference_rgb is None:
            reference_rgb = lab_to_rgb(reference_lab)
        check_tensor(reference_rgb, "reference_rgb", "B 3 H W", "float")
        if target_maps is None or reference_maps is None:
            target_maps, reference_maps = self.semantic_maps(prior_l if prior_l is not None else target_l,
                                                             reference_rgb)
        with torch.no_grad():
            target_features = self.vgg(gray_vgg_input(target_l))
            reference_features = self.vgg(reference_rgb)
        corr = self.correspondence(target_features, reference_features, reference_lab[:, 1:], target_maps.classes,
                                   target_maps.confidence, reference_maps.classes, reference_maps.confidence,
                                   self.config.num_classes)
        ab = self.colornet(torch.cat([corr.warped_ab, corr.similarity, target_l - 50.0], 1))
        return SPColorOutput(ab, corr.warped_ab, corr.similarity, corr.matched, target_maps, reference_maps,
                             reference_features)

    def colorize(self, gray_rgb: torch.Tensor, reference_rgb: torch.Tensor, masks=None) -> torch.Tensor:
        """Colorize at the target's size (:class:`~reference_models.base.ColorizationModel`'s
        contract; the preparation runs batched on the model's device instead of image by image).

        Both images are resized to ``image_size`` x ``image_size`` (bilinear, antialiased; whole
        images, no crop, so every target pixel gets a colour); the predicted ab is resized back
        (bilinear) and joined with the target's own full-resolution L.

        Args:
            gray_rgb: target :math:`(3, H, W)` or :math:`(B, 3, H, W)`, uint8 or float in [0, 1]
                (only its CIELAB L is used).
            reference_rgb: :math:`(3, H', W')` or :math:`(B, 3, H', W')`, uint8 or float in [0, 1].
            masks: must be None (SPColor uses no object masks; the models share this signature).

        Returns:
            sRGB float in [0, 1], :math:`(3, H, W)` or :math:`(B, 3, H, W)`.
        """
        self.check_masks(masks)
        target, reference, batched = as_image_batches(gray_rgb, reference_rgb, to_float=True)
        device = next(self.colornet.parameters()).device
        with self.evaluating():
            inputs = prepare_inputs(target.to(device), reference.to(device), self.config.image_size)
            rgb = self._colorize_inputs(inputs, list(inputs["full_l"]))
        return torch.stack(rgb) if batched else rgb[0]

    def preparer(self) -> Callable:
        """A picklable ``prepare(target, reference, target_mask, reference_mask) -> sample`` (uint8
        numpy images; masks ignored) for :meth:`colorize_prepared`: the resizing and CIELAB of
        :meth:`colorize`, done in DataLoader workers."""
        return partial(_prepare_for_colorize, size=self.config.image_size)

    def predict(self, samples: Sequence[dict]) -> list[torch.Tensor]:
        """The network on prepared samples as one batch (the same numbers as :meth:`colorize`);
        :math:`(3, H, W)` float sRGB in [0, 1] per sample, at its target's size."""
        device = next(self.colornet.parameters()).device
        inputs = {key: torch.stack([s[key] for s in samples]).to(device) for key in ("l", "reference_lab",
                                                                                    "reference_rgb")}
        return self._colorize_inputs(inputs, [s["full_l"].to(device) for s in samples])

    def _colorize_inputs(self, inputs: dict[str, torch.Tensor], full_l: list[torch.Tensor]) -> list[torch.Tensor]:
        """Run the network on ``inputs`` (batched, at ``image_size``); each target's ab resized to
        its full-size L :math:`(1, H, W)` and joined with it (in eval mode: :meth:`evaluating`)."""
        out = self(inputs["l"], inputs["reference_lab"], inputs["reference_rgb"])
        images = []
        for i, lightness in enumerate(full_l):  # one size per target: ab back to it, with its own L
            ab = F.interpolate(out.ab[i:i + 1], size=lightness.shape[-2:], mode="bilinear", align_corners=False)
            images.append(lab_to_rgb(torch.cat([lightness[None], ab], 1))[0])
        return images


def prepare_inputs(target: torch.Tensor, reference: torch.Tensor, size: int) -> dict[str, torch.Tensor]:
    """What :meth:`SPColor.colorize` feeds the network, from :math:`(B, 3, H, W)` images in [0, 1]:
    ``full_l`` (the target's CIELAB L at its size), ``l``, ``reference_lab``, ``reference_rgb``
    (at ``size`` x ``size``: whole images, bilinear and antialiased)."""
    # contiguous: images read as (H, W, 3) arrays arrive channels-last, and a layout change alters the
    # convolutions' rounding, which the softmax at tau = 0.01 magnifies
    target, reference = target.clamp(0, 1).contiguous(), reference.clamp(0, 1).contiguous()
    square = (size, size)
    small_target = F.interpolate(target, size=square, mode="bilinear", align_corners=False, antialias=True)
    small_reference = F.interpolate(reference, size=square, mode="bilinear", align_corners=False, antialias=True)
    return {"full_l": rgb_to_lab(target)[:, :1], "l": rgb_to_lab(small_target)[:, :1],
            "reference_lab": rgb_to_lab(small_reference), "reference_rgb": small_reference}


def _prepare_for_colorize(target: np.ndarray, reference: np.ndarray, target_mask=None, reference_mask=None, *,
                          size: int) -> dict[str, torch.Tensor]:
    as_float = [torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float() / 255.0
                for x in (target, reference)]
    return {key: value[0] for key, value in prepare_inputs(*as_float, size).items()}
