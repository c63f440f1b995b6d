"""DataLoader workers end when their parent is killed (kill -9), for every DataLoader we build."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# A parent that starts two workers stuck in a long __getitem__ and then waits: the situation in
# which torch's own watchdog never runs (a worker busy inside an item).
_PARENT = """
import os, sys, time
sys.path.insert(0, {repo!r})
from torch.utils.data import Dataset
from bench.core.workers import data_loader

class Slow(Dataset):
    def __len__(self):
        return 8
    def __getitem__(self, i):
        print("worker", os.getpid(), flush=True)
        time.sleep(600)
        return i

loader = data_loader(Slow(), batch_size=None, num_workers=2{extra})
for _ in loader:
    pass
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped) does not count
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _workers_after_parent_killed(extra: str = "") -> list[int]:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT.format(repo=str(REPO), extra=extra)],
                              stdout=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline:
            line = parent.stdout.readline()
            found = re.match(r"worker (\d+)", line)
            if found:
                workers.append(int(found.group(1)))
        assert len(workers) == 2, "the workers never started"
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        return [pid for pid in workers if _alive(pid)]
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="POSIX process semantics")
def test_workers_die_with_a_killed_parent():
    assert _workers_after_parent_killed() == []


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="POSIX process semantics")
def test_a_user_worker_init_fn_still_runs_and_workers_still_die():
    extra = ", worker_init_fn=lambda i: print('init', i, flush=True)"
    assert _workers_after_parent_killed(extra) == []


def test_every_dataloader_in_the_toolkit_uses_data_loader():
    """No module builds a torch DataLoader directly: each goes through bench.core.workers.data_loader."""
    direct = []
    for package in ("bench", "pairing", "baselines", "reference_models", "leaderboards"):
        for path in (REPO / package).rglob("*.py"):
            if path.name == "workers.py" and path.parent.name == "core":
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"\bDataLoader\(", text):
                direct.append(str(path.relative_to(REPO)))
    assert direct == []
