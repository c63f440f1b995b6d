"""Welsh et al. 2002, "Transferring Color to Greyscale Images": the global matching procedure.

The paper colours a grayscale image from a colour reference without any user input:

1. **Luminance remapping.** The reference lightness is moved onto the target's global statistics,
   ``L' = (sigma_t / sigma_r) (L_r - mu_r) + mu_t`` (population mean and standard deviation over
   all pixels), so that "dark" and "light" mean the same thing in both images. The remapped L is
   used for matching only; the colours handed out are the reference's original ab.
2. **Neighbourhood statistic.** Each pixel of the remapped reference and of the target gets the
   standard deviation of L in its ``window`` x ``window`` neighbourhood (5 x 5 in the paper), a
   cheap texture descriptor.
3. **Jittered sampling.** About ``samples`` (200 in the paper) reference pixels serve as colour
   swatches: the reference is split into a ``g_y`` x ``g_x`` grid of near-equal cells and one
   uniformly random pixel is drawn in each cell (a jittered grid covers the whole reference,
   unlike plain random sampling, and is less prone than a regular grid to aliasing with periodic
   texture).
4. **Matching.** Each target pixel takes the sample minimising
   ``weight * (L_t - L'_s)^2 + (1 - weight) * (std_t - std_s)^2``; the paper matches on "a
   weighted average of luminance (50%) and standard deviation (50%)", which is ``weight = 0.5``.
   The paper does not spell out the distance; squared differences make it a weighted Euclidean
   distance in the (L, std) plane, and both terms are in L units, so no further scaling is needed.
5. **Transfer.** The target pixel takes the matched sample's a and b; its own L is kept (joined by
   :func:`~baselines.registry.compose`), so the output keeps the target's lightness (up to the
   clipping of out-of-gamut colours).

Choices made here, and why:

* **CIELAB instead of l-alpha-beta.** Every metric and model in this project works in CIELAB
  (L in [0, 100]); like l-alpha-beta it separates an achromatic channel from two opponent
  chroma channels, which is all the procedure relies on. The ``reinhard`` baseline makes the
  same substitution.
* **Constant reference** (``sigma_r < CONSTANT_STD``): the remap is 0/0; it maps every reference
  pixel to ``mu_t``. All samples then have the same L' and std, and, as every reference pixel has
  the same colour anyway, the choice cannot matter.
* **Constant target** (``sigma_t = 0``): the remap sends the whole reference to ``mu_t`` and every
  distance is exactly 0, so every pixel takes sample 0 (see ties below): a flat target gets one
  flat colour.
* **Neighbourhood borders** are mirrored (``scipy.ndimage`` ``mode="reflect"``, ``d c b a | a b c
  d``, numpy's ``"symmetric"``), so border pixels see a full window of real values.
* **Local std** comes from two box filters, ``sqrt(max(0, E[L^2] - E[L]^2))``, after subtracting
  the image mean (which leaves the std unchanged but shrinks the cancellation error of the
  formula); a constant image gets exact zeros. ``window`` must be odd so the window is centred.
* **Grid shape.** ``n = min(samples, h * w)`` (a reference with fewer pixels than samples uses
  every pixel), ``g_y = round(sqrt(n h / w))`` and ``g_x = round(n / g_y)`` (half rounds up),
  clipped to ``[1, h]`` and ``[1, w]``: cells are near-square and ``g_y g_x`` is close to ``n``
  (196 for 200 samples on a square reference). Cell ``i`` spans rows ``floor(i h / g_y)`` to
  ``floor((i + 1) h / g_y)`` (likewise columns), never empty since ``g_y <= h``.
* **Randomness.** One call ``rng.random((g_y, g_x, 2))`` draws the offsets (row, column) of all
  cells in row-major cell order; offset ``floor(u * size)`` inside the cell. Samples are numbered
  in that order.
* **Ties** (equal distances) go to the lowest sample index (``numpy.argmin``). Distances are
  computed exactly as written above, for chunks of target pixels at a time to bound memory. In
  flat regions of a non-constant image the box-filter std carries rounding noise (~1e-6 in L
  units), which can decide between samples that are tied in exact arithmetic.
* **Masks** are not used: this is the paper's global procedure (its swatch mode needs a user).
"""

