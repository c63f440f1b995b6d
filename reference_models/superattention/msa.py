"""The MSA generator (Carrillo, Clément, Bugeau 2023, "Exemplar-based image colorization using
object-guided attention"): a U-Net-like encoder-decoder with masked super-attention *inside the
encoder* at all four levels.

The paper publishes no code. What it states (Sec. III, V-A): the colorization network Phi maps the
target luminance ``T_L`` to ``T_ab`` given the reference ``R``; a colour feature extractor phi,
VGG19 pretrained on ImageNet, gives multi-level feature maps of ``R``; at each of the four encoder
levels a masked super-attention block takes the target features ``f_T``, the reference features
``f_R`` (of ``R_L``), phi's features and the superpixel maps (MaskSLIC inside the masks);
Phi and phi are trained jointly; inputs are 224 x 224; ab through tanh.

Where the paper is silent, the choices below follow the SA authors' encoder-attention training
code (a variant close to MSA's phase 1, found in public code search, not in the SA repository)
unless said otherwise; each one is a field of :class:`MSAConfig`:

* ``fusion="add"``: the attended colour features are *added* to the target features (residual),
  not concatenated. Reason: the authors' training code does so; it keeps every level's width,
  and it makes MSA's rule "target superpixels outside ``M_T`` keep their own features" exact
  (the attended map is exactly 0 there). ``"concat"`` (1x1 conv from 2C to C) is the alternative.
* ``shared_reference_encoder=False``: the reference luminance ``R_L`` has its own encoder (same
  layout, separate weights), as in the authors' training code; in the encoder-attention design
  the target's deeper levels see attended features while the reference's do not, so sharing
  weights would make one encoder serve two input distributions. SA shared them (skip-connection
  attention, where both paths are plain encoders).
* ``color_encoder="vgg19"`` (the paper says VGG19; the training code used VGG19-BN, selectable),
  ``color_layers = relu1_2, relu2_2, relu3_4, relu4_4``: the last ReLU of each of VGG's first four
  blocks, at exactly the resolutions of the four encoder levels (224, 112, 56, 28), as in the
  training code and SA's relu1_2/relu2_2/relu3_4. Input: the reference RGB in [0, 1] at 224,
  ImageNet-normalised inside. Trained jointly (``train_color_encoder=True``).
* Encoder/decoder widths and depth: SA's generator (64/128/256/512; 2, 2, 3, 3 convs per level;
  3x3 conv + BatchNorm + ReLU; 2x2 max-pool between levels; decoder: transposed conv k4 s2 + ReLU,
  1x1 conv on ``cat[up, skip]``, 3 convs; 1x1 conv to 2 channels, tanh). The skip connections
  carry the fused (post-attention) features.
* ``in_channels=1``: the encoders see ``L / 100`` as one channel (the paper's ``T_L``,
  ``H x W x 1``; SA replicated it to 3 channels only because its encoder followed VGG's layout).
* No luminance re-mapping of the target to the reference's statistics (SA's test-time step):
  the paper does not mention it and the training pairs include the target itself (TPS-warped),
  whose statistics already match.

Superpixels: ``MSAConfig.superpixels`` (SLIC, or MaskSLIC inside a mask: label 0 outside), one map
per level; a mask enters *only* through the label maps.
The attention runs with ``official_compat=False`` (label 0 never takes part).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench.features.vgg import IMAGENET_MEAN, IMAGENET_STD
from reference_models.layers.checks import check_tensor
from reference_models.layers.super_attention import SuperAttention, SuperAttentionOutput
from reference_models.superattention.config import COLOR_ENCODERS, COLOR_LAYERS, MSAConfig
from reference_models.superattention.family import SuperAttentionModel, conv_block

__all__ = ["ColorEncoder", "MSAConfig", "MSAGenerator", "MSAOutput"]


class _Encoder(nn.Module):
    """Four conv blocks with 2x2 max-pooling between them (level 1 at full resolution)."""

    def __init__(self, config: MSAConfig):
        super().__init__()
        chans = (config.in_channels, *config.widths)
        self.blocks = nn.ModuleList(conv_block(chans[i], chans[i + 1], config.convs_per_level[i]) for i in range(4))

    def level(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Run level ``index`` (0-based) on the previous level's output (or the input for 0)."""
        return self.blocks[index](x if index == 0 else F.max_pool2d(x, 2))


