"""The super-attention family's settings: :class:`MSAConfig` and :class:`SAConfig`, each with its
superpixel settings as one nested :class:`~reference_models.layers.superpixels.SuperpixelConfig`.

In their own module so the networks, their views and their training task all import them without
importing each other. :func:`upgrade_record` reads the flat form checkpoints stored before the
superpixel settings were nested.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from bench.core.settings import settings_from_dict
from reference_models.layers.superpixels import SuperpixelConfig
from reference_models.superattention.views import ViewSpec

__all__ = ["COLOR_ENCODERS", "COLOR_LAYERS", "SA_INPUT_SIZE", "MSAConfig", "SAConfig", "upgrade_record"]

_FUSIONS = ("add", "concat")
COLOR_ENCODERS = ("vgg19", "vgg19_bn")
COLOR_LAYERS = ("relu1_2", "relu2_2", "relu3_4", "relu4_4")
#: The released super-attention code's network input side.
SA_INPUT_SIZE = 224


def _check_input(config, levels: int) -> None:
    if config.superpixels.levels != levels:
        raise ValueError(f"superpixels.levels must be {levels} (one label map per attention level); "
                         f"got {config.superpixels.levels}")
    if config.input_size % 8:
        raise ValueError(f"input_size must be divisible by 8 (three 2x poolings); got {config.input_size}")


@dataclass(frozen=True)
class MSAConfig:
    """Every architectural setting of the MSA generator (defaults: the documented choices).

    Attributes:
        widths: channels of the four encoder levels (SA's generator: 64, 128, 256, 512).
        convs_per_level: 3x3 conv + BN + ReLU layers per encoder level (SA: 2, 2, 3, 3).
        decoder_convs: conv layers per decoder level (SA: 3).
        in_channels: encoder input channels (1: ``L / 100``).
        fusion: ``"add"`` (residual, default) or ``"concat"`` (1x1 conv 2C -> C) of the attended features.
        attention_levels: levels (1-4) with masked super-attention (the paper: all four).
        shared_reference_encoder: the reference luminance uses the target's encoder weights.
        color_encoder: phi: ``"vgg19"`` (paper) or ``"vgg19_bn"`` (the authors' training code).
        color_layers: phi's layers, one per level (their resolutions must match the levels').
        pretrained_color_encoder: start phi from ImageNet weights (the registry's file); False only
            for tests and ablations.
        train_color_encoder: phi is trained jointly (paper); False freezes it (eval mode).
        temperature: softmax temperature ``tau`` (both papers: 0.01).
        input_size: the network's input side (224).
        superpixels: SLIC / MaskSLIC at four levels (``[model.superpixels]`` in a config file):
            ``base_segments`` 224 at level 1, halved per level (224, 112, 56, 28); ``compactness``
            0.1. Paper: silent (SLIC / MaskSLIC superpixels that follow the image, Fig. 4); the SA
            authors' released test code and their later four-level code (levels 1/2/4/8, MSA's):
            0.1; their training utility: skimage's default 10, which on this [0, 1] gray input
            gives a regular grid, not superpixels (demo photos at 224: within-segment L/100 std
            0.100, equal to a 15 x 15 grid's, segment-size CV 0.02; at 0.1: 0.064 and 0.39).
            Ours: 0.1, an exception to "the training code decides" (the rule yields where that
            code contradicts what the paper describes); ``compactness = 10`` reproduces it.
    """

    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    convs_per_level: tuple[int, int, int, int] = (2, 2, 3, 3)
    decoder_convs: int = 3
    in_channels: int = 1
    fusion: str = "add"
    attention_levels: tuple[int, ...] = (1, 2, 3, 4)
    shared_reference_encoder: bool = False
    color_encoder: str = "vgg19"
    color_layers: tuple[str, str, str, str] = COLOR_LAYERS
    pretrained_color_encoder: bool = True
    train_color_encoder: bool = True
    temperature: float = 0.01
    input_size: int = 224
    superpixels: SuperpixelConfig = field(default_factory=lambda: SuperpixelConfig(levels=4))

    def __post_init__(self) -> None:
        for name in ("widths", "convs_per_level", "color_layers"):
            if len(getattr(self, name)) != 4:
                raise ValueError(f"{name} must have 4 entries (one per level); got {getattr(self, name)}")
        if self.fusion not in _FUSIONS:
            raise ValueError(f"fusion must be one of {_FUSIONS}; got {self.fusion!r}")
        if self.color_encoder not in COLOR_ENCODERS:
            raise ValueError(f"color_encoder must be one of {COLOR_ENCODERS}; got {self.color_encoder!r}")
        if not set(self.attention_levels) <= {1, 2, 3, 4}:
            raise ValueError(f"attention_levels must be among 1-4; got {self.attention_levels}")
        if min(self.widths) < 1 or min(self.convs_per_level) < 1 or self.decoder_convs < 1:
            raise ValueError("widths, convs_per_level and decoder_convs must be >= 1")
        _check_input(self, 4)

    @classmethod
    def from_dict(cls, values: dict | None) -> MSAConfig:
        """A config from user settings; a mistyped key is an error, never silently ignored."""
        return settings_from_dict(cls, values, "MSA setting")

    @classmethod
    def tiny(cls, **overrides) -> MSAConfig:
        """A small variant for tests: widths 8-64, one conv per level, 32 x 32 input, 32 superpixels at
        level 1, and an untrained VGG19 colour encoder (no weight file needed) cut after relu4_1
        (each block's first ReLU: a third of the parameters up to relu4_4)."""
        base = cls(widths=(8, 16, 32, 64), convs_per_level=(1, 1, 1, 1), decoder_convs=1, input_size=32,
                   superpixels=SuperpixelConfig(levels=4, base_segments=32), pretrained_color_encoder=False,
                   color_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1"))
        return replace(base, **overrides)

    @classmethod
    def from_record(cls, record: dict) -> MSAConfig:
        """The config a checkpoint stored (today's form or the flat one of older checkpoints)."""
        return cls.from_dict(upgrade_record(record))

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def views(self) -> ViewSpec:
        """How the inputs are made: CIELAB L / 100 for the target's input and superpixels."""
        return ViewSpec(self.input_size, self.superpixels, "lightness", self.in_channels)

    def for_loading(self) -> MSAConfig:
        """The config to rebuild a trained model with: phi's weights come from the checkpoint, so
        its ImageNet file is not read."""
        return replace(self, pretrained_color_encoder=False)


@dataclass(frozen=True)
class SAConfig:
    """The settings of an :class:`~reference_models.superattention.sa.SAGenerator` (the released
    model's by default).

    Attributes:
        official_compat: the released attention's quirks (see :mod:`reference_models.layers.super_attention`)
            and the released float preprocessing; True to run the authors' checkpoint exactly, False
            for a model trained here (which colorizes from the views it trained on).
        input_size: the network's input side (224).
        superpixels: SLIC at three levels (released: ``base_segments`` 224, ``compactness`` 0.1).
    """

    official_compat: bool = True
    input_size: int = SA_INPUT_SIZE
    superpixels: SuperpixelConfig = field(default_factory=lambda: SuperpixelConfig(levels=3))

    def __post_init__(self) -> None:
        _check_input(self, 3)

    @classmethod
    def from_dict(cls, values: dict | None) -> SAConfig:
        return settings_from_dict(cls, values, "SA setting")

    @classmethod
    def from_record(cls, record: dict) -> SAConfig:
        """The config a checkpoint stored (today's form or the flat one of older checkpoints)."""
        return cls.from_dict(upgrade_record(record))

    @property
    def views(self) -> ViewSpec:
        """How a model trained here gets its inputs (the released code's steps on 8-bit views): the
        target's ``rgb2gray`` re-mapped to the reference's statistics, both replicated to 3 channels."""
        return ViewSpec(self.input_size, self.superpixels, "gray", 3)

    def as_dict(self) -> dict:
        return asdict(self)


#: Flat keys that checkpoints written before the superpixel settings were nested hold
#: (colorbench up to c6011d6), and where each lives now.
_FLAT_SUPERPIXEL_KEYS = {"superpixel_segments": "base_segments", "superpixel_compactness": "compactness"}


def upgrade_record(record: dict) -> dict:
    """A stored MSA / SA config in today's form: the flat ``superpixel_segments`` and
    ``superpixel_compactness`` of older checkpoints become the nested ``superpixels`` table."""
    record = dict(record)
    flat = {new: record.pop(old) for old, new in _FLAT_SUPERPIXEL_KEYS.items() if old in record}
    if flat:
        record["superpixels"] = {**record.get("superpixels", {}), **flat}
    return record
