"""He et al. 2018's two-stage reference retrieval ("Deep exemplar-based colorization", SIGGRAPH 2018).

The retrieval most exemplar-based papers (SPColor included) use to pick ImageNet references.
Everything is computed on the GRAY image (its CIELAB lightness as neutral gray, the same gray the
rest of :mod:`pairing` uses), replicated to 3 channels and resized to 224 x 224:

1. global ranking: VGG19 ``fc6`` (4096-d) compared by COSINE similarity; the :data:`GLOBAL_TOP`
   (200) most similar candidates of the target's class go on;
2. local re-ranking on the 7 x 7 ``pool5`` grid. For each target cell, its best cosine match among
   the candidate's 49 cells: ``dist0 = mean over target cells of (-max cosine) + 1``. Plus 10-bin
   luminance histograms per cell: ``dist1 = (mean over target cells of (1 - corr) + 1) / 2``, where
   ``corr`` is the Pearson correlation over the bins (OpenCV's ``HISTCMP_CORREL``) between the
   target cell's histogram and that of the candidate cell that matched it best. Score
   ``= dist0 + 0.25 * dist1`` (:data:`HIST_WEIGHT`); lower is better; the best ``top_k`` are kept
   and the score is stored as the pair's ``distance``.

Choices, checked against the authors' public code (``hmmlillian/Gray-Image-Retrieval``:
``source/search/main.cpp``, ``source/pca/pca_func.m``, ``config.py``), which was read, not copied:

* cosine, not L2, in stage 1: the released search ranks by the negative dot product of
  L2-normalised fc6 vectors, i.e. by cosine. It first compresses fc6/pool5 with per-class PCA
  bases that were never published; we compare the uncompressed features instead (and store them
  as float16 to halve the cache; similarities are computed in float64).
* histograms are compared between MATCHED cells (the released code's ``idMap``), not between
  cells at the same position;
* pool5 activations are non-negative (ReLU, then max-pooling), so every cosine is >= 0 and the
  released code's floor of the best match at 0 never acts; a cell with all-zero activations has
  cosine 0 with everything (its match is the first cell, as in the released code);
* a constant histogram correlates 1 with anything (OpenCV's convention for a zero denominator);
* histograms are taken at the decoded resolution on a proportional 7 x 7 grid (the region each
  pool5 cell of the squashed 224 x 224 input sees); the released code works at short side 256
  and leaves a 16-pixel margin;
* the network is torchvision's ImageNet VGG19 (the one every other ranking here uses), not the
  authors' VGG19-BN fine-tuned on gray images, and the input is the squashed 224 x 224 gray image
  rather than ROI pooling over the image at short side 256;
* stage 1 keeps ``min(200, usable candidates)``; the released code keeps ``min(200, class/2)``,
  which makes no difference for ImageNet train (>= 732 images per class).

Ties are broken by pool order, and final scores are rounded to the split's precision first, so
the same features give the same references everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bench.core.device import resolve_device

from .collection import Collection, Description
from .describe import RANK_SIDE, describe_pass, rank_pixels
from .knn import round_distances

__all__ = ["HeExtractor", "HeFeatures", "describe_he2018", "cell_histograms", "local_scores", "retrieve",
           "fc6_distances", "GLOBAL_TOP", "HIST_WEIGHT", "GRID", "HIST_BINS", "LAYERS"]

#: Candidates kept by the global (fc6) stage.
GLOBAL_TOP = 200
#: Weight of the histogram term in the final score.
HIST_WEIGHT = 0.25
#: The pool5 grid side at 224 x 224 input, and the histogram grid.
GRID = 7
CELLS = GRID * GRID
#: Luminance histogram bins per cell (uniform over 0..255).
HIST_BINS = 10
LAYERS = ("fc6", "pool5")
#: Bump when anything :func:`describe_he2018` computes changes, so old cache entries are not reused.
HE_VERSION = 1
_STORE = np.float16  # fc6 / pool5 storage (cache and memory); similarities are computed in float64


@dataclass
class HeFeatures:
    """Per-image retrieval features, aligned with a collection's entries.

    Attributes:
        fc6: ``(N, 4096)`` float16.
        pool5: ``(N, 49, 512)`` float16, cells in row-major order.
        hist: ``(N, 49, 10)`` float32, each cell's luminance histogram as fractions.
    """

    fc6: np.ndarray
    pool5: np.ndarray
    hist: np.ndarray

    def take(self, indices) -> "HeFeatures":
        indices = np.asarray(indices, dtype=np.int64)
        return HeFeatures(self.fc6[indices], self.pool5[indices], self.hist[indices])

    def __len__(self) -> int:
        return len(self.fc6)


class HeExtractor:
    """VGG19 ``fc6`` + ``pool5`` of gray images, in one forward pass; the network is loaded on
    first use and kept for every later class."""

    def __init__(self, device: str = "auto"):
        self.device = device
        self._model = None
        self._record = None

    def record(self) -> dict:
        """What the split's sidecar records about these features (weight checksum included); fails
        early, naming the weight file, when VGG19 is missing."""
        if self._record is None:
            from bench.core.weights import ensure_weights, file_sha256

            path = ensure_weights("vgg19")
            self._record = {"name": "vgg19", "ranking": "he2018", "layers": list(LAYERS),
                            "input": f"gray {RANK_SIDE}x{RANK_SIDE}", "grid": GRID, "hist_bins": HIST_BINS,
                            "version": HE_VERSION, "weights": {"file": path.name, "sha256": file_sha256(path)}}
        return self._record

    def model(self):
        if self._model is None:
            from bench.features.vgg import VGGFeatures

            self._model = VGGFeatures(list(LAYERS)).to(resolve_device(self.device))
        return self._model

    def __call__(self, pixels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(B, 1, 224, 224)`` gray in [0, 1] -> ``fc6 (B, 4096)``, ``pool5 (B, 49, 512)``."""
        model = self.model()
        device = next(model.parameters()).device
        with torch.no_grad():
            out = model(pixels.to(device).expand(-1, 3, -1, -1))
        pool5 = out["pool5"].flatten(2).transpose(1, 2)  # (B, 512, 7, 7) -> (B, 49, 512)
        return out["fc6"].float().cpu().numpy().astype(_STORE), pool5.float().cpu().numpy().astype(_STORE)


