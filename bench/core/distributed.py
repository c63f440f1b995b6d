"""Several processes of one command, launched by ``torchrun``: who this process is, where it runs,
and how the processes agree (barriers, small messages, failures).

Every heavy command (``pairs``, ``score``, ``colorize``, ``baseline``, ``train``) runs unchanged
under ``torchrun --nproc_per_node N $(which colorbench) COMMAND ...`` (one node or several with
``--nnodes M --rdzv-backend c10d --rdzv-endpoint HOST:PORT``): :func:`world` reads the launcher's
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) once, joins
the ``torch.distributed`` process group (NCCL for CUDA tensors and gloo for CPU tensors when a GPU
is present, gloo alone otherwise) and returns the :class:`World`. Outside a launcher it is a world
of one process, whose every method is a no-op, so a command's code reads the same either way.

What the commands exchange is small (which pairs are done, cache keys, "I am here"), so it goes
through the process group's key-value store rather than tensor collectives: that is what lets
every wait also watch for a failed peer. Large data (features, per-image values, outputs) goes
through the shared file system the commands already write to (the content-keyed cache, the
scorer's checkpoints, the outputs folder), which multi-node runs therefore need.

**Failures.** A process that fails announces it in the store (:meth:`World.fail`); the first
announcement is the one the user sees (one line, from the process that found the problem), and
every other process stops at its next :meth:`World.check_peers` or wait with :class:`PeerFailed`,
printing nothing, and exits with the same code 2. A process that ``torchrun`` terminates after a
peer failed (its agent stops the others once one exits) exits with code 2 too, so no process is
left waiting at a barrier and every exit code says the same thing.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .errors import USAGE_EXIT_CODE, ColorbenchError

__all__ = ["PeerFailed", "World", "fails_together", "launched", "local_rank", "world"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable)

#: Longest pause between two looks at the store while waiting (a wait starts at 1 ms and backs off).
_MAX_POLL_SECONDS = 0.1
#: :meth:`World.check_peers` asks the store at most this often (it is called per item in loops).
_CHECK_SECONDS = 0.5
_FAILED = "failed"  # counter: how many processes announced a failure
_FAILURE = "failure"  # the first announcement, "rank R: message"


class PeerFailed(ColorbenchError):
    """Another process of this run failed; this one stops. The CLI prints nothing for it (the
    failing process already printed its line) and exits with code 2."""


def launched() -> bool:
    """Whether this process is one of several started by a launcher (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``; 0 outside a launcher): the GPU it uses."""
    try:
        return int(os.environ.get("LOCAL_RANK", "0")) if launched() else 0
    except ValueError:
        return 0


class World:
    """The processes of one run (a single one outside a launcher).

    Attributes:
        rank: this process's index among all (0 = the main process, which writes shared files).
        size: how many processes run.
        local_rank: its index on its machine.
    """

    def __init__(self, rank: int = 0, size: int = 1, local_rank: int = 0, store=None):
        self.rank, self.size, self.local_rank, self.store = rank, size, local_rank, store
        self._sequence = 0  # barriers and messages are numbered in the order every process calls them
        self._assigned = 0  # units handed out by take(), across calls
        self._last_check = 0.0
        self._counts: dict[str, tuple[float, int]] = {}  # name -> (when last exchanged, the others' sum)
        self._failure_shown: bool | None = None

    def __repr__(self) -> str:
        return f"World(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"

    @property
    def active(self) -> bool:
        """More than one process runs."""
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """This is the process that writes what is shared (rank 0; the only one outside a launcher)."""
        return self.rank == 0

    # -- dividing work -------------------------------------------------------------------------

    def shard(self, items: Sequence[T]) -> list[T]:
        """This process's share of ``items``: every ``size``-th one from its rank on. Deterministic,
        so every process knows every other's share; an interleaved share balances items of
        different cost (image sizes) better than contiguous blocks."""
        return list(items[self.rank::self.size])

    def take(self, count: int) -> list[int]:
        """This process's indices among the next ``count`` units of work, continuing a round robin
        across calls: work split into many small calls (one per class) still spreads over every
        process. Every process must make the same calls in the same order."""
        mine = [i for i in range(count) if (self._assigned + i) % self.size == self.rank]
        self._assigned += count
        return mine

    # -- agreeing ------------------------------------------------------------------------------

    def _next_key(self, kind: str) -> str:
        self._sequence += 1
        return f"{kind}/{self._sequence}"

    def _wait(self, ready) -> None:
        """Poll ``ready()`` until true, stopping with :class:`PeerFailed` when a peer failed."""
        pause = 0.001
        while not ready():
            self._raise_if_failed()
            time.sleep(pause)
            pause = min(pause * 2, _MAX_POLL_SECONDS)

    def barrier(self) -> None:
        """Wait until every process got here (or stop with :class:`PeerFailed`)."""
        if not self.active:
            return
        key = self._next_key("barrier")
        self.store.add(key, 1)
        self._wait(lambda: self.store.add(key, 0) >= self.size)

    def broadcast(self, value: Any = None) -> Any:
        """Rank 0's ``value`` (JSON data), on every process."""
        if not self.active:
            return value
        key = self._next_key("broadcast")
        if self.is_main:
            self.store.set(key, json.dumps(value))
            return value
        self._wait(lambda: self.store.check([key]))
        return json.loads(self.store.get(key))

    def gather(self, value: Any) -> list | None:
        """Every process's ``value`` (JSON data), in rank order, on rank 0 (None elsewhere)."""
        if not self.active:
            return [value]
        key = self._next_key("gather")
        self.store.set(f"{key}/{self.rank}", json.dumps(value))
        if not self.is_main:
            return None
        keys = [f"{key}/{rank}" for rank in range(self.size)]
        self._wait(lambda: self.store.check(keys))
        return [json.loads(self.store.get(k)) for k in keys]

    def count(self, name: str, value: int) -> int:
        """``value`` (this process's count of ``name``, e.g. pairs scored) summed over the processes,
        for the main process's progress bar: each reports its count at most every half second, so
        the others' part may lag by that much. A single process gets ``value`` back."""
        if not self.active:
            return value
        now = time.monotonic()
        last_time, others = self._counts.get(name, (-_CHECK_SECONDS, 0))
        if now - last_time >= _CHECK_SECONDS:
            if self.is_main:
                keys = [f"count/{name}/{rank}" for rank in range(1, self.size)]
                others = sum(int(self.store.get(key)) for key in keys if self.store.check([key]))
            else:
                self.store.set(f"count/{name}/{self.rank}", str(value))
            self._counts[name] = (now, others)
        return value + others

    # -- failing together ----------------------------------------------------------------------

    def _raise_if_failed(self) -> None:
        try:
            failed = self.store.check([_FAILED])
        except Exception:  # the store is gone: its host (the launcher or rank 0) ended
            raise PeerFailed("stopped: the process hosting this run's store ended") from None
        if failed:
            raise PeerFailed(f"stopped because another process failed: {self.store.get(_FAILURE).decode()}")

    def check_peers(self) -> None:
        """Stop with :class:`PeerFailed` if another process failed. Cheap enough to call per item of
        a loop: it asks the store at most every half second."""
        if not self.active:
            return
        now = time.monotonic()
        if now - self._last_check >= _CHECK_SECONDS:
            self._last_check = now
            self._raise_if_failed()

    def fail(self, message: str) -> bool:
        """Announce that this process failed with ``message``; returns whether this announcement is
        the one to show the user (the first of the run; a process stopped by :class:`PeerFailed`
        shows nothing). From here on, a termination by the launcher exits with code 2."""
        if not self.active:
            return True
        if self._failure_shown is None:
            _exit_on_terminate(USAGE_EXIT_CODE)
            try:
                first = self.store.add(_FAILED, 1) == 1
                if first:
                    self.store.set(_FAILURE, f"rank {self.rank}: {message}")
            except Exception:
                first = True  # no store to agree through: say it rather than stay silent
            self._failure_shown = first
        return self._failure_shown

    def exit_failed(self) -> None:
        """End this process now with code 2, after :meth:`fail`: without the interpreter's shutdown,
        during which a termination by the launcher (it stops the others once one process exited)
        would end the process as killed instead."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(USAGE_EXIT_CODE)

    def peer_failed(self) -> bool:
        """Whether some process of this run announced a failure."""
        if not self.active:
            return False
        try:
            return bool(self.store.check([_FAILED]))
        except Exception:
            return True


def _exit_on_terminate(code: int) -> None:
    """Exit with ``code`` on SIGTERM: the launcher stops the remaining processes once one has exited,
    and a process stopped that way after an announced failure failed for the same reason."""
    def handler(signum, frame):
        sys.stderr.flush()
        os._exit(code)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: keep the default
        pass


def _on_terminate(signum, frame) -> None:
    """SIGTERM before this process failed itself: exit 2 when a peer's failure is the cause (the
    launcher stops the others once the failing one exited), else end as a plain SIGTERM would."""
    current = _WORLD
    if current is not None and current.peer_failed():
        sys.stderr.flush()
        os._exit(USAGE_EXIT_CODE)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


_WORLD: World | None = None


def _backend() -> str:
    import torch

    # gloo carries CPU tensors (and is the only backend on a CPU-only machine); NCCL carries CUDA
    # tensors (DDP's gradients) when a GPU is present.
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


def _join() -> World:
    import atexit

    import torch
    import torch.distributed as dist

    if dist.is_initialized():  # the caller's own script joined the process group already
        store, rank, size = dist.distributed_c10d._get_default_store(), dist.get_rank(), dist.get_world_size()
    else:
        try:
            store, rank, size = next(dist.rendezvous("env://"))
        except (RuntimeError, ValueError) as exc:
            raise ColorbenchError(f"could not join the other processes of this run ({exc}); start it with "
                                  "torchrun (see the README's 'Scaling out')") from None
        dist.init_process_group(_backend(), store=dist.PrefixStore("default_pg", store), rank=rank, world_size=size)
        atexit.register(_leave)
    joined = World(rank, size, local_rank(), dist.PrefixStore("colorbench", store))
    if torch.cuda.is_available():
        torch.cuda.set_device(joined.local_rank % torch.cuda.device_count())
    try:
        signal.signal(signal.SIGTERM, _on_terminate)
    except ValueError:  # not the main thread
        pass
    return joined


def _leave() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def world() -> World:
    """This run's :class:`World`: joined on the first call under a launcher (``WORLD_SIZE`` > 1),
    a world of one process otherwise."""
    global _WORLD
    if _WORLD is None:
        _WORLD = _join() if launched() else World()
    return _WORLD


def fails_together(function: F) -> F:
    """Decorate a public function whose processes wait for each other: an exception escaping it in
    one process is announced (:meth:`World.fail`) before it propagates, so the others stop with
    :class:`PeerFailed` instead of waiting for a process that is gone. A no-op outside a launcher."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except PeerFailed:
            raise
        except BaseException as exc:
            current = _WORLD
            if current is not None and current.active:
                current.fail(str(exc) if isinstance(exc, ColorbenchError) else f"{type(exc).__name__}: {exc}")
            raise

    return wrapper
