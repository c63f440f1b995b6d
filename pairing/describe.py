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
from typing import Callable

import numpy as np

from bench.core.cache import cache_key, load_arrays, save_arrays, sha256_bytes
from bench.core.color import rgb_to_gray
from bench.core.device import resolve_device
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.images import decode_rgb, read_file
from bench.core.lazy import lazy_import
from bench.core.workers import data_loader

from .collection import GRAY_SPREAD, Collection, Description

torch = lazy_import("torch")
F = lazy_import("torch.nn.functional")

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


def decode_and_measure(path, index: int) -> tuple[dict, np.ndarray | None]:
    """Decode one image and measure what the filters need: ``(item, gray)``.

    ``item`` holds ``index``, ``sha256``, ``width``, ``height``, ``colourless`` and ``dominant``
    (or ``index`` and ``error`` when the file is missing or undecodable; ``gray`` is then None);
    ``gray`` is the uint8 ``(H, W)`` gray image every ranking descriptor starts from.
    """
    try:
        data = read_file(path)
        rgb = decode_rgb(data, path)
    except ImageReadError as exc:
        return {"index": index, "error": str(exc)}, None
    gray = rgb_to_gray(rgb)[..., 0]
    spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    item = {"index": index, "sha256": sha256_bytes(data), "width": rgb.shape[1], "height": rgb.shape[0],
            "colourless": float((spread <= GRAY_SPREAD).mean()),
            "dominant": float(np.bincount(gray.ravel(), minlength=256).max() / gray.size)}
    return item, gray


def rank_pixels(gray: np.ndarray) -> torch.Tensor:
    """The network input of a uint8 gray image: ``(1, 224, 224)`` float in [0, 1], antialiased."""
    pixels = torch.from_numpy(gray).float()[None, None] / 255.0
    return F.interpolate(pixels, size=(RANK_SIDE, RANK_SIDE), mode="bilinear", antialias=True, align_corners=False)[0]


class _PassDataset:
    """Decodes image ``i`` and adds ``extras(gray)``: per-image arrays computed in the worker."""

    def __init__(self, files: list, extras: Callable[[np.ndarray], dict] | None):
        self.files = files
        self.extras = extras

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict:
        item, gray = decode_and_measure(self.files[i], i)
        if gray is not None and self.extras is not None:
            item.update(self.extras(gray))
        return item


def collate_items(items: list[dict]) -> list[dict]:
    """Batches stay lists of dicts: items differ in keys (errors) and image sizes."""
    return items


def content_hashes(collection: Collection, progress: bool) -> list[str | None]:
    """SHA-256 of every file's bytes (None where unreadable): the cache keys' raw material."""
    from tqdm.auto import tqdm

    hashes = []
    for entry in tqdm(collection.entries, desc="hashing", unit="image", disable=not progress, leave=False):
        try:
            hashes.append(sha256_bytes(read_file(collection.file(entry))))
        except ImageReadError:
            hashes.append(None)
    return hashes


_STATS = ("width", "height", "colourless", "dominant")


