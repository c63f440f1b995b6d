"""The single decoding pass over a collection: filter statistics and ranking descriptors.

Ranking descriptors (``--features``):

* ``vgg19`` (default, the papers' protocol): VGG19 activations of the GRAY image (its CIELAB
  lightness as neutral gray, resized to 224 x 224), at layer ``relu5_4`` by default, averaged
  over space into a 512-d vector; compared with L2. Why ``relu5_4``: the deepest convolutional
  layer carries the most semantic content, global averaging makes it tolerant to where objects
  sit, and 512 dimensions keep exact 100k x 100k kNN feasible on a CPU (``fc6`` is 4096-d and
  ties the input to 224 x 224). Any layer of :class:`bench.features.vgg.VGGFeatures` can be
  chosen with ``--layer`` (``fc6`` is He et al.'s global feature).
* ``histogram`` (weight-free, for offline use): a 32-bin lightness histogram and 8-orientation
  gradient histograms on a 4 x 4 grid (magnitude-weighted), square-rooted and L2-normalised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from bench.core.cache import cache_key, load_arrays, save_arrays, sha256_bytes
from bench.core.color import rgb_to_gray
from bench.core.device import resolve_device
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.images import decode_rgb, read_file

from .collection import GRAY_SPREAD, Collection, Description

__all__ = ["FeatureSettings", "describe", "histogram_descriptor", "RANKING_FEATURES", "DEFAULT_VGG_LAYER"]

RANKING_FEATURES = ("vgg19", "histogram")
DEFAULT_VGG_LAYER = "relu5_4"
RANK_SIDE = 224
#: Bump when anything computed in :func:`describe` changes, so old cache entries are not reused.
DESCRIBE_VERSION = 1


@dataclass(frozen=True)
class FeatureSettings:
    """Which ranking descriptor to compute (``None`` = only the filter statistics)."""

    name: str | None = "vgg19"
    layer: str = DEFAULT_VGG_LAYER

    def __post_init__(self):
        if self.name not in (*RANKING_FEATURES, None):
            raise ColorbenchError(f"unknown ranking features {self.name!r}; choose {' or '.join(RANKING_FEATURES)}")

    def record(self) -> dict | None:
        """What the split's sidecar records about the features (checksums included)."""
        if self.name is None:
            return None
        if self.name == "histogram":
            return {"name": "histogram", "layer": None, "version": DESCRIBE_VERSION, "weights": None}
        from bench.core.weights import ensure_weights, file_sha256

        path = ensure_weights("vgg19")
        return {"name": "vgg19", "layer": self.layer, "input": f"gray {RANK_SIDE}x{RANK_SIDE}",
                "version": DESCRIBE_VERSION, "weights": {"file": path.name, "sha256": file_sha256(path)}}


def histogram_descriptor(gray: np.ndarray) -> np.ndarray:
    """The weight-free descriptor of a uint8 ``(H, W)`` gray image (see the module docstring)."""
    small = F.interpolate(torch.from_numpy(gray).float()[None, None] / 255.0, size=(128, 128), mode="bilinear",
                          antialias=True, align_corners=False)[0, 0].double().numpy()
    lightness = np.histogram(gray, bins=32, range=(0, 256))[0].astype(np.float64)
    lightness /= max(lightness.sum(), 1.0)
    gy, gx = np.gradient(small)
    magnitude = np.hypot(gx, gy)
    orientation = ((np.arctan2(gy, gx) % np.pi) / np.pi * 8).astype(int).clip(0, 7)
    cells = np.zeros((4, 4, 8))
    rows = np.repeat(np.arange(4), 32)
    np.add.at(cells, (rows[:, None], rows[None, :], orientation), magnitude)
    cells /= np.maximum(cells.sum(axis=2, keepdims=True), 1e-12)
    vector = np.sqrt(np.concatenate([lightness, cells.ravel()]))
    return (vector / max(np.linalg.norm(vector), 1e-12)).astype(np.float32)


class _DescribeDataset(Dataset):
    def __init__(self, files: list, features: str | None):
        self.files = files
        self.features = features

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict:
        try:
            data = read_file(self.files[i])
            rgb = decode_rgb(data, self.files[i])
        except ImageReadError as exc:
            return {"index": i, "error": str(exc)}
        gray = rgb_to_gray(rgb)[..., 0]
        spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
        item = {"index": i, "sha256": sha256_bytes(data), "width": rgb.shape[1], "height": rgb.shape[0],
                "colourless": float((spread <= GRAY_SPREAD).mean()),
                "dominant": float(np.bincount(gray.ravel(), minlength=256).max() / gray.size)}
        if self.features == "vgg19":
            pixels = torch.from_numpy(gray).float()[None, None] / 255.0
            item["pixels"] = F.interpolate(pixels, size=(RANK_SIDE, RANK_SIDE), mode="bilinear", antialias=True,
                                           align_corners=False)[0]
        elif self.features == "histogram":
            item["descriptor"] = histogram_descriptor(gray)
        return item


