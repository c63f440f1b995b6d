"""Every metric setting, in one place: :class:`ScoreConfig`.

A result's ``summary.json`` records the resolved config, and every on-disk cache key includes the
settings it depends on, so results computed with other settings are never mixed or reused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .core.errors import ColorbenchError

__all__ = ["ScoreConfig"]


@dataclass(frozen=True)
class ScoreConfig:
    """Metric settings (the defaults are the documented protocol).

    Attributes:
        lpips_r_layers: VGG19 layers of the contextual similarity (LPIPS_R). The MSA paper does not
            publish them; ``relu3_2`` + ``relu4_2`` (mid-level: colour and texture statistics, as
            in Mechrez et al.'s style/contextual experiments) by default, averaged.
        lpips_r_h: band width ``h`` of the contextual similarity (0.5 in Mechrez et al.; Zhang et
            al. 2019 use 0.1).
        lpips_r_side: output and reference are resized to this square side (bilinear, antialiased)
            before VGG19, so the cost does not grow with image size and sizes need not match.
        fid_inf_min_n: smallest subset of FID infinity's line fit (the MSA paper reports 300 and 600;
            ``None`` = max(50, N // 10), capped at N // 2 and at least 2, as the reference's 5,000 of
            50,000 scaled to any N, so small demo sets still span a factor of two).
        fid_inf_points: number of subset sizes, ``linspace(min_n, N, points)``.
        fid_inf_repeats: how many times the whole fit is repeated (mean +- sample std, ddof 1).
        fid_inf_seed: seed of the subset draws.
        his_bins: bins per axis of the ab histograms of delta_his (the SA authors' code: 21).
        his_width: triangular (soft) bin half-width in ab/127 units (the SA authors' code: 0.1).
        classifier_resize: top1/top5 resize the short side to this, then centre-crop
            ``classifier_crop`` (torchvision's ImageNet evaluation transform).
        classifier_crop: see ``classifier_resize``.
        psnr_ab_data_range: peak ``R`` of psnr_ab in ab units; 255 = the span of the 8-bit ab
            encoding [-128, 127]. It shifts every value by ``20 log10(R / 255)`` dB, never a ranking.
        bootstrap_samples: resamples of the per-image 95% confidence intervals.
        bootstrap_seed: seed of those resamples.
    """

    lpips_r_layers: tuple[str, ...] = ("relu3_2", "relu4_2")
    lpips_r_h: float = 0.5
    lpips_r_side: int = 224
    fid_inf_min_n: int | None = None
    fid_inf_points: int = 15
    fid_inf_repeats: int = 10
    fid_inf_seed: int = 0
    his_bins: int = 21
    his_width: float = 0.1
    classifier_resize: int = 256
    classifier_crop: int = 224
    psnr_ab_data_range: float = 255.0
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0

    @classmethod
    def from_dict(cls, values: dict | None) -> "ScoreConfig":
        """A config from user settings; a mistyped key is an error, never silently ignored."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ColorbenchError(f"unknown metric setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "lpips_r_layers" in values:
            values["lpips_r_layers"] = tuple(values["lpips_r_layers"])
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)