def cell_histograms(gray: np.ndarray, grid: int = GRID, bins: int = HIST_BINS) -> np.ndarray:
    """``(grid*grid, bins)`` luminance histograms (fractions) of a uint8 ``(H, W)`` gray image cut
    into a proportional ``grid x grid`` grid (row-major cells); bins split 0..255 uniformly."""
    height, width = gray.shape
    rows = (np.arange(height) * grid) // height
    cols = (np.arange(width) * grid) // width
    cell = rows[:, None] * grid + cols[None, :]
    level = gray.astype(np.int64) * bins // 256
    counts = np.bincount((cell * bins + level).ravel(), minlength=grid * grid * bins)
    counts = counts.reshape(grid * grid, bins).astype(np.float64)
    return (counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)).astype(np.float32)


def _he_extras(gray: np.ndarray) -> dict:
    return {"_pixels": rank_pixels(gray), "hist": cell_histograms(gray)}


def describe_he2018(collection: Collection, extractor: HeExtractor, batch_size: int = 32,
                    workers: int | None = None, progress: bool = False, world=None,
                    gather: bool = True) -> tuple[Description, HeFeatures] | None:
    """Decode every image of ``collection`` once: filter statistics plus fc6, pool5 and cell
    histograms, through :func:`pairing.describe.describe_pass` (cached by content and settings,
    VGG19's weight checksum included; ``world`` and ``gather`` as there: None where it returns
    None)."""

    def network(items: list[dict]) -> dict[str, np.ndarray]:
        fc6, pool5 = extractor(torch.stack([item["_pixels"] for item in items]))
        return {"fc6": fc6, "pool5": pool5}

    result = describe_pass(collection, "he2018", extractor.record(), _he_extras, network, batch_size, workers,
                           progress, label="describing (he2018)", world=world, gather=gather)
    if result is None:
        return None
    description, arrays = result
    n = len(collection.entries)
    fc6 = arrays.get("fc6", np.zeros((n, 4096), _STORE))  # absent only when nothing decoded
    pool5 = arrays.get("pool5", np.zeros((n, CELLS, 512), _STORE))
    hist = arrays.get("hist", np.zeros((n, CELLS, HIST_BINS), np.float32))
    return description, HeFeatures(fc6, pool5, hist)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-30)