from __future__ import annotations

import math

import numpy as np

from bench.core.lazy import lazy_import

from ..registry import PairInputs, compose, register_baseline

ndimage = lazy_import("scipy.ndimage")  # imported on first use: listing baselines stays fast

__all__ = ["grid_shape", "jittered_samples", "local_std", "match_samples", "remap_luminance", "welsh_ab", "welsh"]

#: A reference lightness with a smaller standard deviation is treated as constant.
CONSTANT_STD = 1e-6
#: Entries of the (target pixels, samples) distance matrix computed at once: 512 KiB of float64,
#: small enough to stay in cache, which makes matching ~2x faster than 32 MiB chunks.
CHUNK_ELEMENTS = 1 << 16

_CITATION = "T. Welsh, M. Ashikhmin, K. Mueller. Transferring Color to Greyscale Images. SIGGRAPH 2002"


def remap_luminance(reference_l: np.ndarray, target_l: np.ndarray) -> np.ndarray:
    """The reference lightness ``(h, w)`` moved onto the target's global mean and std -> ``(h, w)``
    float64; a constant reference (std < ``CONSTANT_STD``) maps to the target mean."""
    mu_r, sigma_r = float(reference_l.mean()), float(reference_l.std())
    mu_t, sigma_t = float(target_l.mean()), float(target_l.std())
    if sigma_r < CONSTANT_STD:
        return np.full(reference_l.shape, mu_t)
    return (sigma_t / sigma_r) * (reference_l - mu_r) + mu_t


