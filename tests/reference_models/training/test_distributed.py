"""DDP with two gloo processes on the CPU: both ranks end with the same weights, and the loss falls
as in a single process."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
#: enough steps, at a high learning rate, for the loss's fall to show above the batches' noise
STEPS = 12

_RANK = """
import hashlib, json, os, sys
sys.path.insert(0, {repo!r})
os.environ.update(RANK=sys.argv[1], LOCAL_RANK=sys.argv[1], WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                  MASTER_PORT={port!r})
import reference_models.spcolor.training as spcolor_training
from reference_models.training.loop import train

tasks = []  # SPColor's task, to read its discriminator after the run
original_init = spcolor_training.SPColorTask.__init__
spcolor_training.SPColorTask.__init__ = lambda self, *a: (tasks.append(self), original_init(self, *a))[1]
run = train({model!r}, {split!r}, {out!r}, config_file={config!r}, max_steps={steps}, device="cpu", progress=False)
critic = hashlib.sha256()
for value in (tasks[0].discriminator.state_dict().values() if tasks else []):
    critic.update(value.detach().contiguous().view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes())
print(json.dumps({{"digest": run.weights_digest, "critic": critic.hexdigest(), "first": run.first_loss,
                  "last": run.last_loss, "checkpoint": None if run.checkpoint is None else str(run.checkpoint)}}))
"""


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _two_ranks(model: str, split, out, config, steps: int) -> list[dict]:
    """Train ``model`` in two gloo processes; each one's result (weights digests, losses, checkpoint)."""
    import os

    script = _RANK.format(repo=str(REPO), port=_free_port(), model=model, split=str(split), out=str(out),
                          config=str(config), steps=steps)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ranks = [subprocess.Popen([sys.executable, "-c", script, str(rank)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for rank in (0, 1)]
    results = []
    for process in ranks:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gloo on Linux")
def test_two_gloo_ranks_keep_the_same_weights(training_splits, tmp_path, tiny_config, monkeypatch):
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "fast.json"
    tiny = json.loads(tiny_config.read_text())
    config.write_text(json.dumps({**tiny, "task": {**tiny["task"], "lr": 1e-3}}))
    results = _two_ranks("msa", training_splits[0], tmp_path / "run", config, STEPS)
    assert results[0]["digest"] == results[1]["digest"]  # gradients all-reduced, buffers broadcast
    assert results[0]["checkpoint"] and results[1]["checkpoint"] is None  # rank 0 alone writes
    assert json.loads((tmp_path / "run" / "run.json").read_text())["world_size"] == 2
    # the loss falls over the run, in two processes as in one
    from reference_models.training.loop import train

    train("msa", training_splits[0], tmp_path / "single", config_file=config, max_steps=STEPS, device="cpu",
          progress=False)
    for run in ("run", "single"):
        losses = [float(row["loss"]) for row in csv.DictReader((tmp_path / run / "log.csv").open())]
        assert len(losses) == STEPS and sum(losses[-4:]) < sum(losses[:4]), (run, losses)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gloo on Linux")
def test_spcolor_ranks_keep_the_same_networks_discriminator_and_prior(training_splits, tmp_path, random_weights,
                                                                      monkeypatch):
    """SPColor's generator under DDP and its discriminator's gradients averaged by the task: after two
    steps both ranks hold the same networks, k-means centres and discriminator."""
    from tests.reference_models.spcolor.test_training import TINY_SPCOLOR

    random_weights("vgg19")
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "spcolor.json"
    config.write_text(json.dumps({**TINY_SPCOLOR, "batch_size": 1}))
    results = _two_ranks("spcolor", training_splits[0], tmp_path / "run", config, 2)
    assert results[0]["digest"] == results[1]["digest"] and results[0]["critic"] == results[1]["critic"]
    assert results[0]["first"] != results[1]["first"]  # each rank trained on its own shard


def test_the_distributed_sampler_shards_every_epoch(training_splits):
    from bench.core.splits import load_split
    from pairing.sampler import DistributedReferenceSampler, ReferenceSampler

    split = load_split(training_splits[0])
    single = ReferenceSampler(split, seed=3)
    shards = [DistributedReferenceSampler(split, rank, 2, seed=3) for rank in (0, 1)]
    for epoch in (0, 1):
        for sampler in (single, *shards):
            sampler.set_epoch(epoch)
        whole = list(single)
        padded = whole + whole[: len(whole) % 2]
        assert [list(shard) for shard in shards] == [padded[0::2], padded[1::2]]
        assert len(shards[0]) == len(shards[1]) == len(padded) // 2
