"""``colorbench pairs`` / ``materialize`` as a user runs them: outputs, and one-line errors."""

import json

import pandas as pd

from tests.helpers import assert_one_line_error


def test_build_and_materialize(cli, tiny_coco, tmp_path):
    images, annotations, _ = tiny_coco
    out = tmp_path / "objects.parquet"
    result = cli("pairs", "object-level", "--images", images, "--annotations", annotations, "--out", out,
                 "--refs", "1", "--synthetic", "1", "--workers", "0")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["split_id"] in result.stdout and "targets skipped" in result.stdout
    assert sidecar["params"]["refs"] == 1 and sidecar["params"]["seed"] == 0
    result = cli("materialize", "--split", out, "--out", tmp_path / "files")
    assert result.returncode == 0, result.stderr
    listing = pd.read_csv(tmp_path / "files" / "pairs.csv")
    assert len(listing) == sidecar["num_pairs"]
    assert all((tmp_path / "files" / path).is_file() for path in listing.reference_mask)


def test_image_level_with_filters_off(cli, tiny_coco, tmp_path):
    out = tmp_path / "s.parquet"
    result = cli("pairs", "image-level", "--images", tiny_coco[0], "--out", out, "--features", "histogram",
                 "--top-k", "1", "--synthetic", "0", "--no-filters", "--workers", "0", "--seed", "4")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["num_targets"] == 10 and sidecar["params"]["filters"]["enabled"] is False
    assert sidecar["params"]["seed"] == 4


def test_option_that_does_not_apply_is_refused(cli, tiny_coco, tmp_path):
    images, annotations, _ = tiny_coco
    result = cli("pairs", "object-level", "--images", images, "--annotations", annotations, "--out",
                 tmp_path / "x.parquet", "--top-k", "2")
    assert_one_line_error(result, "--top-k does not apply to the object-level builder")


def test_corrupt_annotation_file(cli, tiny_coco, tmp_path):
    bad = tmp_path / "instances.json"
    bad.write_text('{"images": [')
    result = cli("pairs", "object-level", "--images", tiny_coco[0], "--annotations", bad, "--out",
                 tmp_path / "x.parquet")
    assert_one_line_error(result, str(bad), "not valid JSON")
    bad.write_text('{"images": []}')
    result = cli("pairs", "object-level", "--images", tiny_coco[0], "--annotations", bad, "--out",
                 tmp_path / "x.parquet")
    assert_one_line_error(result, "not in COCO format")
    assert not (tmp_path / "x.parquet").exists()


def test_missing_image_named_and_skippable(cli, coco_copy, tmp_path):
    images, annotations, _ = coco_copy
    (images / "000000000005.jpg").unlink()
    out = tmp_path / "x.parquet"
    result = cli("pairs", "object-level", "--images", images, "--annotations", annotations, "--out", out, "--refs", "1")
    assert_one_line_error(result, "000000000005.jpg", "--skip-unreadable")
    assert not out.exists()
    result = cli("pairs", "object-level", "--images", images, "--annotations", annotations, "--out", out, "--refs", "1",
                 "--skip-unreadable")
    assert result.returncode == 0 and "target dropped: unreadable: 1" in result.stdout


def test_unreadable_image_in_folder(cli, tiny_coco, tmp_path):
    import shutil

    images = tmp_path / "images"
    shutil.copytree(tiny_coco[0], images)
    (images / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    result = cli("pairs", "folder", "--images", images, "--out", tmp_path / "x.parquet", "--features", "histogram")
    assert_one_line_error(result, "zz_broken.jpg")


def test_k_larger_than_pool(cli, tiny_coco, tmp_path):
    result = cli("pairs", "folder", "--images", tiny_coco[0], "--out", tmp_path / "x.parquet", "--features",
                 "histogram", "--top-k", "50")
    assert_one_line_error(result, "--top-k 50", "lower --top-k")


def test_missing_vgg19_weights_named(cli, tiny_coco, tmp_path, empty_torch_home):
    result = cli("pairs", "folder", "--images", tiny_coco[0], "--out", tmp_path / "x.parquet")
    assert_one_line_error(result, "vgg19-dcbb9e9d.pth", "hub/checkpoints")


def test_materialize_bad_split_file(cli, tmp_path):
    (tmp_path / "s.parquet").write_text("nope")
    assert_one_line_error(cli("materialize", "--split", tmp_path / "s.parquet", "--out", tmp_path / "o"),
                          "not a readable Parquet file")


def test_folder_references_0_builds_and_materializes_targets_only(cli, tiny_coco, tmp_path, empty_torch_home):
    out = tmp_path / "free.parquet"
    # no --features: the default is vgg19, whose weights this TORCH_HOME lacks; no ranking may run
    result = cli("pairs", "folder", "--images", tiny_coco[0], "--out", out, "--references", "0", "--workers", "0")
    assert result.returncode == 0, result.stderr
    assert "reference-free" in result.stdout
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["num_pairs"] == sidecar["num_targets"] == 7 and sidecar["features"] is None
    result = cli("materialize", "--split", out, "--out", tmp_path / "files")
    assert result.returncode == 0, result.stderr
    listing = pd.read_csv(tmp_path / "files" / "pairs.csv")
    assert len(listing) == 7 and listing["reference"].isna().all() and (listing["reference_kind"] == "none").all()
    assert list(listing.columns[:4]) == ["pair_id", "target", "reference", "gt"]
    assert not (tmp_path / "files" / "references").exists()
    assert all((tmp_path / "files" / path).is_file() for path in listing.target)


def test_references_with_top_k_or_both_filter_flags_are_refused(cli, tiny_coco, tmp_path):
    result = cli("pairs", "folder", "--images", tiny_coco[0], "--out", tmp_path / "x.parquet", "--references", "0",
                 "--top-k", "1")
    assert_one_line_error(result, "--references sets the references per target on its own; drop --top-k")
    result = cli("pairs", "imagenet10k", "--images", tiny_coco[0], "--out", tmp_path / "x.parquet", "--filters",
                 "--no-filters")
    assert_one_line_error(result, "--filters and --no-filters contradict each other")
    result = cli("pairs", "folder", "--images", tiny_coco[0], "--out", tmp_path / "x.parquet", "--filters")
    assert_one_line_error(result, "--filters does not apply to the folder builder")


def test_msa_builders_say_their_filters_are_not_the_papers():
    """SPColor's filters stay on for MSA's COCO builders, and their help says the MSA paper names none."""
    from pairing.cli import _pairs_description
    from pairing.registry import BUILDERS

    for name in ("image-level", "object-level"):
        description = " ".join(BUILDERS.get(name).description.split())
        assert "SPColor's filters" in description and "MSA paper mentions none" in description, name
        assert "--no-filters" in description, name
    assert "the MSA paper names no filter" in " ".join(_pairs_description().split())
