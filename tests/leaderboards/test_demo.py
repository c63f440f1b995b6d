import json

import pytest

from leaderboards.demo import OBJECT_MIN_AREA, format_report, run_demo
from pairing import load_split


def test_demo_without_weights_builds_both_splits_offline(tmp_path, empty_torch_home):
    report = run_demo(tmp_path / "out", progress=False)
    assert len(report.images) >= 7 and report.objects
    assert any(obj.qualifies for obj in report.objects)
    assert all(obj.qualifies == (obj.coverage > OBJECT_MIN_AREA) for obj in report.objects)
    assert (tmp_path / "out" / "overview.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "out" / "demo_set.json").read_text())
    assert saved["images"] == report.images
    # No weights at all: the demo says so and falls back to the weight-free ranking.
    assert "vgg19" in report.weights_missing
    image_split = load_split(report.splits["image"]["path"])
    assert image_split.meta["features"]["name"] == "histogram"
    assert len(image_split.table) == len(report.images)  # one pair per target
    object_split = load_split(report.splits["object"]["path"])
    assert object_split.level == "object" and len(object_split.table) >= 4
    for level in ("image", "object"):
        references = list((tmp_path / "out" / f"{level}-level" / "references").iterdir())
        assert len(references) == report.splits[level]["pairs"]
    text = format_report(report)
    assert "pretrained weights missing" in text and "weight-free histogram" in text
    # the whole loop: every baseline on both splits, scored, and a leaderboard per split
    assert set(report.baselines["image"]) == {"gray", "oracle", "reinhard", "welsh", "luminance-rank"}
    assert set(report.baselines["object"]) == set(report.baselines["image"]) | {"reinhard-masked"}
    oracle = json.loads((tmp_path / "out" / "scores" / "object" / "oracle" / "summary.json").read_text())
    assert oracle["metrics"]["ssim@object"]["value"] == 1.0 and oracle["metrics"]["delta_his"]["value"] == 0.0
    assert "lpips" in oracle["skipped"] and "alexnet" in oracle["skipped"]["lpips"]  # skipped, with the reason
    assert "lpips" not in oracle["metrics"]
    for level in ("image", "object"):
        board = report.leaderboards[level]["table"]
        assert board.startswith("| method |") and "**1.0000**" in board
        assert any(line.startswith("- skipped") and "lpips" in line and "alexnet-owt-7be5be79.pth" in line
                   for line in board.splitlines())
        for suffix in (".md", ".csv", ".html", ".tex", "-chart.png", "-grid.png"):
            assert (tmp_path / "out" / f"leaderboard-{level}{suffix}").stat().st_size > 200
        assert f"## {level}-level leaderboard" in text


def test_demo_with_the_weights_shows_every_metric(tmp_path, random_weights, tiny_coco):
    random_weights("vgg19", "alexnet", "inception_fid")  # shared with the other tests of the session
    # the tests' small COCO set (smaller images than the bundled photos: networks on CPU are slow)
    report = run_demo(tmp_path / "out", images_dir=tiny_coco[0], annotations=tiny_coco[1], progress=False,
                      baselines=["gray", "oracle"])
    assert report.splits["image"]["features"] == "vgg19"
    assert not report.notes
    assert set(report.baselines["object"]) == {"gray", "oracle"}
    summary = json.loads((tmp_path / "out" / "scores" / "object" / "gray" / "summary.json").read_text())
    networked = {"lpips", "lpips_r", "fid", "fid_inf"}
    assert networked | {f"{name}@object" for name in networked} <= set(summary["metrics"])
    # the set has no class labels; FID infinity at the MSA paper's 300 / 600 needs more objects than the
    # demo has (the size-scaled fid_inf is reported instead)
    paper = {"fid_inf_300", "fid_inf_600"}
    assert set(summary["skipped"]) == {"top1", "top5"} | paper | {f"{name}@object" for name in paper}
    assert summary["skipped"]["fid_inf_600@object"].startswith("needs more than 600 outputs")
    assert "lpips_vgg" not in summary["metrics"]  # a variant: runs when named
    assert "fid_inf_" in report.leaderboards["object"]["table"]


def test_demo_refuses_an_unknown_baseline_before_doing_work(tmp_path):
    from bench.core.errors import ColorbenchError

    with pytest.raises(ColorbenchError, match="unknown baseline 'grey'; did you mean gray"):
        run_demo(tmp_path / "out", progress=False, baselines=["grey"])
    assert not (tmp_path / "out").exists()


def test_cli_unknown_baseline_is_one_line(tmp_path, cli):
    from tests.helpers import assert_one_line_error

    assert_one_line_error(cli("demo", "--out", tmp_path / "out", "--baselines", "gray,welch"),
                          "unknown baseline 'welch'", "did you mean welsh")
    assert not (tmp_path / "out").exists()
