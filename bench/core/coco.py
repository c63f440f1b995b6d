"""COCO-format annotation files: loading with clear errors, and decoded masks.

Object coverage is always computed from the DECODED mask, never from the ``area`` field (which
in COCO is the polygon area and differs from the rasterised mask).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from .errors import ColorbenchError

__all__ = ["load_coco", "decode_mask", "encode_mask", "decode_rle"]

_REQUIRED_KEYS = ("images", "annotations", "categories")


def load_coco(path: str | os.PathLike) -> COCO:
    """Load a COCO instances file; a missing, corrupt or incomplete file gives a one-line error."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ColorbenchError(f"annotation file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ColorbenchError(f"annotation file {path} is not valid JSON ({exc}); re-export it") from None
    if not isinstance(data, dict) or any(key not in data for key in _REQUIRED_KEYS):
        raise ColorbenchError(f"annotation file {path} is not in COCO format: it needs the keys "
                              f"{', '.join(_REQUIRED_KEYS)}")
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress chatter
        try:
            coco.createIndex()
        except (KeyError, TypeError) as exc:
            raise ColorbenchError(f"annotation file {path} has a malformed entry (missing {exc}); fix or "
                                  "re-export it") from None
    return coco


def decode_mask(coco: COCO, annotation: dict) -> np.ndarray:
    """The annotation's mask as an ``(H, W)`` bool array (polygons, RLE or uncompressed RLE)."""
    return coco.annToMask(annotation).astype(bool)


def decode_rle(rle: dict | str) -> np.ndarray:
    """A mask from :func:`encode_mask`'s output (or its JSON text) as an ``(H, W)`` bool array."""
    if isinstance(rle, str):
        rle = json.loads(rle)
    counts = rle["counts"].encode("ascii") if isinstance(rle["counts"], str) else rle["counts"]
    return mask_utils.decode({"size": list(rle["size"]), "counts": counts}).astype(bool)


def encode_mask(mask: np.ndarray) -> dict:
    """A bool ``(H, W)`` mask as compressed COCO RLE with a str ``counts`` (JSON/Parquet-friendly)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}
