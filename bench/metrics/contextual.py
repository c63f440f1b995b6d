"""``lpips_r``: the contextual similarity (Mechrez et al. 2018) between an output and its reference.

The MSA paper's "LPIPS_R" compares a colorization with its *reference*, which is not aligned with
it, so it is not LPIPS but the contextual similarity of Mechrez, Talmi & Zelnik-Manor, "The
Contextual Loss for Image Transformation with Non-Aligned Data" (ECCV 2018), on VGG19 features.
With output features ``x_i`` (i = 1..N positions) and reference features ``y_j`` (j = 1..M):

    x_i, y_j <- (x_i - mu_y) / ||x_i - mu_y||, (y_j - mu_y) / ||y_j - mu_y||   (mu_y: the reference's mean feature)
    d_ij    = 1 - <x_i, y_j>                                                  (cosine distance)
    d~_ij   = d_ij / (min_k d_ik + 1e-5)                                      (relative distance)
    w_ij    = exp((1 - d~_ij) / h)
    CX_ij   = w_ij / sum_k w_ik                                               (normalised over reference positions)
    CX      = 1/M sum_j max_i CX_ij                                           (paper's Eq. 1)
    value   = -log(CX), averaged over the layers.

``CX`` is in [1/M, 1]; the value is in [0, log M] and 0 when every reference feature has an exact
match in the output (identity). Eq. 1 takes, for each *reference* feature, its best match among the
output's features (``max`` over i, mean over j), as the authors' TensorFlow code does
(``CX/CSFlow.py``: ``reduce_max`` over the output's H, W, ``reduce_mean`` over the reference's
positions). Both conventions are in use: Zhang et al. 2019's code (which SPColor reuses) runs the
forward direction, for each *output* feature its best match among the reference's (``max`` over j,
mean over i); ``lpips_r_direction = "output"`` computes that one. Mechrez et al.'s code sums its
layers' values where the default here averages them (``lpips_r_layer_reduction = "sum"``).

Settings (``ScoreConfig``; the MSA paper publishes neither layers nor h, and cites Eq. 1):
    * ``lpips_r_layers = ("relu3_2", "relu4_2")``: mid-level layers carry colour and texture
      statistics; Mechrez et al. use ``conv3_2``/``conv4_2`` for style-like transfer.
    * ``lpips_r_h = 0.5``: Mechrez et al.'s band width (Zhang et al. 2019 use 0.1).
    * ``lpips_r_side = 224``: both images are resized (bilinear, antialiased) so that their short
      side is 224, keeping the aspect ratio, before VGG19 (sizes need not match; the N x M cost is
      bounded by the aspect ratios, not the resolution).
    * ``lpips_r_direction = "reference"`` (Eq. 1) or ``"output"`` (Zhang et al. 2019).
    * ``lpips_r_layer_reduction = "mean"`` or ``"sum"`` (Mechrez et al.'s code).
Deviations from the authors' code, all immaterial to the value: distances are ``1 - cos`` (their
code halves them, which only rescales the 1e-5 guard), and the mean used for centring is per image
(theirs is over the batch, which they use with one pair).
"""

from __future__ import annotations

from ..config import ScoreConfig
from ..core.lazy import lazy_import
from .base import Batch, check_images
from .registry import register_metric

torch = lazy_import("torch")
F = lazy_import("torch.nn.functional")

__all__ = ["LpipsR", "contextual_distance", "contextual_similarity", "lpips_r_from_features", "resize_short_side"]

#: the relative-distance guard of Mechrez et al.
RELATIVE_EPS = 1e-5
#: floor of the norm in the L2 normalisation: a feature equal to the reference mean (e.g. every
#: feature of a flat reference) becomes the zero vector, at cosine distance 1 from everything.
NORM_EPS = 1e-12
#: largest (B x N x M) similarity block held at once, in float64 elements (512 MiB).
_BLOCK_ELEMENTS = 1 << 26


def _check_features(name: str, features: torch.Tensor) -> None:
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(features).__name__}")
    if features.dim() != 4:
        raise ValueError(f"{name} must be (B, C, H, W) features, got shape {tuple(features.shape)}")


def _similarity_block(x: torch.Tensor, y: torch.Tensor, h: float, direction: str) -> torch.Tensor:
    """CX of ``x`` (b, C, N) against ``y`` (b, C, M), float64 -> (b,)."""
    mu = y.mean(dim=2, keepdim=True)
    x = F.normalize(x - mu, dim=1, eps=NORM_EPS)
    y = F.normalize(y - mu, dim=1, eps=NORM_EPS)
    d = 1.0 - torch.bmm(x.transpose(1, 2), y)  # (b, N, M)
    d_rel = d.div_(d.amin(dim=2, keepdim=True) + RELATIVE_EPS)  # in place: one (b, N, M) buffer less
    # softmax(-d~/h) over j equals exp((1 - d~)/h) / sum_k exp((1 - d~_k)/h) (the constant exp(1/h)
    # cancels) and cannot overflow for small h.
    cx = torch.softmax(d_rel.neg_().div_(h), dim=2)
    if direction == "reference":
        return cx.amax(dim=1).mean(dim=1)  # Eq. 1: each reference feature's best output match
    return cx.amax(dim=2).mean(dim=1)  # Zhang et al. 2019: each output feature's best reference match


