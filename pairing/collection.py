"""Photo collections: what a split is built from, scanned once and described in one pass.

A collection is a folder of images (optionally with class subfolders) or a COCO instances file
plus its image folder. :func:`describe` decodes every image exactly once (DataLoader workers)
and returns, per image, its content hash, size, the statistics the filters need, and the
ranking descriptor; the result is cached on disk keyed by the images' content and every
setting, so a second build on the same collection decodes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.coco import load_coco
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.images import IMAGE_SUFFIXES, list_images
from bench.core.splits import unique_ids

__all__ = ["ImageEntry", "Collection", "folder_collection", "coco_collection", "FilterSettings", "Description",
           "GRAY_SPREAD"]

#: A pixel whose R, G and B differ by at most this many levels counts as colourless.
GRAY_SPREAD = 3


@dataclass(frozen=True)
class ImageEntry:
    """One image of a collection.

    Attributes:
        image_id: file-name-safe id (from the relative path, or the COCO file name).
        path: path relative to the collection's root.
        coco_id: the COCO image id, when the collection comes from a COCO file.
        label: class index, when the collection has classes.
        group: class folder name (e.g. an ImageNet wnid), when the collection has one.
    """

    image_id: str
    path: str
    coco_id: int | None = None
    label: int | None = None
    group: str | None = None


@dataclass
class Collection:
    root: Path
    entries: list[ImageEntry]
    coco: object | None = None  # pycocotools COCO, for object-level builders
    annotations_sha256: str | None = None

    def file(self, entry: ImageEntry) -> Path:
        return self.root / entry.path


@dataclass(frozen=True)
class FilterSettings:
    """The image filters of SPColor's protocol, on by default.

    Attributes:
        enabled: apply them at all.
        min_size: drop images whose short side is below this many pixels.
        gray_fraction: drop images where at least this share of pixels is colourless (channels
            within :data:`GRAY_SPREAD` levels of each other: JPEG noise on a gray photo).
        mono_fraction: drop images where one gray value covers more than this share of pixels.
    """

    enabled: bool = True
    min_size: int = 256
    gray_fraction: float = 0.99
    mono_fraction: float = 0.80

    def reasons(self, width: int, height: int, colourless: float, dominant: float) -> list[str]:
        if not self.enabled:
            return []
        reasons = []
        if min(width, height) < self.min_size:
            reasons.append("small")
        if colourless >= self.gray_fraction:
            reasons.append("grayscale")
        if dominant > self.mono_fraction:
            reasons.append("near-monochrome")
        return reasons


def folder_collection(root: str | os.PathLike, recursive: bool = False) -> Collection:
    """Every image in ``root`` (and its subfolders when ``recursive``; the first folder level
    then becomes the image's ``group``, e.g. an ImageNet class folder)."""
    root = Path(root)
    if not root.is_dir():
        raise ColorbenchError(f"image folder {root} does not exist or is not a folder")
    if recursive:
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        files = list_images(root)
    relatives = [file.relative_to(root).as_posix() for file in files]
    if not relatives:
        raise ColorbenchError(f"image folder {root} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    ids = unique_ids(relatives)
    entries = [ImageEntry(image_id, relative, group=relative.split("/")[0] if "/" in relative else None)
               for image_id, relative in zip(ids, relatives)]
    return Collection(root, entries)


def coco_collection(annotations: str | os.PathLike, images_root: str | os.PathLike) -> Collection:
    """The images listed in a COCO instances file, found under ``images_root``."""
    from bench.core.weights import file_sha256

    images_root = Path(images_root)
    if not images_root.is_dir():
        raise ColorbenchError(f"image folder {images_root} does not exist or is not a folder")
    coco = load_coco(annotations)
    infos = sorted(coco.dataset["images"], key=lambda i: i["id"])
    for info in infos:
        if not str(info.get("file_name", "")):
            raise ColorbenchError(f"annotation file {annotations}: image id {info['id']} has no file_name")
    if not infos:
        raise ColorbenchError(f"annotation file {annotations} lists no images")
    names = [str(info["file_name"]) for info in infos]
    ids = unique_ids(names)
    entries = [ImageEntry(image_id, name, coco_id=int(info["id"])) for image_id, name, info in zip(ids, names, infos)]
    return Collection(images_root, entries, coco=coco, annotations_sha256=file_sha256(annotations))


@dataclass
class Description:
    """What :func:`describe` learned about each entry (arrays aligned with ``entries``)."""

    entries: list[ImageEntry]
    sha256: list[str]
    width: np.ndarray
    height: np.ndarray
    colourless: np.ndarray
    dominant: np.ndarray
    features: np.ndarray | None
    unreadable: dict[str, str] = field(default_factory=dict)  # image_id -> one-line reason

    def index(self) -> dict[str, int]:
        return {entry.image_id: i for i, entry in enumerate(self.entries)}

    def filter_reasons(self, settings: FilterSettings) -> dict[str, list[str]]:
        """image_id -> reasons it is dropped (only dropped images appear)."""
        dropped = {}
        for i, entry in enumerate(self.entries):
            if entry.image_id in self.unreadable:
                continue
            reasons = settings.reasons(int(self.width[i]), int(self.height[i]), float(self.colourless[i]),
                                       float(self.dominant[i]))
            if reasons:
                dropped[entry.image_id] = reasons
        return dropped


def unreadable_error(description: Description, collection: Collection) -> ImageReadError:
    reason = next(iter(description.unreadable.values()))  # already names the file
    count = len(description.unreadable)
    more = f" (and {count - 1} more)" if count > 1 else ""
    return ImageReadError(f"{reason}{more}; fix or remove the file(s), or pass --skip-unreadable to leave them out")
