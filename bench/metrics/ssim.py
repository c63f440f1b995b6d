"""SSIM (Wang et al. 2004) on RGB, batched in torch so it runs on the scoring device.

The numbers equal :func:`skimage.metrics.structural_similarity` called as Wang et al.'s setting::

    structural_similarity(gt, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                          data_range=255, channel_axis=-1)

(to within 1e-5; in practice ~1e-15). What that call does, and what is reproduced here:

* float64 throughout; ``C1 = (0.01 * 255)^2``, ``C2 = (0.03 * 255)^2``;
* local means, variances (population, i.e. divided by the weight sum, not ``N - 1``) and the
  covariance come from a normalised Gaussian window with sigma 1.5 truncated at 3.5 sigma: radius
  ``int(3.5 * 1.5 + 0.5) = 5``, an 11 x 11 window applied as two 1-D filters;
* the SSIM map is cropped by ``pad = (11 - 1) // 2 = 5`` pixels on every side before its mean.
  skimage filters with reflect padding first, but the kept pixels' windows never reach the padding,
  so a padding-free ('valid') convolution gives exactly the cropped map;
* the mean is taken per channel, then over the three channels.

Images must be at least 11 x 11 (skimage raises for smaller ones too).

``window="uniform"`` is skimage's *default* call instead, ``structural_similarity(gt, pred,
channel_axis=-1, data_range=L)``: a 7 x 7 box window (``uniform_filter``), sample statistics
(``cov_norm = 49 / 48``) and a 3-pixel crop; CT2's evaluation (``segm/metrics.py``
``avg_ssim_psnr``) calls it so, with ``data_range=225`` (sic), which ``data_range`` reproduces.

On CPU the channel maps are processed a few at a time, and a large map in bands of rows (each with
the ``2 * RADIUS`` rows its windows reach below), about :data:`CHUNK_PIXELS` input pixels per
chunk: the eleven passes of each filter then run over data that stays in a core's cache (25%
less CPU time than chunks of 4 x 256 x 256 here), and memory stays bounded for large images. A
channel's value is the sum of its chunks' SSIM maps over its pixel count, so it does not depend
on the chunking beyond float64 rounding.
"""

from __future__ import annotations

from ..core.lazy import lazy_import
from .base import check_pair
from .registry import register_metric

torch = lazy_import("torch")

__all__ = ["ssim", "WINDOWS"]

DATA_RANGE = 255.0
K1, K2 = 0.01, 0.03
SIGMA = 1.5
#: skimage's truncation with gaussian_weights=True: an 11-tap filter at sigma 1.5, as Wang et al.
TRUNCATE = 3.5
RADIUS = int(TRUNCATE * SIGMA + 0.5)  # scipy.ndimage's radius rule
WIN_SIZE = 2 * RADIUS + 1
#: Input pixels (channel maps x rows x W) filtered together on CPU: one channel map of 256 x 256
#: (its five float64 statistics, 2.5 MB, about one core's L2 cache).
CHUNK_PIXELS = 1 << 16
#: skimage's default window with gaussian_weights=False.
UNIFORM_SIZE = 7
WINDOWS = ("gaussian", "uniform")


def _check_pair(pred: torch.Tensor, gt: torch.Tensor) -> None:
    check_pair(pred, gt)
    if min(pred.shape[-2:]) < WIN_SIZE:
        raise ValueError(f"SSIM needs images of at least {WIN_SIZE}x{WIN_SIZE}; got {tuple(pred.shape)}")


def _window(window: str, device: torch.device) -> tuple[torch.Tensor, float]:
    """The 1-D taps and the covariance normalisation skimage uses for ``window``."""
    if window == "gaussian":
        return _gaussian_taps(device), 1.0
    if window == "uniform":
        taps = torch.full((UNIFORM_SIZE,), 1.0 / UNIFORM_SIZE, dtype=torch.float64, device=device)
        points = UNIFORM_SIZE**2
        return taps, points / (points - 1)  # use_sample_covariance=True
    raise ValueError(f"SSIM window must be one of {', '.join(WINDOWS)}; got {window!r}")


def _gaussian_taps(device: torch.device) -> torch.Tensor:
    """The normalised 1-D Gaussian of scipy.ndimage.gaussian_filter1d (float64, ``WIN_SIZE`` taps)."""
    x = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64, device=device)
    taps = torch.exp(-0.5 * (x / SIGMA) ** 2)
    return taps / taps.sum()