def local_scores(query_pool5: np.ndarray, query_hist: np.ndarray, cand_pool5: np.ndarray, cand_hist: np.ndarray,
                 hist_weight: float = HIST_WEIGHT, device: str | torch.device = "cpu") -> np.ndarray:
    """Stage-2 scores (lower is better) of ``C`` candidates for one target, in float64.

    Args:
        query_pool5: ``(49, 512)``; query_hist: ``(49, bins)``.
        cand_pool5: ``(C, 49, 512)``; cand_hist: ``(C, 49, bins)``.

    Returns:
        ``(C,)``: ``dist0 + hist_weight * dist1`` (see the module docstring).
    """
    device = torch.device(device)
    q = _unit(torch.as_tensor(np.asarray(query_pool5), device=device).double())  # (49, D)
    c = _unit(torch.as_tensor(np.asarray(cand_pool5), device=device).double())  # (C, 49, D)
    if c.shape[0] == 0:
        return np.zeros(0)
    sims = torch.matmul(c, q.T)  # (C, candidate cell, target cell)
    match = sims.argmax(dim=1)  # (C, target cell): the first best candidate cell
    best = sims.gather(1, match[:, None, :])[:, 0, :]
    dist0 = 1.0 - best.mean(dim=1)

    hq = torch.as_tensor(np.asarray(query_hist), device=device).double()  # (49, B)
    hc = torch.as_tensor(np.asarray(cand_hist), device=device).double()  # (C, 49, B)
    hc = hc.gather(1, match[..., None].expand(-1, -1, hc.shape[-1]))  # the matched cells' histograms
    a = hq - hq.mean(dim=-1, keepdim=True)
    b = hc - hc.mean(dim=-1, keepdim=True)
    numerator = (a * b).sum(dim=-1)
    denominator = (a * a).sum(dim=-1) * (b * b).sum(dim=-1)
    corr = torch.where(denominator > 0, numerator / denominator.clamp_min(1e-300).sqrt(),
                       torch.ones_like(numerator))
    dist1 = ((1.0 - corr).mean(dim=1) + 1.0) / 2.0
    return (dist0 + hist_weight * dist1).cpu().numpy()


def fc6_distances(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``(Q, P)`` L2 distances between fc6 rows, in float64 (for the near-duplicate rule)."""
    q = torch.as_tensor(np.asarray(queries)).double()
    p = torch.as_tensor(np.asarray(pool)).double()
    if len(q) == 0 or len(p) == 0:
        return np.zeros((len(q), len(p)))
    return torch.cdist(q, p, compute_mode="use_mm_for_euclid_dist").numpy()


def retrieve(queries: HeFeatures, pool: HeFeatures, k: int, excluded: np.ndarray | None = None,
             global_top: int = GLOBAL_TOP, hist_weight: float = HIST_WEIGHT,
             device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best pool rows of each query row by He et al.'s two stages.

    Args:
        queries: the targets' features; pool: the candidates' (one class).
        excluded: ``(Q, P)`` bool, candidates a query must not get (itself, copies, near-duplicates).

    Returns:
        ``(indices, scores)``, each ``(Q, k)``, scores rounded to the split's precision; ``-1`` /
        NaN where fewer than ``k`` candidates are left (the caller decides what that means).
    """
    n_query, n_pool = len(queries), len(pool)
    out_idx = np.full((n_query, k), -1, np.int64)
    out_dist = np.full((n_query, k), np.nan)
    if k <= 0 or n_query == 0 or n_pool == 0:
        return out_idx, out_dist
    if excluded is None:
        excluded = np.zeros((n_query, n_pool), bool)
    similarity = (_unit(torch.as_tensor(queries.fc6).double()) @ _unit(torch.as_tensor(pool.fc6).double()).T).numpy()
    for q in range(n_query):
        valid = np.flatnonzero(~excluded[q])
        if len(valid) < k:
            continue
        order = np.lexsort((valid, -similarity[q, valid]))  # most similar first, ties by pool order
        candidates = valid[order[:global_top]]
        scores = local_scores(queries.pool5[q], queries.hist[q], pool.pool5[candidates], pool.hist[candidates],
                              hist_weight, device)
        rounded = round_distances(scores)
        final = np.lexsort((candidates, rounded))[:k]
        out_idx[q], out_dist[q] = candidates[final], rounded[final]
    return out_idx, out_dist