def describe_pass(collection: Collection, cache_kind: str, record: dict | None,
                  extras: Callable[[np.ndarray], dict] | None = None,
                  network: Callable[[list[dict]], dict[str, np.ndarray]] | None = None, batch_size: int = 32,
                  workers: int | None = None, progress: bool = True,
                  label: str = "describing") -> tuple[Description, dict[str, np.ndarray]]:
    """The one decoding pass every descriptor runs through.

    Each image is read, hashed and decoded exactly once (DataLoader workers), measured for the
    filters, and given to ``extras`` (in the worker: gray image -> dict of per-image arrays);
    each batch of decoded items then goes to ``network`` (in this process: items -> dict of
    ``(B, ...)`` arrays). Keys starting with ``_`` are inputs for ``network``, not kept.

    The result is cached under ``cache_kind`` + every image's content hash + ``record`` (the
    settings, weight checksums included), so a second pass over the same images decodes nothing.

    Returns:
        the :class:`Description` (``features`` left None) and ``{name: (N, ...) array}`` of
        everything ``extras`` and ``network`` produced (rows of unreadable images are zeros).
    """
    from tqdm.auto import tqdm

    hashes = content_hashes(collection, progress)
    key = None
    if all(h is not None for h in hashes):
        key = cache_key(cache_kind, hashes=hashes, features=record, version=DESCRIBE_VERSION, gray_spread=GRAY_SPREAD)
        cached = load_arrays(key)
        if cached is not None:
            description = Description(collection.entries, list(hashes), *(cached[name] for name in _STATS), None)
            return description, {name: array for name, array in cached.items() if name not in _STATS}

    n = len(collection.entries)
    files = [collection.file(entry) for entry in collection.entries]
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    workers = min(workers, -(-n // max(batch_size, 1)))  # no more workers than batches
    loader = data_loader(_PassDataset(files, extras), batch_size=batch_size, num_workers=workers,
                        collate_fn=collate_items)
    stats = {"width": np.zeros(n, np.int64), "height": np.zeros(n, np.int64), "colourless": np.zeros(n),
             "dominant": np.zeros(n)}
    sha: list[str] = [""] * n
    unreadable: dict[str, str] = {}
    arrays: dict[str, np.ndarray] = {}

    def keep(name: str, rows: list[int], values) -> None:
        values = np.asarray(values)
        if name not in arrays:
            arrays[name] = np.zeros((n, *values.shape[1:]), values.dtype)
        arrays[name][rows] = values

    with tqdm(total=n, desc=label, unit="image", disable=not progress, leave=False) as bar:
        for batch in loader:
            good = [item for item in batch if "error" not in item]
            for item in batch:
                if "error" in item:
                    unreadable[collection.entries[item["index"]].image_id] = item["error"]
                    continue
                sha[item["index"]] = item["sha256"]
                for name in _STATS:
                    stats[name][item["index"]] = item[name]
            if good:
                rows = [item["index"] for item in good]
                for name in sorted(good[0].keys() - {"index", "sha256", *_STATS}):
                    if not name.startswith("_"):
                        keep(name, rows, np.stack([item[name] for item in good]))
                for name, values in (network(good) if network else {}).items():
                    keep(name, rows, values)
            bar.update(len(batch))
    description = Description(collection.entries, sha, *(stats[name] for name in _STATS), None, unreadable)
    if key is not None and not unreadable:
        save_arrays(key, {**stats, **arrays}, {"what": cache_kind, "images": n, "features": record})
    return description, arrays


def _vgg_inputs(gray: np.ndarray) -> dict:
    return {"_pixels": rank_pixels(gray)}


def _histogram_extras(gray: np.ndarray) -> dict:
    return {"features": histogram_descriptor(gray)}


def describe(collection: Collection, settings: FeatureSettings = FeatureSettings(), device: str = "auto",
             batch_size: int = 32, workers: int | None = None, progress: bool = True) -> Description:
    """Filter statistics and ranking descriptors (``settings``) of every image, in one
    :func:`describe_pass` (cached)."""
    record = settings.record()  # fails early, naming the weight file, when VGG19 is missing
    network = extras = None
    if settings.name == "vgg19":
        model = _vgg_model(settings, device)
        extras = _vgg_inputs

        def network(items: list[dict]) -> dict[str, np.ndarray]:
            pixels = torch.stack([item["_pixels"] for item in items])
            return {"features": _vgg_vectors(model, settings.layer, pixels)}
    elif settings.name == "histogram":
        extras = _histogram_extras
    description, arrays = describe_pass(collection, "describe", record, extras, network, batch_size, workers,
                                        progress, label=f"describing ({settings.name or 'filters'})")
    description.features = arrays.get("features")
    return description


def _vgg_model(settings: FeatureSettings, device: str):
    from bench.features.vgg import VGGFeatures

    return VGGFeatures([settings.layer]).to(resolve_device(device))


def _vgg_vectors(model, layer: str, pixels: torch.Tensor) -> np.ndarray:
    """Gray ``(B, 1, 224, 224)`` -> ``(B, C)`` ranking vectors (conv layers averaged over space)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        activation = model(pixels.to(device).expand(-1, 3, -1, -1))[layer]
    if activation.ndim == 4:
        activation = activation.mean(dim=(2, 3))
    return activation.float().cpu().numpy()
