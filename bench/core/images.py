"""Read any common image into RGB uint8; write PNGs atomically.

Policy for the odd cases (documented in the README):

* EXIF orientation is applied, so the array is what a viewer shows.
* 16-bit images (gray or colour) keep their high byte (``value >> 8``), as Pillow does for
  16-bit colour PNGs; gray and colour versions of one picture therefore read the same.
* Gray, bilevel and palette images become three equal channels / their palette colours.
* Transparency (RGBA, LA, palette with a transparent index) is composited over white.
* Floating-point images (TIFF mode F) are refused: their range is not defined.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import atomic_path
from .errors import ImageReadError

__all__ = ["read_rgb", "read_file", "decode_rgb", "decode_rgb_with_info", "ImageInfo", "write_png", "IMAGE_SUFFIXES",
           "list_images"]

#: File suffixes treated as images when a folder is scanned.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def _to_rgb_uint8(im: Image.Image, path) -> np.ndarray:
    if im.mode in _SIXTEEN_BIT_MODES:
        gray16 = np.asarray(im, dtype=np.int64)
        gray8 = np.clip(gray16 >> 8, 0, 255).astype(np.uint8)
        return np.repeat(gray8[..., None], 3, axis=-1)
    if im.mode == "F":
        raise ImageReadError(f"cannot read image {path}: floating-point images are not supported; save it as 8- or "
                             "16-bit PNG")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8).copy()


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file into an ``(H, W, 3)`` uint8 RGB array (see the module's policy).

    Raises:
        ImageReadError: the file is missing or cannot be decoded; the message names it.
    """
    return decode_rgb(read_file(path), path)


def read_file(path: str | os.PathLike) -> bytes:
    """A file's bytes, or an :class:`ImageReadError` naming it."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(f"cannot read image {path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"cannot read image {path}: it is a folder, not an image file") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read image {path}: {exc.strerror or exc}") from None


def decode_rgb(data: bytes, name: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes (``name`` is used in errors) into ``(H, W, 3)`` uint8 RGB."""
    return decode_rgb_with_info(data, name)[0]


@dataclass(frozen=True)
class ImageInfo:
    """What a file was before decoding: Pillow ``mode`` (``RGB``, ``L``, ``RGBA``, ``I;16``, ``P``,
    ...), container ``format`` (``PNG``, ``JPEG``, ...) and ``bits`` per channel sample."""

    mode: str
    format: str | None
    bits: int


def _bits_per_sample(im: Image.Image) -> int:
    """16 for 16-bit files (Pillow decodes 16-bit colour PNGs straight to 8-bit ``RGB``; only the
    tile's raw mode, e.g. ``RGB;16B``, tells), else 8."""
    if im.mode in _SIXTEEN_BIT_MODES:
        return 16
    raw = " ".join(str(tile[3] if isinstance(tile, tuple) else getattr(tile, "args", "")) for tile in im.tile)
    return 16 if ";16" in raw else 8


def decode_rgb_with_info(data: bytes, name: str | os.PathLike = "<bytes>") -> tuple[np.ndarray, ImageInfo]:
    """:func:`decode_rgb`, also returning the file's :class:`ImageInfo` so callers can report
    conversions (a gray, palette or 16-bit file; a JPEG named ``.png``)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            info = ImageInfo(im.mode, im.format, _bits_per_sample(im))
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb_uint8(im, name), info
    except UnidentifiedImageError:
        raise ImageReadError(f"cannot decode image {name}: not a recognised image format; re-export it as PNG or "
                             "JPEG") from None
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow raises OSError for truncated or corrupt data, SyntaxError for some broken headers.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(f"cannot decode image {name}: {reason}; re-export it as PNG or JPEG") from None


#: zlib level of the PNGs the toolkit writes: 1 is ~2.5x faster than Pillow's default 6 for
#: ~10% larger files (PNG is lossless at every level).
PNG_COMPRESS_LEVEL = 1


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a uint8 ``(H, W)`` or ``(H, W, 3)`` array as PNG, atomically."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"write_png expects uint8 data; got {image.dtype}")
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return Path(path)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder`` (by suffix, case-insensitive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"image folder {folder} does not exist or is not a folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