def contextual_similarity(pred_features: torch.Tensor, ref_features: torch.Tensor, h: float = 0.5,
                          direction: str = "reference") -> torch.Tensor:
    """Contextual similarity CX (Mechrez et al. 2018, Eq. 1) of output features to reference features.

    Args:
        pred_features: ``(B, C, H, W)`` features of the outputs (any float dtype, any device).
        ref_features: ``(B, C, H', W')`` features of the references (spatial size may differ).
        h: band width (> 0).
        direction: ``reference`` (Eq. 1: mean over reference positions of the best output match)
            or ``output`` (Zhang et al. 2019: mean over output positions of the best reference match).

    Returns:
        ``(B,)`` float64 in [1/M, 1] (M = H' W'), computed in float64; 1 when every reference
        feature appears exactly in the output.
    """
    _check_features("pred_features", pred_features)
    _check_features("ref_features", ref_features)
    if pred_features.shape[:2] != ref_features.shape[:2]:
        raise ValueError(f"pred_features and ref_features must agree in batch and channels, got "
                         f"{tuple(pred_features.shape)} and {tuple(ref_features.shape)}")
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h}")
    if direction not in ("reference", "output"):
        raise ValueError(f"direction must be 'reference' or 'output', got {direction!r}")
    x = pred_features.flatten(2).double()
    y = ref_features.to(x.device).flatten(2).double()
    # bound memory: the (N x M) blocks of a few images at a time
    step = max(1, _BLOCK_ELEMENTS // (x.shape[2] * y.shape[2]))
    return torch.cat([_similarity_block(x[i:i + step], y[i:i + step], h, direction)
                      for i in range(0, x.shape[0], step)])


def contextual_distance(pred_features: torch.Tensor, ref_features: torch.Tensor, h: float = 0.5,
                        direction: str = "reference") -> torch.Tensor:
    """``-log(CX)`` of :func:`contextual_similarity`: ``(B,)`` float64 in [0, log M], 0 = identical."""
    return -torch.log(contextual_similarity(pred_features, ref_features, h, direction))


def lpips_r_from_features(pred_features: dict[str, torch.Tensor], ref_features: dict[str, torch.Tensor],
                          h: float = 0.5, direction: str = "reference", reduction: str = "mean") -> torch.Tensor:
    """LPIPS_R: :func:`contextual_distance` of two ``{layer: (B, C, H, W)}``, averaged (``reduction
    = "mean"``) or summed (``"sum"``, Mechrez et al.'s code) over the layers."""
    if not pred_features or set(pred_features) != set(ref_features):
        raise ValueError(f"need the same non-empty layers, got {sorted(pred_features)} and {sorted(ref_features)}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    per_layer = torch.stack([contextual_distance(pred_features[k], ref_features[k], h, direction)
                             for k in pred_features])
    return per_layer.mean(0) if reduction == "mean" else per_layer.sum(0)


def resize_short_side(images: torch.Tensor, side: int) -> torch.Tensor:
    """uint8 ``(B, 3, H, W)`` -> float32 RGB in [0, 1] whose short side is ``side`` (the long side
    ``round(side * long / short)``: the aspect ratio is kept), bilinear, antialiased."""
    check_images(images)
    height, width = images.shape[-2:]
    scale = side / min(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(images.float() / 255.0, size=size, mode="bilinear", align_corners=False, antialias=True)


class LpipsR:
    """The ``lpips_r`` metric: one VGG19 (``vgg``), called on a :class:`~bench.metrics.base.Batch`."""

    def __init__(self, config: ScoreConfig, device: torch.device | str):
        from ..features.vgg import VGGFeatures

        self.vgg = VGGFeatures(config.lpips_r_layers).to(device)
        self.side, self.h, self.device = config.lpips_r_side, config.lpips_r_h, device
        self.direction, self.reduction = config.lpips_r_direction, config.lpips_r_layer_reduction

    def __call__(self, batch: Batch) -> torch.Tensor:
        """``(B,)`` float64 LPIPS_R of ``batch.pred`` against ``batch.reference``."""
        if batch.reference is None or len(batch.reference) != len(batch):
            raise ValueError(f"lpips_r needs one reference per output, got "
                             f"{None if batch.reference is None else len(batch.reference)} for {len(batch)}")
        with torch.no_grad():
            return self._distances(batch)

    def _distances(self, batch: Batch) -> torch.Tensor:
        pred = self.vgg(resize_short_side(batch.pred.to(self.device), self.side))
        # References differ in size: one VGG19 pass per distinct size, in the batch's order.
        resized = [resize_short_side(ref[None].to(self.device), self.side) for ref in batch.reference]
        by_size: dict[tuple, list[int]] = {}
        for i, image in enumerate(resized):
            by_size.setdefault(tuple(image.shape[-2:]), []).append(i)
        distances = torch.empty(len(batch), dtype=torch.float64, device=self.device)
        for members in by_size.values():
            features = self.vgg(torch.cat([resized[i] for i in members]))
            rows = torch.tensor(members, device=self.device)
            distances[rows] = lpips_r_from_features({k: f[rows] for k, f in pred.items()}, features, self.h,
                                                    self.direction, self.reduction).to(distances)
        return distances


@register_metric("lpips_r", higher_is_better=False, needs=("reference",), networks=("vgg19",),
                 matches="contextual similarity, Mechrez et al. 2018 Eq. 1 (roimehrez/contextualLoss CX_loss, "
                         "cosine), -log(CX) on VGG19 features, direction and layer reduction as set "
                         "(lpips_r_direction, lpips_r_layer_reduction); tested against a loop-based NumPy "
                         "transcription")
def lpips_r_metric(config, device):
    """LPIPS_R of the MSA paper: -log contextual similarity (Mechrez et al.) of output vs reference."""
    return LpipsR(config, device)
