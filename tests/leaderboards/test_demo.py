import json

from leaderboards.demo import OBJECT_MIN_AREA, format_report, run_demo


def test_demo_checks_the_bundled_set_and_writes_its_files(tmp_path):
    report = run_demo(tmp_path / "out", progress=False)
    assert len(report.images) >= 7 and report.objects
    assert any(obj.qualifies for obj in report.objects)
    assert all(obj.qualifies == (obj.coverage > OBJECT_MIN_AREA) for obj in report.objects)
    assert (tmp_path / "out" / "overview.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "out" / "demo_set.json").read_text())
    assert saved["images"] == report.images
    # The test session's TORCH_HOME starts empty: the demo must say so, not invent numbers.
    assert "vgg19" in report.weights_missing
    text = format_report(report)
    assert "pretrained weights missing" in text and "still to come" in text
