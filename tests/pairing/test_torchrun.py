"""``colorbench pairs`` under ``torchrun --nproc_per_node 2`` (gloo, CPU): the decoding pass dealt to the
processes in cached chunks, the split assembled by the main process, and the table, its sidecar and
``split_id`` byte-identical to a one-process build of the same inputs and seed."""

from __future__ import annotations

import sys

import pytest

from pairing.describe import CHUNK_BATCHES
from tests.helpers import run_torchrun

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gloo processes on Linux")

#: One image per batch: chunks of CHUNK_BATCHES images, so the ten test images make two chunks, one
#: for each process.
BATCH = ["--batch-size", "1", "--workers", "0"]


@pytest.mark.parametrize("builder,options", [
    ("folder", ["--features", "histogram", "--top-k", "2", "--synthetic", "1"]),
    ("folder", ["--features", "vgg19", "--top-k", "1", "--synthetic", "0"]),
    ("object-level", ["--refs", "1", "--synthetic", "1"]),
])
def test_two_processes_build_the_same_split(builder, options, tiny_coco, tmp_path, cli, monkeypatch,
                                            random_weights):
    images, annotations, _ = tiny_coco
    assert len(list(images.iterdir())) > CHUNK_BATCHES, "the test images must fill more than one chunk"
    random_weights("vgg19")
    args = ["pairs", builder, "--images", images, *options, *BATCH, "--seed", "3"]
    if builder == "object-level":
        args += ["--annotations", annotations]
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache-one"))
    single = cli(*args, "--out", tmp_path / "one.parquet")
    assert single.returncode == 0, single.stderr
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache-two"))
    launch = run_torchrun(tmp_path / "logs", *args, "--out", tmp_path / "two.parquet")
    assert launch.returncode == 0 and launch.codes == {0: 0, 1: 0}, launch.output[-3000:]
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    assert "split_id" in launch.stdout[0] and launch.stdout[1] == ""  # the main process reports
    # both processes cached their chunks under the keys one process uses: a later build reads them
    chunks = {path.name for path in (tmp_path / "cache-one").glob("*-chunk-*.npz")}
    assert len(chunks) == 2 and chunks == {path.name for path in (tmp_path / "cache-two").glob("*-chunk-*.npz")}


def test_an_unreadable_image_stops_both_processes_with_one_line(coco_copy, tmp_path, monkeypatch):
    images, _, _ = coco_copy
    last = sorted(images.iterdir())[-1]  # in the second chunk, which process 1 decodes
    last.write_bytes(b"not an image")
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    launch = run_torchrun(tmp_path / "logs", "pairs", "folder", "--images", images, "--features", "histogram",
                          "--top-k", "1", "--synthetic", "0", *BATCH, "--out", tmp_path / "split.parquet")
    assert launch.codes == {0: 2, 1: 2}, launch.output[-3000:]
    errors = [line for text in launch.stderr.values() for line in text.splitlines() if "error:" in line]
    assert len(errors) == 1 and last.name in errors[0] and "--skip-unreadable" in errors[0], errors
    assert not (tmp_path / "split.parquet").exists()
