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

from bench.core import distributed
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
#: A decoding pass caches, resumes and divides its work in chunks of this many batches.
CHUNK_BATCHES = 8


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


_STATS = ("width", "height", "colourless", "dominant")
#: What a cached chunk holds besides the filter statistics and the descriptors.
_BOOKKEEPING = ("sha256", "unreadable_index", "unreadable_path", "unreadable_reason")


def _hash_or_none(path) -> str | None:
    try:
        return sha256_bytes(read_file(path))
    except ImageReadError:
        return None


def _chunk_arrays(items: list[dict], indices: range, files: list, outputs: dict) -> dict[str, np.ndarray]:
    """What a cached chunk (the images ``indices``) holds: filter statistics, content hashes, the
    unreadable images (row, path, reason) and every descriptor in ``outputs`` (``name -> (rows,
    ...)``; rows of unreadable images are zeros)."""
    size = len(indices)
    arrays = {"width": np.zeros(size, np.int64), "height": np.zeros(size, np.int64), "colourless": np.zeros(size),
              "dominant": np.zeros(size)}
    sha = [""] * size
    unreadable = []
    for item in items:
        row = item["index"] - indices.start
        if "error" in item:
            unreadable.append((row, str(files[item["index"]]), item["error"]))
            continue
        sha[row] = item["sha256"]
        for name in _STATS:
            arrays[name][row] = item[name]
    arrays["sha256"] = np.array(sha, dtype="<U64")
    arrays["unreadable_index"] = np.array([u[0] for u in unreadable], dtype=np.int64)
    arrays["unreadable_path"] = np.array([u[1] for u in unreadable], dtype=str)
    arrays["unreadable_reason"] = np.array([u[2] for u in unreadable], dtype=str)
    return {**arrays, **outputs}


def _describe_chunks(files: list, chunks: dict[int, range], keys: dict[int, str], cache_kind: str, record,
                     extras, network, batch_size: int, workers: int | None, progress: bool, label: str,
                     world) -> dict[int, dict[str, np.ndarray]]:
    """Decode the images of ``chunks`` (chunk -> its image indices) in one DataLoader whose batches
    never cross a chunk, caching each chunk under its key as soon as it is complete."""
    from tqdm.auto import tqdm

    batches = [list(indices[i:i + batch_size]) for indices in chunks.values()
               for i in range(0, len(indices), batch_size)]
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    loader = data_loader(_PassDataset(files, extras), batch_sampler=batches, num_workers=min(workers, len(batches)),
                         collate_fn=collate_items)
    order = iter(chunks)
    chunk = next(order)
    items: list[dict] = []
    outputs: dict[str, list[tuple[list[int], np.ndarray]]] = {}
    done = {}
    with tqdm(total=sum(len(indices) for indices in chunks.values()), desc=label, unit="image",
              disable=not (progress and world.is_main), leave=False) as bar:
        for batch in loader:
            world.check_peers()
            items.extend(batch)
            good = [item for item in batch if "error" not in item]
            if good:
                produced = {name: np.stack([item[name] for item in good])
                            for name in sorted(good[0].keys() - {"index", "sha256", *_STATS})
                            if not name.startswith("_")}
                produced.update(network(good) if network else {})
                rows = [item["index"] for item in good]
                for name, values in produced.items():
                    outputs.setdefault(name, []).append((rows, np.asarray(values)))
            bar.update(len(batch))
            indices = chunks[chunk]
            if len(items) < len(indices):
                continue
            stacked = {}  # the chunk is complete: cache it now, whatever happens to the rest
            for name, parts in outputs.items():
                stacked[name] = np.zeros((len(indices), *parts[0][1].shape[1:]), parts[0][1].dtype)
                for rows, values in parts:
                    stacked[name][np.asarray(rows) - indices.start] = values
            done[chunk] = _chunk_arrays(items, indices, files, stacked)
            save_arrays(keys[chunk], done[chunk], {"what": f"{cache_kind} chunk", "images": len(indices),
                                                   "features": record})
            items, outputs = [], {}
            chunk = next(order, None)
    return done


def _load_chunk(key: str, files: list, indices: range) -> dict[str, np.ndarray] | None:
    """A cached chunk, or None when absent, or when an unreadable image it records has another path now
    (the reason it keeps names the old one)."""
    cached = load_arrays(key)
    if cached is None or not set(_BOOKKEEPING) <= set(cached):
        return None
    for row, path in zip(cached["unreadable_index"].tolist(), cached["unreadable_path"].tolist()):
        if str(files[indices.start + row]) != path:
            return None
    return cached


def _assemble(collection: Collection, chunks: list[range], loaded: list[dict]) -> tuple[Description, dict]:
    """One :class:`Description` and the descriptor arrays from the chunks, in the collection's order."""
    layouts = {}
    for arrays in loaded:
        for name, values in arrays.items():
            if name not in _STATS and name not in _BOOKKEEPING:
                layouts.setdefault(name, (values.shape[1:], values.dtype))
    n = len(collection.entries)
    whole = {name: np.zeros((n, *shape), dtype) for name, (shape, dtype) in layouts.items()}
    unreadable = {}
    for indices, arrays in zip(chunks, loaded):
        for name in layouts.keys() & arrays.keys():  # a chunk where nothing decoded has no descriptors
            whole[name][indices.start:indices.stop] = arrays[name]
        for row, reason in zip(arrays["unreadable_index"].tolist(), arrays["unreadable_reason"].tolist()):
            unreadable[collection.entries[indices.start + row].image_id] = reason
    stats = [np.concatenate([arrays[name] for arrays in loaded]) for name in _STATS]
    sha = [hash_ for arrays in loaded for hash_ in arrays["sha256"].tolist()]
    return Description(collection.entries, sha, *stats, None, unreadable), whole


