"""The processes of a run: dividing work, agreeing through the store, failing together, and the CLI's
handling of commands under a launcher. Two :class:`World` s over one real TCPStore (threads stand in
for processes) exercise the agreement; the end-to-end runs under ``torchrun`` live beside each
command's tests (``test_*torchrun*.py``, ``test_two_processes_*``)."""

from __future__ import annotations

import threading
import time

import pytest

from bench.core import distributed
from bench.core.distributed import PeerFailed, World


@pytest.fixture
def pair_of_worlds():
    """Rank 0 and rank 1 of a two-process run, each with its own client of one TCPStore."""
    import torch.distributed as dist

    host = dist.TCPStore("127.0.0.1", 0, 2, True, wait_for_workers=False)
    client = dist.TCPStore("127.0.0.1", host.port, 2, False)
    return [World(rank, 2, rank, dist.PrefixStore("colorbench", store)) for rank, store in enumerate((host, client))]


def both(worlds, action):
    """Run ``action(world)`` in each world at once (a thread each); their results, or their exceptions."""
    results = [None, None]

    def run(rank):
        try:
            results[rank] = action(worlds[rank])
        except Exception as exc:  # returned for the test to inspect
            results[rank] = exc

    threads = [threading.Thread(target=run, args=(rank,)) for rank in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a process was left waiting"
    return results


def test_a_single_process_does_everything_and_waits_for_nothing():
    world = World()
    assert not world.active and world.is_main
    assert world.shard(list("abcde")) == list("abcde") and world.take(3) == [0, 1, 2]
    world.barrier()
    world.check_peers()
    assert world.broadcast({"a": 1}) == {"a": 1} and world.gather(7) == [7] and world.count("x", 5) == 5
    assert world.fail("anything") is True and not world.peer_failed()


def test_outside_a_launcher_the_world_is_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(distributed, "_WORLD", None)
    assert distributed.world().size == 1 and not distributed.launched() and distributed.local_rank() == 0
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert distributed.launched() and distributed.local_rank() == 3


def test_work_is_dealt_round_robin_and_covers_everything_once():
    worlds = [World(rank, 3) for rank in range(3)]
    items = list(range(10))
    shards = [world.shard(items) for world in worlds]
    assert sorted(sum(shards, [])) == items and shards[1] == [1, 4, 7]
    # take() continues the deal across calls: ten one-unit calls still reach every process
    taken = [[sum(1 for _ in world.take(1)) for _ in range(10)] for world in worlds]
    assert [sum(t) for t in taken] == [4, 3, 3] and all(sum(col) == 1 for col in zip(*taken))


def test_barrier_broadcast_gather_and_counts(pair_of_worlds):
    arrived = []

    def meet(world):
        if world.rank == 1:
            time.sleep(0.3)  # the main process must wait for it
        arrived.append(world.rank)
        world.barrier()
        assert sorted(arrived) == [0, 1]  # nobody passes before everybody arrived
        value = world.broadcast({"done": ["a", "b"]} if world.is_main else None)
        gathered = world.gather({"rank": world.rank})
        world.count("pairs", 5 + world.rank)
        world.barrier()
        time.sleep(0.6)  # past the rate limit: the main process reads the others' counts again
        return value, gathered, world.count("pairs", 5 + world.rank)

    (value0, gathered0, count0), (value1, gathered1, count1) = both(pair_of_worlds, meet)
    assert value0 == value1 == {"done": ["a", "b"]}
    assert gathered0 == [{"rank": 0}, {"rank": 1}] and gathered1 is None
    assert count0 == 5 + 6 and count1 == 6


def test_a_failure_stops_the_waiting_peer_and_is_shown_once(pair_of_worlds):
    def run(world):
        if world.rank == 1:
            time.sleep(0.2)
            return world.fail("image x.png is broken")
        world.barrier()  # waits for a process that will never come

    waiting, shown = both(pair_of_worlds, run)
    assert isinstance(waiting, PeerFailed) and "rank 1: image x.png is broken" in str(waiting)
    assert shown is True and pair_of_worlds[0].fail(str(waiting)) is False  # the peer shows nothing
    assert pair_of_worlds[0].peer_failed()
    with pytest.raises(PeerFailed):
        pair_of_worlds[0].check_peers()


def test_a_command_that_runs_in_one_process_refuses_a_launcher(monkeypatch, capsys):
    from bench.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["weights", "list"]) == 2
    assert capsys.readouterr().err.strip() == ("colorbench weights: error: this command runs in one process; "
                                              "start it without torchrun")
    monkeypatch.setenv("RANK", "1")  # the other processes say nothing: the main one said it
    assert main(["weights", "list"]) == 2 and capsys.readouterr().err == ""


def test_usage_errors_are_printed_by_the_main_process_only(monkeypatch, capsys):
    from bench.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank, printed in (("1", False), ("0", True)):
        monkeypatch.setenv("RANK", rank)
        with pytest.raises(SystemExit) as stop:
            main(["score"])
        assert stop.value.code == 2 and ("arguments are required" in capsys.readouterr().err) is printed
