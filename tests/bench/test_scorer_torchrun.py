"""``colorbench score`` under ``torchrun --nproc_per_node 2`` (gloo, CPU): the same result as one process
(per-image values within 1e-6, set metrics within 1e-6 relative, the same summary apart from the
device fields), a failure in one process stopping both with one line, and a resume after one
process was killed (with two processes or one)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.bench.test_scorer import shifted, write_outputs
from tests.helpers import run_torchrun, torchrun_command

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gloo processes on Linux")

#: Per-image metrics, set metrics (FID, FID infinity), a ground-truth-sided one (delta_his) and a network.
METRICS = "ssim,psnr_ab,delta_his,lpips,fid,fid_inf"
#: Summary fields that say where a run ran, not what it computed.
RUN_FIELDS = ("device", "processes")


@pytest.fixture(scope="module")
def scored_inputs(tiny_coco, tmp_path_factory, build_offline):
    """An image-level and an object-level split of the tiny COCO set, a method's outputs for each, and
    the networks' random stand-ins (in the session's TORCH_HOME)."""
    from pairing import build_image_level, build_object_level

    root = tmp_path_factory.mktemp("torchrun_scoring")

    def build():
        image = build_image_level(tiny_coco[0], features="histogram", top_k=2, synthetic=1, workers=0,
                                  progress=False)
        objects = build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, workers=0, progress=False)
        return image, objects

    image, objects = build_offline(("alexnet", "inception_fid"), build)
    return {name: (split.save(root / f"{name}.parquet"), write_outputs(split, root / f"pred-{name}", shifted))
            for name, split in (("image", image), ("object", objects))}


def _score_args(split, pred, out, *extra, metrics=METRICS):
    return ["score", "--split", split, "--pred", pred, "--out", out, "--metrics", metrics, "--workers", "0",
            "--batch-size", "2", *extra]


def assert_same_result(one: Path, other: Path) -> None:
    """Two results of one scoring: per-image values within 1e-6, set metrics within 1e-6 relative, every
    other field of the summary equal but where the run ran."""
    first, second = (json.loads((path / "summary.json").read_text()) for path in (one, other))
    for key, entry in first["metrics"].items():
        value, got = entry["value"], second["metrics"][key]["value"]
        if entry["output"] == "per_set":
            # FID infinity is an intercept extrapolated from FIDs of random subsets: on these few
            # pairs its spread over repeats (std) dwarfs its value, and float32 noise in the features
            # (another batching) moves it in proportion to that spread, not to the value.
            scale = abs(value) + (entry.get("std") or 0.0)
            assert abs(got - value) <= 1e-6 * scale, (key, value, got, entry.get("std"))
            if entry.get("std") is not None:
                assert abs(second["metrics"][key]["std"] - entry["std"]) <= 1e-6 * scale, key
        else:
            assert got == pytest.approx(value, abs=1e-6), key
            assert second["metrics"][key]["ci95"] == pytest.approx(entry["ci95"], abs=1e-6), key
    strip = ("metrics",)
    assert {k: v for k, v in first.items() if k not in strip and k != "meta"} == \
        {k: v for k, v in second.items() if k not in strip and k != "meta"}
    assert {k: v for k, v in first["meta"].items() if k not in RUN_FIELDS} == \
        {k: v for k, v in second["meta"].items() if k not in RUN_FIELDS}
    assert {k: {f: v for f, v in e.items() if f not in ("value", "ci95", "std")} for k, e in first["metrics"].items()} \
        == {k: {f: v for f, v in e.items() if f not in ("value", "ci95", "std")} for k, e in second["metrics"].items()}
    table, other_table = (pd.read_parquet(path / "per_image.parquet") for path in (one, other))
    assert list(table["pair_id"]) == list(other_table["pair_id"]) and list(table.columns) == list(other_table.columns)
    for column in table.columns[1:]:
        np.testing.assert_allclose(other_table[column], table[column], rtol=0, atol=1e-6, err_msg=column)


@pytest.mark.parametrize("level", ["image", "object"])
def test_two_processes_give_the_one_process_result(scored_inputs, level, tmp_path, cli, monkeypatch, torch_home):
    split, pred = scored_inputs[level]
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache-one"))
    single = cli(*_score_args(split, pred, tmp_path / "one"))
    assert single.returncode == 0, single.stderr
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache-two"))
    launch = run_torchrun(tmp_path / "logs", *_score_args(split, pred, tmp_path / "two"))
    assert launch.returncode == 0 and launch.codes == {0: 0, 1: 0}, launch.output[-3000:]
    assert_same_result(tmp_path / "one", tmp_path / "two")
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["meta"]["processes"] == 2 and not (tmp_path / "two" / ".partial").exists()
    assert "fid" in summary["metrics"] and (level == "image" or "fid@object" in summary["metrics"])
    # one report, from the main process; the ground-truth side cached under the same keys as one process's
    assert summary["method"] in launch.stdout[0] and launch.stdout[1] == ""
    ground_truth = {p.name for p in (tmp_path / "cache-one").glob("gt-features-*.npz")}
    assert ground_truth and ground_truth == {p.name for p in (tmp_path / "cache-two").glob("gt-features-*.npz")}


def test_a_bad_output_in_one_process_stops_both_with_one_line(scored_inputs, tmp_path, monkeypatch):
    split, pred = scored_inputs["image"]
    bad = tmp_path / "pred"
    shutil.copytree(pred, bad)
    second = pd.read_parquet(split)["pair_id"][1]  # the pairs are dealt round robin: rank 1 reads the second
    (bad / f"{second}.png").write_bytes(b"not an image")
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    launch = run_torchrun(tmp_path / "logs", *_score_args(split, bad, tmp_path / "out", metrics="ssim"))
    assert launch.codes == {0: 2, 1: 2}, launch.output[-3000:]
    errors = {rank: [line for line in text.splitlines() if "error:" in line] for rank, text in launch.stderr.items()}
    assert errors[0] == [] and len(errors[1]) == 1 and f"{second}.png" in errors[1][0], errors
    assert all("Traceback" not in text for text in launch.stderr.values())
    assert not (tmp_path / "out" / "summary.json").exists()


_STALL = """
import os, time
if os.environ.get("RANK") == "1":  # process 1 stops after its first checkpoint, for the test to kill it there
    import bench.score_state as state
    save = state.Checkpoint.save
    def stalled(self, progress):
        save(self, progress)
        if self.shards:
            open(os.environ["STALLED_FLAG"], "w").close()
            time.sleep(600)
    state.Checkpoint.save = stalled
