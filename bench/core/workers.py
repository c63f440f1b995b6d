"""DataLoader workers that end when the process that started them ends.

torch's DataLoader workers notice a dead parent only between items, and not at all while they are
blocked handing a finished item over; after a ``kill -9`` of a command they were seen alive
indefinitely, holding hundreds of MB each (and any lock the command held). Every DataLoader in the
toolkit is built with :func:`data_loader`, whose ``worker_init_fn`` ties each worker's life to
its parent's:

* Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker when its parent dies
  (checked once more right after, in case the parent died before the call took effect);
* elsewhere (macOS, BSD): a daemon thread in the worker polls ``os.getppid()`` every 0.5 s and
  kills the worker when the parent changed (the orphan is re-parented).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import threading
import time
from typing import Any, Callable

__all__ = ["data_loader", "die_with_parent"]

_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 0.5


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_POLL_SECONDS)
    _kill_self()


def die_with_parent(parent_pid: int) -> None:
    """Make the calling process end when process ``parent_pid`` (its parent) ends."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                _kill_self()
            return
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="colorbench-parent-watch", daemon=True).start()


def _init_worker(worker_id: int, parent_pid: int, then: Callable[[int], Any] | None) -> None:
    die_with_parent(parent_pid)
    if then is not None:
        then(worker_id)


def data_loader(dataset, *, num_workers: int = 0, worker_init_fn: Callable[[int], Any] | None = None, **kwargs):
    """A :class:`torch.utils.data.DataLoader` whose workers end with this process (see the
    module docstring); every other argument is DataLoader's own."""
    from torch.utils.data import DataLoader

    if num_workers > 0:
        worker_init_fn = functools.partial(_init_worker, parent_pid=os.getpid(), then=worker_init_fn)
    return DataLoader(dataset, num_workers=num_workers, worker_init_fn=worker_init_fn, **kwargs)
