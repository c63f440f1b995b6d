"""The bundled demo set: real colour photographs with a hand-checked COCO instances file.

See ``README.md`` in this folder for each photograph's source and licence.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["demo_images_dir", "demo_annotations_path"]


def demo_images_dir() -> Path:
    """Folder of the bundled demo photographs."""
    return Path(str(files(__name__) / "images"))


def demo_annotations_path() -> Path:
    """The bundled COCO instances file describing the demo photographs' objects."""
    return Path(str(files(__name__) / "annotations.json"))
