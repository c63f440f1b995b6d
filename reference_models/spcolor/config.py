"""Every SPColor setting in one frozen dataclass, :class:`SPColorConfig`, and its named presets.

``SPColorConfig()`` is the **paper** (Sec. IV): k = 22, 256 x 256, self-reference probability
0.2, loss weights L1 2 (self-reference samples only), SMP 0.01, adversarial 0.4, smoothness 2;
Adam betas (0.5, 0.999), lr 2e-5 (networks) / 2e-4 (discriminator), 120k iterations, /10 at 100k.
The contextual loss of the released code is off. The run's batch (16, the released code's total; the
paper is silent) and its 120k iterations are run-level training settings (``batch_size``,
``max_steps``: :meth:`~reference_models.spcolor.training.SPColorTask.default_config`). One default
is not the paper's, which is silent on it: the SMP's feature scale (``smp_feature_scale``: the 0.01
was tuned on the Caffe VGG19's features, ours are torchvision's).

``preset("released-code")`` is what ``train_stego.py`` + ``opt.txt`` of ``viector/spcolor`` run:
k = 27; the colour network at 20x the learning rate; Adam ``eps=1e-5``, ``amsgrad=True`` for the
networks; StepLR x0.5 every 20k iterations for both optimisers; the contextual loss on (x0.2);
the L1 term normalised as its code does (see :func:`~reference_models.spcolor.losses.self_reference_l1`);
(its batch, 8 per GPU on 2 GPUs, is the run's default of 16). The released code's VGG is the Caffe port
(``vgg19_conv.pth``, ``vgg_input="caffe"``), which is not in the weights registry: the preset keeps
torchvision's VGG19 with the SMP's features scaled to Caffe's (``smp_feature_scale``); set
``vgg_input="caffe"`` and pass ``vgg=SPColorVGG().load_caffe(path)`` to the model to match it.
The released code also starts from the base project's iteration-76000 ``nonlocal_net`` / ``colornet``
checkpoints (load them with :func:`~reference_models.spcolor.correspondence.convert_authors_state_dict`
and ``ColorNet.load_state_dict``). Not reproduced: the released loader's bugs (it trains on grayscale
ground truth while STEGO sees the colour target; it feeds the reference's VGG an ImageNet-normalised
image).

``preset("tiny")``: a few-channel variant at 64 x 64 with the k-means prior, for tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bench.core.errors import unknown_name
from bench.core.settings import settings_from_dict

__all__ = ["PRESETS", "PRIORS", "SPColorConfig", "TORCHVISION_TO_CAFFE_FEATURE_SCALE", "preset"]

#: ``prior`` values: STEGO (the paper; needs the checkpoint) or k-means of VGG19 features.
PRIORS = ("stego", "kmeans")
_VGG_INPUTS = ("torchvision", "caffe")
_L1_REDUCTIONS = ("self_reference_mean", "released")
_SCHEDULES = ("multistep", "step")
#: Keys older checkpoints stored in the model config that are run-level training settings now.
_RUN_LEVEL_KEYS = ("batch_size", "iterations")
#: torchvision's VGG19 features -> the Caffe VGG19's scale, when the Caffe file is not used: 255 x the
#: mean ImageNet std (255 x 0.2260; 58.4 / 57.1 / 57.4 for R / G / B), the factor between the two
#: input conventions (Caffe: BGR in 0..255 minus the mean; torchvision: RGB in 0..1, (x - mean) / std;
#: the two means agree to 0.002). It carries to relu5_2 unchanged for networks of equal weights and
#: zero biases (a ReLU network is positively homogeneous): ``benchmarks/smp_scale.py`` finds 57.8
#: (57.7-58.1 per demo photograph; the channels' factors differ) with such stand-ins. An estimate, not
#: a measurement of the two trained networks: with the real files present that script prints their
#: ratio, and ``smp_feature_scale`` takes it.
TORCHVISION_TO_CAFFE_FEATURE_SCALE = 57.63


@dataclass(frozen=True)
class SPColorConfig:
    """SPColor's settings (defaults: the paper; where the paper is silent, the released code).

    Attributes:
        num_classes: pseudo-classes ``k`` of the semantic prior (paper: 22; released code: 27).
        prior: ``"stego"`` (the paper's STEGO; its checkpoint is user-supplied) or ``"kmeans"``
            (:class:`~reference_models.spcolor.prior.KMeansPrior`, fit on training images).
        image_size: square side the networks run at (256).
        temperature: softmax temperature ``tau`` of the correspondence (0.01, released).
        correspondence_channels: per-level width of the correspondence features (64; 4x = 256 in all).
        colornet_widths: the colour network's four widths (64, 128, 256, 512).
        discriminator_width: the discriminator's ``ndf`` (64).
        vgg_input: ``"torchvision"`` (the registry's VGG19) or ``"caffe"`` (the released
            ``vgg19_conv.pth``; pass ``vgg=SPColorVGG().load_caffe(path)`` to the model).
        self_reference_probability: chance that a training sample's reference is its own colour
            image (paper: 20%).
        self_reference_flip: chance of a horizontal flip of that self-reference (released: 0.5).
        self_reference_scale: area fraction range of its random crop (released: 0.98-1).
        self_reference_ratio: aspect ratio range of its random crop (released: 0.8-1.2).
        luminance_noise: std of the Gaussian noise on the target L the networks see in training (2).
        l1_weight: ``lambda_L1`` (2, on self-reference samples only).
        l1_reduction: ``"self_reference_mean"`` (the mean over the self-reference samples) or
            ``"released"`` (that, divided by the batch size, as the released code computes it).
        smp_weight: ``lambda_SMP`` / ``lambda_perc`` (0.01: paper and released code alike).
        smp_feature_scale: the factor the SMP's relu5_2 features are multiplied by (the loss by its
            square), so that ``smp_weight`` acts on the feature scale it was tuned on: the released
            code's Caffe VGG19 (``vgg19_conv.pth``, BGR in 0..255 minus the mean). ``None`` (default):
            1 with ``vgg_input="caffe"`` (those very features) and
            :data:`TORCHVISION_TO_CAFFE_FEATURE_SCALE` (57.63, so the loss x3321) with torchvision's
            VGG19 (RGB in 0..1 over the ImageNet std, about 1 / 57.6 of Caffe's input). Paper: silent
            (it tuned on Caffe); released code: the Caffe VGG itself; ours: torchvision's VGG (the one
            in the weights registry; the Caffe port needs ``vgg=SPColorVGG().load_caffe(path)``,
            which the training command does not pass) with its features brought to Caffe's scale.
            Without it the SMP term would be ~3300x weaker than the paper's relative to the L1,
            adversarial and smoothness terms. The correspondence, the k-means prior and the
            contextual loss normalise their features, so only the SMP depends on the scale.
        adversarial_weight: ``lambda_adv`` (0.4) of the generator's relativistic LSGAN loss.
        discriminator_weight: weight of the discriminator's loss (1, released).
        smoothness_weight: ``lambda_smooth`` (2).
        smoothness_alpha: band of the 3x3 Lab affinity of the smoothness loss (2, released).
        contextual_weight: weight of the released code's contextual loss (paper: 0 = off; released 0.2).
        contextual_h: its band width (0.1).
        shift_real_batch: show the discriminator the real images rolled by one sample (the
            released ``permute_data``), so a fake and its own ground truth never meet in a pair.
        generator_lr: learning rate of the correspondence network (paper: 2e-5).
        colornet_lr_multiplier: the colour network's rate / ``generator_lr`` (paper 1; released 20).
        discriminator_lr: 2e-4.
        betas: Adam betas of both optimisers (0.5, 0.999).
        generator_eps: Adam eps of the networks' optimiser (paper: torch's 1e-8; released 1e-5).
        amsgrad: AMSGrad for the networks' optimiser (released: True).
        lr_schedule: ``"multistep"`` (``lr_milestones``) or ``"step"`` (every ``lr_step_size``).
        lr_milestones: iterations where the rates are multiplied by ``lr_gamma`` (paper: 100k).
        lr_step_size: period of the ``"step"`` schedule (released: 20k).
        lr_gamma: the multiplier (paper 0.1; released 0.5).
    """

    num_classes: int = 22
    prior: str = "stego"
    image_size: int = 256
    temperature: float = 0.01
    correspondence_channels: int = 64
    colornet_widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    discriminator_width: int = 64
    vgg_input: str = "torchvision"
    self_reference_probability: float = 0.2
    self_reference_flip: float = 0.5
    self_reference_scale: tuple[float, float] = (0.98, 1.0)
    self_reference_ratio: tuple[float, float] = (0.8, 1.2)
    luminance_noise: float = 2.0
    l1_weight: float = 2.0
    l1_reduction: str = "self_reference_mean"
    smp_weight: float = 0.01
    smp_feature_scale: float | None = None
    adversarial_weight: float = 0.4
    discriminator_weight: float = 1.0
    smoothness_weight: float = 2.0
    smoothness_alpha: float = 2.0
    contextual_weight: float = 0.0
    contextual_h: float = 0.1
    shift_real_batch: bool = True
    generator_lr: float = 2e-5
    colornet_lr_multiplier: float = 1.0
    discriminator_lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    generator_eps: float = 1e-8
    amsgrad: bool = False
    lr_schedule: str = "multistep"
    lr_milestones: tuple[int, ...] = (100_000,)
    lr_step_size: int = 20_000
    lr_gamma: float = 0.1

    def __post_init__(self) -> None:
        choices = {"prior": PRIORS, "vgg_input": _VGG_INPUTS, "l1_reduction": _L1_REDUCTIONS,
                   "lr_schedule": _SCHEDULES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {getattr(self, name)!r}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; got {self.num_classes}")
        if self.image_size < 16 or self.image_size % 16:
            raise ValueError(f"image_size must be a positive multiple of 16; got {self.image_size}")
        if len(self.colornet_widths) != 4:
            raise ValueError(f"colornet_widths must have 4 entries; got {self.colornet_widths}")
        if not 0.0 <= self.self_reference_probability <= 1.0 or not 0.0 <= self.self_reference_flip <= 1.0:
            raise ValueError("self_reference_probability and self_reference_flip must be in [0, 1]")
        if self.smp_feature_scale is not None and not self.smp_feature_scale > 0:
            raise ValueError(f"smp_feature_scale must be > 0 (or None: automatic); got {self.smp_feature_scale}")
        if self.temperature <= 0 or self.luminance_noise < 0:
            raise ValueError("temperature must be > 0 and luminance_noise >= 0")
        weights = ("l1_weight", "smp_weight", "adversarial_weight", "discriminator_weight", "smoothness_weight",
                   "contextual_weight")
        negative = [name for name in weights if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0; got negative {negative}")

    @classmethod
    def from_dict(cls, values: dict | None) -> SPColorConfig:
        """A config from user settings; a mistyped key is an error, never silently ignored."""
        return settings_from_dict(cls, values, "SPColor setting")

    @classmethod
    def from_record(cls, record: dict) -> SPColorConfig:
        """The config a checkpoint stored; the run-level ``batch_size`` and ``iterations`` that
        checkpoints written up to commit c6011d6 held (the training run's, not the network's) are dropped."""
        return cls.from_dict({key: value for key, value in record.items() if key not in _RUN_LEVEL_KEYS})

    def as_dict(self) -> dict:
        """All settings as a plain dict (tuples kept)."""
        return asdict(self)

    @property
    def smp_scale(self) -> float:
        """The SMP's feature scale in effect (``smp_feature_scale``, or its automatic value)."""
        if self.smp_feature_scale is not None:
            return float(self.smp_feature_scale)
        return 1.0 if self.vgg_input == "caffe" else TORCHVISION_TO_CAFFE_FEATURE_SCALE


#: Named presets (see the module docstring).
PRESETS: dict[str, SPColorConfig] = {
    "paper": SPColorConfig(),
    "released-code": SPColorConfig(num_classes=27, colornet_lr_multiplier=20.0, generator_eps=1e-5, amsgrad=True,
                                   lr_schedule="step", lr_step_size=20_000, lr_gamma=0.5, contextual_weight=0.2,
                                   l1_reduction="released"),
    "tiny": SPColorConfig(num_classes=5, prior="kmeans", image_size=64, correspondence_channels=8,
                          colornet_widths=(8, 16, 16, 32), discriminator_width=4),
}


def preset(name: str, **overrides) -> SPColorConfig:
    """The preset ``name`` (``paper``, ``released-code``, ``tiny``) with ``overrides`` applied.

    Raises:
        ColorbenchError: an unknown preset name (the message lists the known ones) or setting.
    """
    if name not in PRESETS:
        raise unknown_name("SPColor preset", name, PRESETS)
    if overrides:
        return SPColorConfig.from_dict({**PRESETS[name].as_dict(), **overrides})
    return PRESETS[name]