"""


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return children


def _rank_of(pid: int) -> int | None:
    try:
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    ranks = [item[5:] for item in environ if item.startswith(b"RANK=")]
    return int(ranks[0]) if ranks else None


def test_a_killed_process_resumes_with_two_processes_or_one(scored_inputs, tmp_path, cli, monkeypatch):
    split, pred = scored_inputs["image"]
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))

    def args(out, *extra):  # a per-image metric, one with a cached ground-truth side, and a set metric
        return _score_args(split, pred, out, *extra, metrics="ssim,delta_his,fid")

    assert cli(*args(tmp_path / "one")).returncode == 0
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(_STALL)
    flag = tmp_path / "stalled"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(inject), os.environ.get("PYTHONPATH", "")]),
           "COLORBENCH_CHECKPOINT_SECONDS": "0", "STALLED_FLAG": str(flag)}
    out = tmp_path / "killed"
    launcher = subprocess.Popen(torchrun_command(tmp_path / "logs", *args(out)), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not flag.exists() and launcher.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), "process 1 never checkpointed"
    victim = next(pid for pid in _children(launcher.pid) if _rank_of(pid) == 1)
    os.kill(victim, signal.SIGKILL)
    output, _ = launcher.communicate(timeout=120)
    assert launcher.returncode != 0 and not (out / "summary.json").exists(), output[-2000:]
    assert list((out / ".partial" / "rank-1").glob("shard-*.npz")), "the killed process's checkpoint is kept"
    shutil.copytree(out, tmp_path / "killed-copy")

    launch = run_torchrun(tmp_path / "logs-resume", *args(out, "--resume"))
    assert launch.codes == {0: 0, 1: 0}, launch.output[-3000:]
    assert_same_result(tmp_path / "one", out)
    # another number of processes reads every process's checkpoint as well
    alone = cli(*args(tmp_path / "killed-copy", "--resume"))
    assert alone.returncode == 0, alone.stderr
    assert_same_result(tmp_path / "one", tmp_path / "killed-copy")
