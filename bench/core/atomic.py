"""Atomic file writes: a reader sees either the old file or the complete new one, never half.

Every file the toolkit writes goes through here: the content is written to a temporary file in
the destination's folder (same file system, so the final rename is atomic) and renamed over the
destination only when writing succeeded. On failure the temporary file is removed. The file
gets the permissions any other tool would give it (``0o666`` less the process umask), not the
``0o600`` of a private temporary file.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "current_umask", "public_mode"]

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux: /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore it (the only portable way to read it)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def public_mode() -> int:
    """The mode a newly created regular file gets from ``open()``: ``0o666`` less the umask."""
    return 0o666 & ~current_umask()


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write to; it replaces ``path`` when the block exits cleanly.

    Use it with libraries that write by file name (pandas, matplotlib, safetensors, PIL). The
    temporary name keeps ``path``'s suffix (or ``suffix``) so format detection still works.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        # mkstemp creates 0o600 files; the destination should look like any other written file.
        os.chmod(tmp_path, public_mode())
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON (stable bytes for stable content)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
