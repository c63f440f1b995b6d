"""Checks on the paths a command reads and writes, made before any work starts.

* :func:`check_output_dir` / :func:`check_output_file`: a command's output path is usable (not a
  file where a folder is wanted or the reverse, no file in the way of its parent folders, the
  nearest existing folder writable), so a run never fails after the work is done.
* :func:`resolve_inside`: a path recorded in a split, joined to its root, stays inside the root;
  a hand-edited ``../../etc/passwd`` is refused with a message that says so.
* :class:`exclusive_lock`: one run at a time per output folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .atomic import public_mode
from .errors import ColorbenchError

__all__ = ["check_output_dir", "check_output_file", "leaves_root", "resolve_inside", "exclusive_lock", "LOCK_FILE"]

#: The lock file a run holds in its output folder (empty but for the holder's pid).
LOCK_FILE = ".colorbench.lock"


def _check_parents(path: Path, option: str) -> None:
    """Every existing ancestor of ``path`` is a folder, and the nearest one is writable."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ColorbenchError(f"{option} {path}: {parent} is a file, not a folder; choose another path")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ColorbenchError(f"{option} {path}: the folder {parent} is not writable; choose another path")
            return


def check_output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` can be (or already is) a folder this process writes into; returns it."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise ColorbenchError(f"{option} {path} is a file; it must be a folder (or not exist yet)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ColorbenchError(f"{option} {path} is not writable; choose another folder")
        return path
    _check_parents(path, option)
    return path


def check_output_file(path: str | os.PathLike, option: str = "--out", suffixes: tuple[str, ...] = ()) -> Path:
    """``path`` can be written as a file (it is not a folder; its folder can be made); returns it.

    Args:
        suffixes: accepted file suffixes (lower case, with the dot); empty: any.
    """
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise ColorbenchError(f"{option} {path} must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise ColorbenchError(f"{option} {path} is a folder; it must be a file path")
    _check_parents(path, option)
    return path


def leaves_root(relative: str) -> bool:
    """Whether a path recorded relative to a root leaves it by its text alone (absolute, or ``..``)."""
    return Path(relative).is_absolute() or ".." in Path(relative).parts


def resolve_inside(root: str | os.PathLike, relative: str, what: str) -> Path:
    """``root / relative``, refusing a ``relative`` that leaves ``root`` (absolute, ``..``, or a
    symlink pointing outside). ``what`` names the path in the error (e.g. "pair x: target_path")."""
    root = Path(root)
    candidate = root / relative
    if leaves_root(relative):
        raise ColorbenchError(f"{what} {relative!r} is not inside its root {root}; splits record paths relative "
                              "to their root: rebuild the split")
    try:
        inside = candidate.resolve().is_relative_to(root.resolve())
    except OSError:
        inside = True  # unresolvable (e.g. missing): the read that follows names the file
    if not inside:
        raise ColorbenchError(f"{what} {relative!r} resolves to {candidate.resolve()}, outside its root {root}; "
                              "rebuild the split or fix the link")
    return candidate


class exclusive_lock:
    """Hold an exclusive lock on ``folder`` (its :data:`LOCK_FILE`) for a ``with`` block.

    A second holder gets a one-line :class:`ColorbenchError` at once instead of waiting or
    writing into the same files. The lock is the OS's (``flock``): it is released when the
    process ends, however it ends, so a killed run never leaves a stale lock.
    """

    def __init__(self, folder: str | os.PathLike, what: str = "run"):
        self.folder, self.what = Path(folder), what
        self._fd: int | None = None

    def __enter__(self) -> "exclusive_lock":
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, public_mode())
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            holder = path.read_text(errors="replace").strip() or "another process"
            raise ColorbenchError(f"{self.folder} is in use by another colorbench {self.what} (pid {holder}); "
                                  "wait for it to finish, or choose another output folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None


try:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