def _filter_valid(maps: torch.Tensor, taps: torch.Tensor, dim: int) -> torch.Tensor:
    """1-D correlation with ``taps`` along ``dim``, valid positions only, as a sum of shifted
    slices: float64 convolutions have no fast CPU kernel, while these 11 multiply-adds are
    plain vectorised array arithmetic (about 15x faster than ``conv2d`` in float64 here)."""
    size = maps.shape[dim] - len(taps) + 1
    out = maps.narrow(dim, 0, size) * taps[0]
    for k in range(1, len(taps)):
        out.add_(maps.narrow(dim, k, size), alpha=float(taps[k]))
    return out


def _local_mean(maps: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Gaussian-weighted local means of ``(..., H, W)`` maps over valid positions only:
    ``(..., H - 2r, W - 2r)``, rows then columns (the Gaussian is separable)."""
    return _filter_valid(_filter_valid(maps, taps, -2), taps, -1)


def _chunks(maps: int, height: int, width: int, cpu: bool, radius: int = RADIUS) -> tuple[int, int]:
    """(channel maps, output rows) per chunk; on a GPU, everything at once (its memory is large and
    its cache is not the bottleneck)."""
    out_rows = height - 2 * radius
    if not cpu:
        return maps, out_rows
    if height * width <= CHUNK_PIXELS:
        return max(1, CHUNK_PIXELS // (height * width)), out_rows
    return 1, max(2 * radius, CHUNK_PIXELS // width - 2 * radius)


def ssim(pred: torch.Tensor, gt: torch.Tensor, window: str = "gaussian",
         data_range: float = DATA_RANGE) -> torch.Tensor:
    """Mean SSIM of each pair, Wang et al.'s setting (see the module docstring).

    Args:
        pred: outputs, ``(B, 3, H, W)`` uint8, H and W >= 11.
        gt: ground truths, same shape and dtype.
        window: ``gaussian`` (Wang et al.) or ``uniform`` (skimage's default call; CT2).
        data_range: ``L`` of the stabilising constants (255 for 8-bit images).

    Returns:
        ``(B,)`` float64 on the inputs' device, in [-1, 1]; 1 for identical images.
    """
    _check_pair(pred, gt)
    batch, _, height, width = pred.shape
    # Every channel of every image is one independent 2-D signal, as skimage loops over channels.
    x_all = pred.flatten(0, 1)
    y_all = gt.flatten(0, 1)
    taps, cov_norm = _window(window, pred.device)
    radius = len(taps) // 2
    step, rows = _chunks(len(x_all), height, width, pred.device.type == "cpu", radius)
    sums = torch.zeros(len(x_all), dtype=torch.float64, device=pred.device)
    for i in range(0, len(x_all), step):
        for top in range(0, height - 2 * radius, rows):
            band = slice(top, top + rows + 2 * radius)
            x = x_all[i:i + step, band].to(torch.float64)
            sums[i:i + step] += _ssim_sums(x, y_all[i:i + step, band].to(torch.float64), taps, cov_norm, data_range)
    valid = (height - 2 * radius) * (width - 2 * radius)
    return (sums / valid).view(batch, 3).mean(dim=1)


def _ssim_sums(x: torch.Tensor, y: torch.Tensor, taps: torch.Tensor, cov_norm: float = 1.0,
               data_range: float = DATA_RANGE) -> torch.Tensor:
    """Sum of the SSIM map of each of the float64 ``(N, H, W)`` channel maps ``x`` against ``y`` over
    its valid positions -> ``(N,)``."""
    stats = _local_mean(torch.stack([x, y, x * x, y * y, x * y], dim=1), taps)
    ux, uy, uxx, uyy, uxy = stats.unbind(dim=1)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    ssim_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return ssim_map.sum(dim=(-2, -1))


@register_metric("ssim", higher_is_better=True, needs=("gt",),
                 matches="skimage.metrics.structural_similarity(gt, pred, gaussian_weights=True, sigma=1.5, "
                         "use_sample_covariance=False, data_range=255, channel_axis=-1); ssim_window uniform: "
                         "structural_similarity(gt, pred, channel_axis=-1, data_range=ssim_data_range), CT2's call")
def ssim_metric(config, device):
    """Structural similarity to the ground truth (Wang et al. 2004, Gaussian 11x11 window, RGB mean)."""
    window, data_range = config.ssim_window, config.ssim_data_range
    return lambda batch: ssim(batch.pred, batch.gt, window, data_range)