def local_std(lightness: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of ``lightness`` ``(H, W)`` in the ``window`` x ``window`` neighbourhood of each
    pixel (mirrored borders) -> ``(H, W)`` float64, exactly 0 for a constant image."""
    if lightness.size == 0 or np.ptp(lightness) == 0:
        return np.zeros(lightness.shape)
    # Centring leaves the std unchanged but keeps E[L^2] - E[L]^2 from cancelling catastrophically.
    centred = lightness - lightness.mean()
    mean = ndimage.uniform_filter(centred, size=window, mode="reflect")
    mean_sq = ndimage.uniform_filter(centred * centred, size=window, mode="reflect")
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def grid_shape(height: int, width: int, samples: int) -> tuple[int, int]:
    """The ``(g_y, g_x)`` jitter grid for about ``samples`` cells on a ``height`` x ``width``
    image: near-square cells, at most one cell per pixel."""
    n = min(samples, height * width)
    g_y = min(max(int(math.floor(math.sqrt(n * height / width) + 0.5)), 1), height)
    g_x = min(max(int(math.floor(n / g_y + 0.5)), 1), width)
    return g_y, g_x


def _cell_edges(size: int, cells: int) -> np.ndarray:
    """``cells + 1`` integer edges splitting ``range(size)`` into near-equal, non-empty cells."""
    return (np.arange(cells + 1) * size) // cells


def jittered_samples(height: int, width: int, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One uniformly random pixel per cell of the jitter grid (:func:`grid_shape`) -> ``(ys, xs)``,
    two int arrays of ``g_y * g_x`` positions in row-major cell order."""
    g_y, g_x = grid_shape(height, width, samples)
    y_edges, x_edges = _cell_edges(height, g_y), _cell_edges(width, g_x)
    y0, ny = y_edges[:-1, None], np.diff(y_edges)[:, None]  # (g_y, 1)
    x0, nx = x_edges[None, :-1], np.diff(x_edges)[None, :]  # (1, g_x)
    u = rng.random((g_y, g_x, 2))
    # min(): guards floor(u * n) == n should u * n round up to n.
    ys = y0 + np.minimum(np.floor(u[..., 0] * ny).astype(np.int64), ny - 1)
    xs = x0 + np.minimum(np.floor(u[..., 1] * nx).astype(np.int64), nx - 1)
    return ys.ravel(), xs.ravel()


def match_samples(target_l: np.ndarray, target_std: np.ndarray, sample_l: np.ndarray, sample_std: np.ndarray,
                  weight: float) -> np.ndarray:
    """For each target pixel (``target_l``, ``target_std``: ``(N,)``) the index of the sample
    (``sample_l``, ``sample_std``: ``(S,)``) minimising ``weight (dL)^2 + (1 - weight) (dstd)^2``
    -> ``(N,)`` int; ties go to the lowest index."""
    other = 1.0 - weight
    chunk = max(1, CHUNK_ELEMENTS // max(1, sample_l.size))
    best = np.empty(target_l.size, dtype=np.int64)
    for start in range(0, target_l.size, chunk):
        stop = start + chunk
        d_l = target_l[start:stop, None] - sample_l[None, :]  # (chunk, S)
        d_std = target_std[start:stop, None] - sample_std[None, :]
        np.multiply(d_l, d_l, out=d_l)
        np.multiply(d_l, weight, out=d_l)
        np.multiply(d_std, d_std, out=d_std)
        np.multiply(d_std, other, out=d_std)
        np.add(d_l, d_std, out=d_l)
        best[start:stop] = np.argmin(d_l, axis=1)
    return best


def welsh_ab(target_l: np.ndarray, reference_lab: np.ndarray, rng: np.random.Generator, samples: int = 200,
             window: int = 5, weight: float = 0.5) -> np.ndarray:
    """Welsh et al.'s global colour transfer (see the module docstring).

    Args:
        target_l: the target's CIELAB lightness, ``(H, W)`` in [0, 100].
        reference_lab: the reference in CIELAB, ``(h, w, 3)``.
        rng: draws the jittered sample positions.
        samples: about how many reference swatches to match against (at most ``h * w`` are used).
        window: side of the (odd) square neighbourhood of the std statistic.
        weight: weight of the lightness term; ``1 - weight`` goes to the std term.

    Returns:
        ``(H, W, 2)`` float64: each pixel's ab, taken from the matched reference pixel.
    """
    target_l = np.asarray(target_l, dtype=np.float64)
    reference_lab = np.asarray(reference_lab, dtype=np.float64)
    if target_l.ndim != 2 or target_l.size == 0:
        raise ValueError(f"target_l must be a non-empty (H, W) array; got shape {target_l.shape}")
    if reference_lab.ndim != 3 or reference_lab.shape[-1] != 3 or reference_lab.size == 0:
        raise ValueError(f"reference_lab must be a non-empty (h, w, 3) array; got shape {reference_lab.shape}")
    if samples < 1 or window < 1 or window % 2 == 0 or not 0.0 <= weight <= 1.0:
        raise ValueError(f"need samples >= 1, an odd window >= 1 and 0 <= weight <= 1; "
                         f"got samples={samples}, window={window}, weight={weight}")
    height, width = reference_lab.shape[:2]
    reference_l = remap_luminance(reference_lab[..., 0], target_l)
    ys, xs = jittered_samples(height, width, samples, rng)
    sample_l, sample_std = reference_l[ys, xs], local_std(reference_l, window)[ys, xs]
    best = match_samples(target_l.ravel(), local_std(target_l, window).ravel(), sample_l, sample_std, weight)
    sample_ab = reference_lab[ys, xs, 1:]  # original, not remapped, reference colours
    return sample_ab[best].reshape(*target_l.shape, 2)


@register_baseline("welsh", needs=("reference",), citation=_CITATION,
                   description="Welsh et al. 2002: luminance remapping, jittered reference swatches, matching on "
                               "luminance and neighbourhood std")
def welsh(pair: PairInputs, rng: np.random.Generator) -> np.ndarray:
    return compose(pair.target_l, welsh_ab(pair.target_l, pair.reference_lab, rng))
