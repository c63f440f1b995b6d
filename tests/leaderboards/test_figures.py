"""The figures: per-metric chart and qualitative grid, from real baseline runs and scores."""

import numpy as np
import pytest
from PIL import Image

from baselines.run import run_baseline
from bench import score
from bench.core.errors import ColorbenchError
from leaderboards.make import make_leaderboard
from pairing import build_object_level


@pytest.fixture(scope="module")
def scored(tiny_coco, tmp_path_factory):
    root = tmp_path_factory.mktemp("scored")
    split = build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, workers=0, progress=False)
    path = split.save(root / "object.parquet")
    summaries = []
    for name in ("gray", "reinhard-masked", "oracle"):
        run_baseline(name, path, root / name, workers=0, progress=False)
        score(path, root / name, metrics=["ssim", "delta_his", "colorfulness"], method=name, out_dir=root / f"s-{name}",
              workers=0, progress=False)
        summaries.append(root / f"s-{name}")
    return split, path, summaries


def test_chart_and_grid_are_written(scored, tmp_path):
    split, _, summaries = scored
    pair_ids = split.table["pair_id"].tolist()[:2]
    files = make_leaderboard(summaries, tmp_path / "board.html", "html", grid=pair_ids)
    page = files.table.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") == 2  # chart and grid inline
    chart = np.asarray(Image.open(files.chart))
    grid = np.asarray(Image.open(files.grid))
    assert chart.shape[0] > 200 and chart.std() > 10
    # two rows of thumbnails, five columns (gray target, reference, three methods, ground truth = 6)
    assert grid.shape[1] > grid.shape[0] and grid.std() > 10


def test_grid_errors_name_the_pair_and_need_a_split(scored, tmp_path):
    split, path, summaries = scored
    with pytest.raises(ColorbenchError, match="pair id nope is not in split"):
        make_leaderboard(summaries, tmp_path / "b.md", grid=["nope"])
    files = make_leaderboard(summaries, tmp_path / "c.md", grid=split.table["pair_id"].tolist()[:1], split=path,
                             chart=False)
    assert files.grid.is_file() and files.chart is None


def test_grid_needs_a_recorded_split_and_readable_outputs(scored, tmp_path):
    import re
    import shutil

    from leaderboards.results import Result, load_result

    split, path, summaries = scored
    results = [load_result(s) for s in summaries]
    unrecorded = [Result(r.path, {**r.summary, "meta": {**r.summary["meta"], "split_file": None}}) for r in results]
    with pytest.raises(ColorbenchError, match="the grid needs the split file: the results name none; pass --split"):
        make_leaderboard(unrecorded, tmp_path / "a.md", grid=split.table["pair_id"].tolist()[:1])
    pid = split.table["pair_id"].iloc[0]
    pred = tmp_path / "pred"
    shutil.copytree(results[0].summary["meta"]["pred_dir"], pred)
    (pred / f"{pid}.png").write_bytes(b"not a png")
    broken = Result(results[0].path, {**results[0].summary, "meta": {**results[0].summary["meta"],
                                                                        "pred_dir": str(pred)}})
    message = re.escape(f"output {pred / pid}.png of gray cannot be read for the grid")
    with pytest.raises(ColorbenchError, match=message):
        make_leaderboard([broken], tmp_path / "b.md", grid=[pid])