def _collate(items: list[dict]) -> list[dict]:
    return items


def _content_hashes(collection: Collection, progress: bool) -> list[str | None]:
    from tqdm.auto import tqdm

    hashes = []
    for entry in tqdm(collection.entries, desc="hashing", unit="image", disable=not progress, leave=False):
        try:
            hashes.append(sha256_bytes(read_file(collection.file(entry))))
        except ImageReadError:
            hashes.append(None)
    return hashes


def describe(collection: Collection, settings: FeatureSettings = FeatureSettings(), device: str = "auto",
             batch_size: int = 32, workers: int | None = None, progress: bool = True) -> Description:
    """Decode every image of ``collection`` once; return filter statistics and descriptors.

    Cached on disk under a key made of every image's content hash and the settings (VGG19's
    weight checksum included), so repeating a build decodes nothing.
    """
    from tqdm.auto import tqdm

    record = settings.record()  # fails early, naming the weight file, when VGG19 is missing
    hashes = _content_hashes(collection, progress)
    key = None
    if all(h is not None for h in hashes):
        key = cache_key("describe", hashes=hashes, features=record, version=DESCRIBE_VERSION, gray_spread=GRAY_SPREAD)
        cached = load_arrays(key)
        if cached is not None:
            return _from_arrays(collection, hashes, cached)

    files = [collection.file(entry) for entry in collection.entries]
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    loader = DataLoader(_DescribeDataset(files, settings.name), batch_size=batch_size, num_workers=workers,
                        collate_fn=_collate)
    n = len(files)
    width, height = np.zeros(n, np.int64), np.zeros(n, np.int64)
    colourless, dominant = np.zeros(n), np.zeros(n)
    sha: list[str] = [""] * n
    unreadable: dict[str, str] = {}
    features = None
    model = _vgg_model(settings, device) if settings.name == "vgg19" else None
    with tqdm(total=n, desc=f"describing ({settings.name or 'filters'})", unit="image", disable=not progress) as bar:
        for batch in loader:
            good = [item for item in batch if "error" not in item]
            for item in batch:
                if "error" in item:
                    unreadable[collection.entries[item["index"]].image_id] = item["error"]
                    continue
                i = item["index"]
                sha[i], width[i], height[i] = item["sha256"], item["width"], item["height"]
                colourless[i], dominant[i] = item["colourless"], item["dominant"]
            vectors = _batch_vectors(good, settings, model)
            if vectors is not None:
                if features is None:
                    features = np.zeros((n, vectors.shape[1]), np.float32)
                features[[item["index"] for item in good]] = vectors
            bar.update(len(batch))
    description = Description(collection.entries, sha, width, height, colourless, dominant, features, unreadable)
    if key is not None and not unreadable:
        arrays = {"width": width, "height": height, "colourless": colourless, "dominant": dominant}
        if features is not None:
            arrays["features"] = features
        save_arrays(key, arrays, {"what": "pairing.describe", "images": n, "features": record})
    return description


def _from_arrays(collection: Collection, hashes: list[str], arrays: dict) -> Description:
    return Description(collection.entries, list(hashes), arrays["width"], arrays["height"], arrays["colourless"],
                       arrays["dominant"], arrays.get("features"))


def _vgg_model(settings: FeatureSettings, device: str):
    from bench.features.vgg import VGGFeatures

    return VGGFeatures([settings.layer]).to(resolve_device(device))


def _batch_vectors(items: list[dict], settings: FeatureSettings, model) -> np.ndarray | None:
    if not items or settings.name is None:
        return None
    if settings.name == "histogram":
        return np.stack([item["descriptor"] for item in items])
    device = next(model.parameters()).device
    pixels = torch.stack([item["pixels"] for item in items]).to(device).expand(-1, 3, -1, -1)
    with torch.no_grad():
        activation = model(pixels)[settings.layer]
    if activation.ndim == 4:  # a convolutional layer: average over space
        activation = activation.mean(dim=(2, 3))
    return activation.float().cpu().numpy()
