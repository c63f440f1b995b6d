"""``colorbench baseline`` under ``torchrun --nproc_per_node 2`` (gloo, CPU): each process writes its
share of the pairs through the one writer of outputs; the folder equals a one-process run's, byte for
byte, and ``--resume`` writes only what is missing."""

from __future__ import annotations

import json
import sys

import pytest

from tests.helpers import run_torchrun

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gloo processes on Linux")


def _folder(path) -> dict[str, bytes]:
    return {file.name: file.read_bytes() for file in sorted(path.iterdir()) if file.suffix in (".png", ".json")}


@pytest.mark.parametrize("name", ["welsh", "reinhard-masked"])  # randomised (seeded per pair); object masks
def test_two_processes_write_what_one_writes(name, tiny_coco, tmp_path, cli):
    from pairing import build_image_level, build_object_level

    if name == "welsh":
        split = build_image_level(tiny_coco[0], features="histogram", top_k=1, synthetic=1, workers=0, progress=False)
    else:
        split = build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, workers=0, progress=False)
    path = split.save(tmp_path / "split.parquet")
    args = ["baseline", name, "--split", path, "--workers", "0", "--seed", "5"]
    single = cli(*args, "--out", tmp_path / "one")
    assert single.returncode == 0, single.stderr
    launch = run_torchrun(tmp_path / "logs", *args, "--out", tmp_path / "two")
    assert launch.codes == {0: 0, 1: 0}, launch.output[-3000:]
    assert _folder(tmp_path / "one") == _folder(tmp_path / "two") and len(_folder(tmp_path / "two")) > 2
    assert f"wrote {len(split.table)} outputs" in launch.stdout[0] and launch.stdout[1] == ""

    # an interrupted run: --resume writes only the outputs that are missing, shared by both processes
    removed = sorted((tmp_path / "two").glob("*.png"))[::2]
    for file in removed:
        file.unlink()
    resumed = run_torchrun(tmp_path / "logs-resume", *args, "--out", tmp_path / "two", "--resume")
    assert resumed.codes == {0: 0, 1: 0}, resumed.output[-3000:]
    assert f"wrote {len(removed)} outputs" in resumed.stdout[0]
    assert _folder(tmp_path / "one") == _folder(tmp_path / "two")
    assert json.loads((tmp_path / "two" / "method.json").read_text())["seed"] == 5
