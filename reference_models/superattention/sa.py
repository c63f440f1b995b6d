"""The released super-attention generator (Carrillo et al., ACCV 2022), ``gen_color_stride_vgg16(dim=2)``.

A U-Net whose skip connections at levels 1-3 carry super-attention: the target's encoder
features (queries) attend to the reference's encoder features (keys), and the attended
reference *colour* features (values: a frozen VGG19-BN of the reference RGB) are concatenated
into the decoder. Layer by layer (all 3x3 convs padding 1 + BatchNorm + ReLU):

=========  ==========================================================  ==============
module     what                                                        output at 224
=========  ==========================================================  ==============
gen1       2 conv 3 -> 64                                              64 x 224
gen2       maxpool, 2 conv -> 128                                      128 x 112
gen3       maxpool, 3 conv -> 256                                      256 x 56
gen4       maxpool, 3 conv -> 512 (target only)                        512 x 28
gen4_up    ConvTranspose 512 -> 256 (k4 s2 p1; no ReLU, as released)   256 x 56
gen5_conv  1x1 on cat[up, attended_3, skip_3] 768 -> 256, then gen5    256 x 56
gen5_up    ConvTranspose -> 128 + ReLU; gen6_conv 384 -> 128; gen6     128 x 112
gen6_up    ConvTranspose -> 64 + ReLU; gen7_conv 192 -> 64; gen7       64 x 224
out        1x1 64 -> 2, tanh                                           2 x 224
=========  ==========================================================  ==============

The reference goes through the same gen1-gen3 weights. ``attention_4`` (512 channels) exists in
the released checkpoint but is never called; it is kept so the checkpoint loads strictly.

Values: torchvision ``vgg19_bn`` features at indices 5 / 12 / 25 (relu1_2 / relu2_2 / relu3_4) of
the ImageNet-normalised reference RGB at 224, frozen and in eval mode. That network is loaded from
colorbench's weights registry (``vgg19_bn``) and held *outside* the module tree (not a registered
submodule), so ``state_dict()`` has exactly the released checkpoint's keys and the official
``checkpoint.pt`` loads with ``strict=True``; ``.to()``, ``.float()`` etc. still move it, and
``train()`` never takes it out of eval mode.

Load the official file with ``reference_models.load("checkpoint.pt", model="sa")`` and use
:meth:`SAGenerator.colorize` on images; :meth:`SAGenerator.forward` takes the preprocessed tensors.
The released model (``SAConfig.official_compat``) colorizes through the released float pipeline
(:mod:`.released_preprocess`); a model trained here colorizes from the family's views
(:mod:`.views`), the very samples it trained on, and keeps the target's CIELAB L, as MSA does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
from torch import nn

from bench.core.errors import ColorbenchError
from reference_models.layers.checks import check_tensor
from reference_models.layers.super_attention import SuperAttention
from reference_models.superattention.config import SAConfig
from reference_models.superattention.family import SuperAttentionModel, conv_block
from reference_models.superattention.released_preprocess import SAInputs, postprocess, preprocess_pair, to_tensors

__all__ = ["SA_VALUE_LAYERS", "SAGenerator", "build_value_encoder", "load_sa_checkpoint"]

#: The VGG19-BN layers whose outputs are the attention values at levels 1-3 (feature indices 5, 12, 25).
SA_VALUE_LAYERS = ("relu1_2", "relu2_2", "relu3_4")

_WIDTHS = (64, 128, 256, 512)


def build_value_encoder() -> nn.Module:
    """The frozen VGG19-BN value network (ImageNet weights from the registry's ``vgg19_bn`` file).

    Returns:
        A module mapping RGB in [0, 1] :math:`(B, 3, H, W)` to ``{relu1_2, relu2_2, relu3_4}``
        (ImageNet normalisation inside, as the released ``imagenet_norm``).
    """
    from bench.features.vgg import VGGFeatures

    return VGGFeatures(SA_VALUE_LAYERS, network="vgg19_bn")


def load_sa_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The generator's state dict from the released ``checkpoint.pt`` (a dict with ``state_dict``).

    Read as every checkpoint is (:func:`reference_models.training.checkpoints.load_weights`:
    ``torch.load(weights_only=True)``, no pickle code runs), on the CPU.

    Raises:
        ColorbenchError: the file is missing or does not hold a ``state_dict``.
    """
    from reference_models.training.checkpoints import load_weights

    if not Path(path).is_file():
        raise ColorbenchError(f"SA checkpoint {path} not found; download checkpoint.pt from the link in the "
                              "super-attention README and pass its path")
    return load_weights(path)[0]


class SAGenerator(SuperAttentionModel):
    """``gen_color_stride_vgg16(dim=2)`` of the released super-attention code.

    Args:
        config: :class:`~reference_models.superattention.config.SAConfig` (default: the released
            model's). ``official_compat``: the released attention's quirks (1-pixel border crop,
            label 0 and border-only superpixels in the softmax) and the released preprocessing;
            calls with masks always use masked semantics (label 0 excluded).
        value_encoder: the value network (RGB in [0, 1] -> dict of ``relu1_2``, ``relu2_2``,
            ``relu3_4``); ``None`` loads the frozen ImageNet VGG19-BN (:func:`build_value_encoder`).
    """

    model_name = "SA"

    def __init__(self, config: SAConfig | None = None, value_encoder: nn.Module | None = None):
        super().__init__()
        self.config = config = config or SAConfig()
        for level, width in enumerate(_WIDTHS, start=1):
            setattr(self, f"attention_{level}", SuperAttention(width, official_compat=config.official_compat))
        self.gen1 = conv_block(3, 64, 2)
        self.down1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.gen2 = conv_block(64, 128, 2)
        self.down2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.gen3 = conv_block(128, 256, 3)
        self.down3 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.gen4 = conv_block(256, 512, 3)
        self.gen4_up = nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1)  # no ReLU: as released
        self.gen5_conv = nn.Conv2d(3 * 256, 256, 1)
        self.gen5 = conv_block(256, 256, 3)
        self.gen5_up = nn.Sequential(nn.ConvTranspose2d(256, 128, 4, stride=2, padding=1), nn.ReLU(True))
        self.gen6_conv = nn.Conv2d(3 * 128, 128, 1)
        self.gen6 = conv_block(128, 128, 3)
        self.gen6_up = nn.Sequential(nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.ReLU(True))
        self.gen7_conv = nn.Conv2d(3 * 64, 64, 1)
        self.gen7 = conv_block(64, 64, 3)
        self.out = nn.Sequential(nn.Conv2d(64, 2, 1), nn.Tanh())
        encoder = value_encoder if value_encoder is not None else build_value_encoder()
        encoder.requires_grad_(False).eval()
        # Bypass nn.Module.__setattr__: the frozen VGG must not be a registered submodule, so its
        # weights stay out of state_dict() and the released checkpoint (which has none) loads
        # strictly. _apply() and train() below keep it on the same device/dtype and in eval mode.
        self.__dict__["value_encoder"] = encoder

    @property
    def official_compat(self) -> bool:
        """The released attention's quirks and preprocessing (``config.official_compat``)."""
        return self.config.official_compat

    def _apply(self, fn: Callable, recurse: bool = True):
        super()._apply(fn, recurse)
        self.value_encoder._apply(fn, recurse)
        return self

    def train(self, mode: bool = True) -> SAGenerator:
        super().train(mode)
        self.value_encoder.eval()  # frozen value network: BatchNorm statistics never update
        return self

    def forward(self, target_map: torch.Tensor, reference_l: torch.Tensor, reference_rgb: torch.Tensor,
                target_labels: Sequence[torch.Tensor], reference_labels: Sequence[torch.Tensor],
                official_compat: bool | None = None) -> torch.Tensor:
        """Predict the target's ab (network scale) from preprocessed tensors.

        Args:
            target_map: :math:`(B, 3, H, W)` the re-mapped target luminance replicated to 3 channels
                (see :mod:`.released_preprocess`); H, W divisible by 8 (224 released).
            reference_l: :math:`(B, 3, H, W)` reference L / 100 replicated to 3 channels.
            reference_rgb: :math:`(B, 3, H, W)` reference RGB in [0, 1] (the value network's input).
            target_labels: 3 integer label maps, level ``i`` :math:`(B, H / 2^i, W / 2^i)`.
            reference_labels: the same for the reference.
            official_compat: override the attention's mode for this call (``None``: the model's).

        Returns:
            :math:`(B, 2, H, W)` in [-1, 1] (tanh); ``* 127`` gives ab.
        """
        for name, tensor in (("target_map", target_map), ("reference_l", reference_l),
                             ("reference_rgb", reference_rgb)):
            check_tensor(tensor, name, "B 3 H W")
        if target_map.shape[-1] % 8 or target_map.shape[-2] % 8:
            raise ValueError(f"H and W must be divisible by 8 (three 2x poolings); got {tuple(target_map.shape)}")
        if len(target_labels) < 3 or len(reference_labels) < 3:
            raise ValueError(f"need label maps at 3 levels; got {len(target_labels)} and {len(reference_labels)}")
        compat = self.official_compat if official_compat is None else official_compat

        block1 = self.gen1(target_map)
        block2 = self.gen2(self.down1(block1))
        block3 = self.gen3(self.down2(block2))
        block4 = self.gen4(self.down3(block3))
        ref1 = self.gen1(reference_l)
        ref2 = self.gen2(self.down1(ref1))
        ref3 = self.gen3(self.down2(ref2))
        with torch.no_grad():
            values = self.value_encoder(reference_rgb)
        attended = [
            attention(target, ref, values[layer], t_labels, r_labels, official_compat=compat).features
            for attention, target, ref, layer, t_labels, r_labels in zip(
                (self.attention_1, self.attention_2, self.attention_3), (block1, block2, block3), (ref1, ref2, ref3),
                SA_VALUE_LAYERS, target_labels, reference_labels)
        ]

        x = self.gen5(self.gen5_conv(torch.cat([self.gen4_up(block4), attended[2], block3], dim=1)))
        x = self.gen6(self.gen6_conv(torch.cat([self.gen5_up(x), attended[1], block2], dim=1)))
        x = self.gen7(self.gen7_conv(torch.cat([self.gen6_up(x), attended[0], block1], dim=1)))
        return self.out(x)

    def preparer(self) -> Callable:
        """A picklable ``prepare(target, reference, target_mask, reference_mask) -> sample``: the
        released preprocessing for the released model, the family's views for a model trained here."""
        if not self.official_compat:
            return super().preparer()
        return partial(preprocess_pair, superpixels=self.config.superpixels, size=self.config.input_size)

    def predict(self, inputs: Sequence) -> list[torch.Tensor]:
        """The released test-time pipeline (:mod:`.released_preprocess`) on pairs it prepared, with
        the released output step; pairs prepared with masks (an extension: MaskSLIC superpixels) run
        masked attention (label 0 excluded) instead of the released global attention (its quirks
        off). A model trained here: the family's prediction (:class:`SuperAttentionModel`)."""
        if not isinstance(inputs[0], SAInputs):
            return super().predict(inputs)
        tensors = to_tensors(list(inputs), next(self.parameters()).device)
        masked = any(pair.masked for pair in inputs)
        ab = self(*tensors, official_compat=False if masked else None)
        return [postprocess(ab[k], pair.target_gray_full) for k, pair in enumerate(inputs)]
