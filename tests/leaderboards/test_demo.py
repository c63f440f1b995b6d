import json

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
        assert len(list((tmp_path / "out" / f"{level}-level" / "references").iterdir())) == report.splits[level]["pairs"]
    text = format_report(report)
    assert "pretrained weights missing" in text and "weight-free histogram" in text and "still to come" in text


def test_demo_uses_vgg19_when_present(tmp_path, empty_torch_home):
    from bench.testing import write_random_weights

    write_random_weights(empty_torch_home, ["vgg19"])
    report = run_demo(tmp_path / "out", progress=False)
    assert report.splits["image"]["features"] == "vgg19"
    assert not report.notes