class ColorEncoder(nn.Module):
    """phi: a trainable VGG19 (or VGG19-BN) truncated after its deepest requested layer.

    Args:
        network: ``"vgg19"`` or ``"vgg19_bn"``.
        layers: four layer names (``relu1_2`` ...; see :func:`bench.features.vgg.vgg_layer_names`).
        pretrained: load ImageNet weights from the registry's file (``ensure_weights(network)``).

    Input :math:`(B, 3, H, W)` RGB in [0, 1] (ImageNet normalisation inside); output the list of the
    four layers' activations.
    """

    def __init__(self, network: str = "vgg19", layers: Sequence[str] = COLOR_LAYERS, pretrained: bool = True):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        from bench.features.vgg import vgg_layer_names

        if network not in COLOR_ENCODERS:
            raise ValueError(f"network must be one of {COLOR_ENCODERS}; got {network!r}")
        # Only the convolutional part is built (torchvision's own builder, configuration "E" =
        # VGG19): the 120 M-parameter classifier is never allocated.
        features = make_layers(cfgs["E"], batch_norm=network == "vgg19_bn")
        names = vgg_layer_names(features)
        unknown = [name for name in layers if name not in names]
        if unknown:
            raise ValueError(f"unknown VGG layer(s) {unknown}; choose from {names}")
        if pretrained:
            from bench.core.weights import ensure_weights, read_state_dict

            state = read_state_dict(ensure_weights(network))
            features.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
        last = max(names.index(name) for name in layers) + 1
        self.features = features[:last]
        for module in self.features:
            if isinstance(module, nn.ReLU):
                module.inplace = False  # a returned activation must not be overwritten
        self.layers = tuple(layers)
        self._indices = [names.index(name) for name in layers]
        self.channels = tuple(self._channels_at(i) for i in self._indices)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _channels_at(self, index: int) -> int:
        convs = [m for m in list(self.features)[: index + 1] if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def forward(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        x = (rgb - self.mean) / self.std
        wanted = dict.fromkeys(self._indices)
        for index, module in enumerate(self.features):
            x = module(x)
            if index in wanted:
                wanted[index] = x
        return [wanted[i] for i in self._indices]


@dataclass
class MSAOutput:
    """:meth:`MSAGenerator.forward_with_attention`'s result.

    Attributes:
        ab: :math:`(B, 2, H, W)` predicted ab / 127 in [-1, 1] (tanh).
        attention: per level 1-4, the :class:`SuperAttentionOutput` (``None`` for a level without
            attention); ``attention[l].attention`` is the map of MSA's Fig. 5.
    """

    ab: torch.Tensor
    attention: list[SuperAttentionOutput | None]


class MSAGenerator(SuperAttentionModel):
    """The MSA colorization network Phi with its colour encoder phi (see the module docstring).

    Args:
        config: :class:`MSAConfig` (default: the paper-sized model).
    """

    model_name = "MSA"

    def __init__(self, config: MSAConfig | None = None):
        super().__init__()
        config = config or MSAConfig()
        self.config = config
        widths = config.widths
        self.encoder = _Encoder(config)
        self.reference_encoder = None if config.shared_reference_encoder else _Encoder(config)
        self.color_encoder = ColorEncoder(config.color_encoder, config.color_layers, config.pretrained_color_encoder)
        if not config.train_color_encoder:
            self.color_encoder.requires_grad_(False)
        self.attention = nn.ModuleList(
            SuperAttention(widths[i], value_channels=self.color_encoder.channels[i], temperature=config.temperature)
            if i + 1 in config.attention_levels else nn.Identity() for i in range(4))
        self.fuse = nn.ModuleList(
            nn.Conv2d(2 * widths[i], widths[i], 1) if config.fusion == "concat" and i + 1 in config.attention_levels
            else nn.Identity() for i in range(4))
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(widths[i + 1], widths[i], 4, stride=2, padding=1), nn.ReLU(inplace=True))
            for i in range(3))
        self.merge = nn.ModuleList(nn.Conv2d(2 * widths[i], widths[i], 1) for i in range(3))
        self.decoder = nn.ModuleList(conv_block(widths[i], widths[i], config.decoder_convs) for i in range(3))
        self.out = nn.Sequential(nn.Conv2d(widths[0], 2, 1), nn.Tanh())

    def train(self, mode: bool = True) -> MSAGenerator:
        super().train(mode)
        if not self.config.train_color_encoder:
            self.color_encoder.eval()  # a frozen phi keeps its BatchNorm statistics (vgg19_bn)
        return self

    @classmethod
    def for_checkpoint(cls, config: MSAConfig) -> MSAGenerator:
        """phi's weights come from the checkpoint: its ImageNet file is not read."""
        return cls(config.for_loading())

    def _check(self, target_l, reference_l, reference_rgb, target_labels, reference_labels) -> None:
        channels = self.config.in_channels
        for name, tensor, chans in (("target_l", target_l, channels), ("reference_l", reference_l, channels),
                                    ("reference_rgb", reference_rgb, 3)):
            check_tensor(tensor, name, f"B {chans} H W")
        if target_l.shape[-1] % 8 or target_l.shape[-2] % 8:
            raise ValueError(f"H and W must be divisible by 8 (three 2x poolings); got {tuple(target_l.shape)}")
        if reference_l.shape[-2:] != reference_rgb.shape[-2:] or reference_l.shape[0] != target_l.shape[0]:
            raise ValueError(f"reference_l {tuple(reference_l.shape)} and reference_rgb {tuple(reference_rgb.shape)} "
                             f"must share batch and size with target_l's batch {target_l.shape[0]}")
        if len(target_labels) != 4 or len(reference_labels) != 4:
            raise ValueError(f"need label maps at 4 levels; got {len(target_labels)} and {len(reference_labels)}")

    def forward_with_attention(self, target_l: torch.Tensor, reference_l: torch.Tensor, reference_rgb: torch.Tensor,
                               target_labels: Sequence[torch.Tensor],
                               reference_labels: Sequence[torch.Tensor]) -> MSAOutput:
        """:meth:`forward`, also returning each level's attention (maps, validity masks)."""
        self._check(target_l, reference_l, reference_rgb, target_labels, reference_labels)
        colors = self.color_encoder(reference_rgb)
        reference_encoder = self.encoder if self.reference_encoder is None else self.reference_encoder
        skips, attentions = [], []
        x, r = target_l, reference_l
        for i in range(4):
            x = self.encoder.level(i, x)
            r = reference_encoder.level(i, r)
            if isinstance(self.attention[i], SuperAttention):
                result = self.attention[i](x, r, colors[i], target_labels[i], reference_labels[i])
                # add: f_T + attended (exactly f_T on target superpixels outside M_T, where the
                # attended map is 0); concat: a 1x1 conv of [f_T, attended].
                if self.config.fusion == "add":
                    x = x + result.features
                else:
                    x = self.fuse[i](torch.cat([x, result.features], 1))
                attentions.append(result)
            else:
                attentions.append(None)
            skips.append(x)
        for i in (2, 1, 0):
            x = self.decoder[i](self.merge[i](torch.cat([self.up[i](x), skips[i]], dim=1)))
        return MSAOutput(self.out(x), attentions)

    def forward(self, target_l: torch.Tensor, reference_l: torch.Tensor, reference_rgb: torch.Tensor,
                target_labels: Sequence[torch.Tensor], reference_labels: Sequence[torch.Tensor]) -> torch.Tensor:
        """Predict the target's ab from the preprocessed tensors (see
        :func:`reference_models.superattention.views.pair_sample`).

        Args:
            target_l: :math:`(B, C_{in}, H, W)` target CIELAB L / 100 in [0, 1] (``C_in = 1``);
                H, W divisible by 8 (224 in the paper).
            reference_l: :math:`(B, C_{in}, H, W)` reference L / 100.
            reference_rgb: :math:`(B, 3, H, W)` reference sRGB in [0, 1] (phi's input).
            target_labels: 4 int64 label maps, level ``i`` (0-based) :math:`(B, H / 2^i, W / 2^i)`;
                SLIC labels ``1..N``, or MaskSLIC with 0 outside ``M_T``.
            reference_labels: the same for the reference (0 outside ``M_R``).

        Returns:
            :math:`(B, 2, H, W)` predicted ab / 127 in [-1, 1].
        """
        return self.forward_with_attention(target_l, reference_l, reference_rgb, target_labels, reference_labels).ab