@distributed.fails_together
def describe_pass(collection: Collection, cache_kind: str, record: dict | None,
                  extras: Callable[[np.ndarray], dict] | None = None,
                  network: Callable[[list[dict]], dict[str, np.ndarray]] | None = None, batch_size: int = 32,
                  workers: int | None = None, progress: bool = True, label: str = "describing", world=None,
                  gather: bool = True) -> tuple[Description, dict[str, np.ndarray]] | None:
    """The one decoding pass every descriptor runs through.

    Each image is read, hashed and decoded exactly once (DataLoader workers), measured for the
    filters, and given to ``extras`` (in the worker: gray image -> dict of per-image arrays);
    each batch of decoded items then goes to ``network`` (in this process: items -> dict of
    ``(B, ...)`` arrays). Keys starting with ``_`` are inputs for ``network``, not kept.

    The images are taken in *chunks* of :data:`CHUNK_BATCHES` batches, each cached on its own under
    ``cache_kind`` + its images' content hashes + ``record`` (the settings, weight checksums
    included): a second pass over the same images decodes nothing, and an interrupted one resumes
    from its last complete chunk. Under ``torchrun`` the chunks are dealt round robin to the
    processes (:meth:`~bench.core.distributed.World.take`); each decodes and caches its own, and
    the main process reads the others' from the cache. Batches never cross a chunk, so an image
    meets the network in the same batch whatever the number of processes.

    Args:
        world: the processes sharing the pass (default: this run's, :func:`bench.core.distributed.world`);
            ``bench.core.distributed.World()`` makes this process do it alone.
        gather: return the result (on the main process). ``False`` only decodes and caches this
            process's chunks: a first pass over many small collections (one per class) that a later
            pass reads back from the cache.

    Returns:
        the :class:`Description` (``features`` left None) and ``{name: (N, ...) array}`` of
        everything ``extras`` and ``network`` produced (rows of unreadable images are zeros); None
        on the other processes of a run, and when ``gather`` is False.
    """
    from tqdm.auto import tqdm

    world = world or distributed.world()
    files = [collection.file(entry) for entry in collection.entries]
    size = max(batch_size, 1) * CHUNK_BATCHES
    chunks = [range(start, min(start + size, len(files))) for start in range(0, len(files), size)]
    keep = gather and world.is_main
    keys, loaded, todo = {}, {}, {}
    for c in tqdm(world.take(len(chunks)), desc="hashing", unit="chunk", disable=not (progress and world.is_main),
                  leave=False):
        hashes = [_hash_or_none(files[i]) for i in chunks[c]]
        keys[c] = cache_key(f"{cache_kind}-chunk", hashes=hashes, features=record, version=DESCRIBE_VERSION,
                            gray_spread=GRAY_SPREAD)
        cached = _load_chunk(keys[c], files, chunks[c])
        if cached is None:
            todo[c] = chunks[c]
        elif keep:
            loaded[c] = cached
    if todo:
        computed = _describe_chunks(files, todo, keys, cache_kind, record, extras, network, batch_size, workers,
                                    progress, label, world)
        if keep:
            loaded.update(computed)
    if not gather:
        return None
    if world.active:
        everyone = world.gather(keys)
        if not world.is_main:
            return None
        for rank_keys in everyone:
            for c, key in rank_keys.items():
                c = int(c)  # JSON keys are strings
                if c not in loaded:
                    loaded[c] = load_arrays(key)
                    if loaded[c] is None:
                        raise ColorbenchError(f"chunk {c} of the decoding pass is missing from the cache ({key}); "
                                              "the processes of a run must share $COLORBENCH_CACHE")
    return _assemble(collection, chunks, [loaded[c] for c in range(len(chunks))])


def _vgg_inputs(gray: np.ndarray) -> dict:
    return {"_pixels": rank_pixels(gray)}


def _histogram_extras(gray: np.ndarray) -> dict:
    return {"features": histogram_descriptor(gray)}


def describe(collection: Collection, settings: FeatureSettings = FeatureSettings(), device: str = "auto",
             batch_size: int = 32, workers: int | None = None, progress: bool = True,
             world=None) -> Description | None:
    """Filter statistics and ranking descriptors (``settings``) of every image, in one
    :func:`describe_pass` (cached; under ``torchrun`` shared by the processes, the result on the
    main process only: None on the others)."""
    record = settings.record()  # fails early, naming the weight file, when VGG19 is missing
    network = extras = None
    if settings.name == "vgg19":
        extras = _vgg_inputs
        model = None

        def network(items: list[dict]) -> dict[str, np.ndarray]:
            nonlocal model
            if model is None:  # built on the first batch: a pass read wholly from the cache needs none
                model = _vgg_model(settings, device)
            pixels = torch.stack([item["_pixels"] for item in items])
            return {"features": _vgg_vectors(model, settings.layer, pixels)}
    elif settings.name == "histogram":
        extras = _histogram_extras
    result = describe_pass(collection, "describe", record, extras, network, batch_size, workers, progress,
                           label=f"describing ({settings.name or 'filters'})", world=world)
    if result is None:
        return None
    description, arrays = result
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
