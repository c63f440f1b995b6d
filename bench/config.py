"""Every metric setting, in one place: :class:`ScoreConfig`.

A result's ``summary.json`` records the resolved config, and every on-disk cache key includes the
settings it depends on, so results computed with other settings are never mixed or reused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .core.errors import ColorbenchError
from .core.settings import settings_from_dict

__all__ = [
    "DEFAULT_BATCH_PIXELS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_WORKERS",
    "COLORFULNESS_FORMS",
    "FID_BACKBONES",
    "FID_INPUT_RANGES",
    "IMAGE_TRANSFORMS",
    "SSIM_WINDOWS",
    "LPIPS_R_DIRECTIONS",
    "LPIPS_R_LAYER_REDUCTIONS",
    "PAPER_FID_INF_MIN_N",
    "ScoreConfig",
]

# How a scoring run batches its work (speed and memory only; never a number in the results).
#: At most this many pairs per batch.
DEFAULT_BATCH_SIZE = 32
#: At most this many output pixels per batch: 64 pairs of 256 x 256, 4 of 1000 x 900.
DEFAULT_BATCH_PIXELS = 1 << 22
#: DataLoader worker processes decoding images.
DEFAULT_WORKERS = 2

#: ``lpips_r_direction``: ``reference`` = Mechrez et al.'s published Eq. 1 (for each reference
#: feature its best match among the output's, averaged over the reference); ``output`` = the
#: forward direction of Zhang et al. 2019's code, which SPColor reuses (for each output feature
#: its best match among the reference's, averaged over the output).
LPIPS_R_DIRECTIONS = ("reference", "output")
#: ``lpips_r_layer_reduction``: how the per-layer -log CX combine: ``mean`` (ours) or ``sum``
#: (Mechrez et al.'s code, which sums its layers' losses).
LPIPS_R_LAYER_REDUCTIONS = ("mean", "sum")
#: ``fid_backbone``: ``tf`` = the TensorFlow FID Inception (2015-12-05, torch-fidelity's port: TTUR,
#: MSA, SPColor); ``torchvision`` = torchvision's ImageNet Inception v3 as DDColor's and CT2's
#: ``INCEPTION_V3_FID`` runs it (also ColorMNet, ModelScope).
FID_BACKBONES = ("tf", "torchvision")
#: ``fid_input_range``: what the torchvision backbone is handed (its forward maps ``x * 0.5 + 0.5``
#: before the channel scaling): ``minus_one_one`` as CT2 feeds it (ToTensor + Normalize(0.5, 0.5)),
#: ``zero_one`` as DDColor's validation feeds it (the RGB output of its Lab conversion).
FID_INPUT_RANGES = ("minus_one_one", "zero_one")
#: ``colorfulness_form``: ``hasler`` = Hasler & Süsstrunk's signed opponent differences;
#: ``abs`` = the absolute differences of the popular tutorial code DDColor and CT2 run.
COLORFULNESS_FORMS = ("hasler", "abs")
#: ``ssim_window``: ``gaussian`` = Wang et al.'s 11x11 Gaussian (sigma 1.5), population statistics;
#: ``uniform`` = skimage's default 7x7 box with sample covariance (CT2's ``compare_ssim`` call).
SSIM_WINDOWS = ("gaussian", "uniform")
#: ``image_transform``: what outputs and ground truths go through before every metric:
#: ``none``; ``squash`` = both sides to ``image_size`` (bilinear, no antialiasing: cv2.resize as
#: DDColor's validation set does); ``center_crop_resize`` = centre crop to the short side's square,
#: then ``image_size`` (PIL bilinear: CT2's torchvision CenterCrop + Resize).
IMAGE_TRANSFORMS = ("none", "squash", "center_crop_resize")
#: The MSA paper's FID infinity columns (smallest subsets of 300 and 600 outputs).
PAPER_FID_INF_MIN_N = (300, 600)


@dataclass(frozen=True)
class ScoreConfig:
    """Metric settings (the defaults are the documented protocol).

    Attributes:
        lpips_r_layers: VGG19 layers of the contextual similarity (LPIPS_R). The MSA paper does not
            publish them; ``relu3_2`` + ``relu4_2`` (mid-level: colour and texture statistics, as
            in Mechrez et al.'s style/contextual experiments) by default.
        lpips_r_h: band width ``h`` of the contextual similarity (0.5 in Mechrez et al.; Zhang et
            al. 2019 use 0.1).
        lpips_r_side: output and reference are resized so their SHORT side is this (bilinear,
            antialiased, aspect ratio kept) before VGG19, so the cost does not grow with image size.
        lpips_r_direction: ``reference`` (default: the published Eq. 1 that the MSA paper cites) or
            ``output`` (Zhang et al. 2019's and SPColor's code); see :data:`LPIPS_R_DIRECTIONS`.
        lpips_r_layer_reduction: ``mean`` (default) or ``sum`` (Mechrez et al.'s code) over layers.
        fid_inf_min_n: smallest subset(s) of FID infinity's line fit. ``None`` = max(50, N // 10),
            capped at N // 2 and at least 2 (the reference's 5,000 of 50,000 scaled to any N), on
            image-level splits, and ``fid_inf_object_min_n`` on object-level splits; an int or a
            tuple of ints fixes them (each reported as ``fid_inf_<min_n>``).
        fid_inf_object_min_n: the smallest subsets used on object-level splits when
            ``fid_inf_min_n`` is None: the MSA paper's 300 and 600, each reported when more
            outputs than that are scored (otherwise the ``None`` rule above is reported instead).
        fid_inf_points: number of subset sizes, ``linspace(min_n, N, points)``.
        fid_inf_repeats: how many times the whole fit is repeated (mean +- sample std, ddof 1).
        fid_inf_seed: seed of the subset draws.
        his_bins: bins per axis of the ab histograms of delta_his (our documented choice: 21).
        his_width: triangular (soft) bin half-width in ab/127 units (our documented choice: 0.1).
        classifier_resize: top1/top5 resize the short side to this, then centre-crop
            ``classifier_crop``. Default 224 -> 224, as SPColor's evaluation does (torchvision's
            ImageNet transform would be 256 -> 224).
        classifier_crop: see ``classifier_resize``.
        psnr_ab_data_range: peak ``R`` of psnr_ab in ab units; 255 = the span of the 8-bit ab
            encoding [-128, 127]. It shifts every value by ``20 log10(R / 255)`` dB, never a ranking.
        fid_backbone: the Inception that FID, FID infinity and KID use (:data:`FID_BACKBONES`);
            ``tf`` by default, as torch-fidelity, MSA and SPColor.
        fid_input_range: with ``fid_backbone = "torchvision"``: the input range the network's
            forward is handed (:data:`FID_INPUT_RANGES`); ignored with ``tf``.
        fid_drop_partial_batch: 0 (default) scores every output; ``k > 0`` drops the outputs and
            ground truths past the last full batch of ``k`` in split order, as the
            ``get_activations`` that DDColor and CT2 share does (``n_batches = N // batch_size``;
            both call it with batch size 1, so their own protocols drop nothing).
        kid_subsets, kid_subset_size, kid_seed: torch-fidelity's KID settings (its defaults: 100
            subsets of 1000, seed 2020); the subset size is capped at the smaller set's size and
            the size used is recorded.
        colorfulness_form: ``hasler`` (default) or ``abs`` (:data:`COLORFULNESS_FORMS`), for
            colorfulness, colorfulness_diff and colorfulness_set_diff.
        ssim_window: ``gaussian`` (default) or ``uniform`` (:data:`SSIM_WINDOWS`).
        ssim_data_range: SSIM's ``L`` in ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``: 255 for 8-bit
            images; CT2's evaluation passes 225 (sic).
        gt_roundtrip: score against the ground truth sent through CIELAB and back (skimage
            ``rgb2lab`` to float32, ``lab2rgb``, clipped, ``* 255`` truncated to uint8), the
            ``*_convert`` numbers CT2's evaluation prints; False by default.
        image_transform: what outputs and ground truths go through before every metric
            (:data:`IMAGE_TRANSFORMS`); image-level scoring only.
        image_size: the side of ``image_transform``'s result.
        bootstrap_samples: resamples of the per-image 95% confidence intervals.
        bootstrap_seed: seed of those resamples.
    """

    lpips_r_layers: tuple[str, ...] = ("relu3_2", "relu4_2")
    lpips_r_h: float = 0.5
    lpips_r_side: int = 224
    lpips_r_direction: str = "reference"
    lpips_r_layer_reduction: str = "mean"
    fid_inf_min_n: int | tuple[int, ...] | None = None
    fid_inf_object_min_n: tuple[int, ...] = PAPER_FID_INF_MIN_N
    fid_inf_points: int = 15
    fid_inf_repeats: int = 10
    fid_inf_seed: int = 0
    his_bins: int = 21
    his_width: float = 0.1
    classifier_resize: int = 224
    classifier_crop: int = 224
    psnr_ab_data_range: float = 255.0
    fid_backbone: str = "tf"
    fid_input_range: str = "minus_one_one"
    fid_drop_partial_batch: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_seed: int = 2020
    colorfulness_form: str = "hasler"
    ssim_window: str = "gaussian"
    ssim_data_range: float = 255.0
    gt_roundtrip: bool = False
    image_transform: str = "none"
    image_size: int = 256
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0

    def __post_init__(self):
        if self.lpips_r_direction not in LPIPS_R_DIRECTIONS:
            raise ColorbenchError(f"lpips_r_direction must be one of {', '.join(LPIPS_R_DIRECTIONS)}; "
                                  f"got {self.lpips_r_direction!r}")
        if self.lpips_r_layer_reduction not in LPIPS_R_LAYER_REDUCTIONS:
            raise ColorbenchError(f"lpips_r_layer_reduction must be one of {', '.join(LPIPS_R_LAYER_REDUCTIONS)}; "
                                  f"got {self.lpips_r_layer_reduction!r}")
        for name, allowed in (("fid_backbone", FID_BACKBONES), ("fid_input_range", FID_INPUT_RANGES),
                              ("colorfulness_form", COLORFULNESS_FORMS), ("ssim_window", SSIM_WINDOWS),
                              ("image_transform", IMAGE_TRANSFORMS)):
            if getattr(self, name) not in allowed:
                raise ColorbenchError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        if self.fid_drop_partial_batch < 0 or self.kid_subsets < 1 or self.kid_subset_size < 2 or self.image_size < 16:
            raise ColorbenchError("fid_drop_partial_batch must be >= 0, kid_subsets >= 1, kid_subset_size >= 2 and "
                                  f"image_size >= 16; got {self.fid_drop_partial_batch}, {self.kid_subsets}, "
                                  f"{self.kid_subset_size} and {self.image_size}")
        if self.bootstrap_samples < 1:
            raise ColorbenchError(f"bootstrap_samples must be at least 1; got {self.bootstrap_samples}")

    def for_split(self, split_level: str) -> ScoreConfig:
        """The settings as they apply to a split of ``split_level`` (what a summary records):
        FID infinity's smallest subsets become ``fid_inf_object_min_n`` on object-level splits
        when ``fid_inf_min_n`` is None."""
        if split_level == "object" and self.fid_inf_min_n is None and self.fid_inf_object_min_n:
            return replace(self, fid_inf_min_n=tuple(self.fid_inf_object_min_n))
        return self

    @classmethod
    def from_dict(cls, values: dict | None) -> ScoreConfig:
        """A config from user settings; a mistyped key is an error, never silently ignored."""
        return settings_from_dict(cls, values, "metric setting")

    def as_dict(self) -> dict:
        return asdict(self)
