"""Running baselines on splits: files, sizes, resume, bad input, and what the scorer makes of them."""

import json

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from baselines.run import run_baseline
from bench import score
from bench.core.color import rgb_to_gray
from bench.core.errors import ColorbenchError
from bench.core.images import read_rgb
from bench.metrics.histogram import ab_histogram, histogram_intersection
from pairing import build_image_level, build_object_level
from tests.helpers import assert_one_line_error


@pytest.fixture(scope="module")
def image_split(tiny_coco, tmp_path_factory):
    split = build_image_level(tiny_coco[0], features="histogram", top_k=1, synthetic=1, workers=0, progress=False)
    return split, split.save(tmp_path_factory.mktemp("split") / "image.parquet")


@pytest.fixture(scope="module")
def object_split(tiny_coco, tmp_path_factory):
    split = build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, workers=0, progress=False)
    return split, split.save(tmp_path_factory.mktemp("split") / "object.parquet")


def test_every_pair_gets_an_output_at_the_target_size(image_split, tmp_path):
    split, path = image_split
    run = run_baseline("reinhard", path, tmp_path / "out", workers=0, progress=False)
    assert run.written == len(split.table) and run.images_per_second > 0
    for row in split.table.itertuples():
        image = read_rgb(tmp_path / "out" / f"{row.pair_id}.png")
        assert image.shape == (row.target_height, row.target_width, 3)
    assert json.loads((tmp_path / "out" / "method.json").read_text())["method"] == "reinhard"


def test_oracle_scores_perfectly(object_split, tmp_path):
    split, path = object_split
    run_baseline("oracle", path, tmp_path / "oracle", workers=0, progress=False)
    summary = score(path, tmp_path / "oracle", metrics=["ssim", "psnr", "psnr_ab", "delta_his", "colorfulness_diff"],
                    workers=0, progress=False).summary["metrics"]
    for level in ("", "@object"):
        assert summary[f"ssim{level}"]["value"] == pytest.approx(1.0, abs=1e-12)
        assert summary[f"psnr{level}"]["value"] == "inf" and summary[f"psnr_ab{level}"]["value"] == "inf"
        assert summary[f"delta_his{level}"]["value"] == 0.0
        assert summary[f"colorfulness_diff{level}"]["value"] == 0.0


def test_gray_scores_as_expected(image_split, tmp_path):
    split, path = image_split
    run_baseline("gray", path, tmp_path / "gray", workers=0, progress=False)
    result = score(path, tmp_path / "gray", metrics=["ssim", "colorfulness", "delta_his"], workers=0, progress=False)
    table = result.per_image.set_index("pair_id")
    assert (table["colorfulness"] == 0).all()  # three equal channels: no colour at all
    for row in split.table.itertuples():
        gt = read_rgb(split.target_file(row))
        gray = rgb_to_gray(gt)
        expected = structural_similarity(gray, gt, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=255, channel_axis=-1)
        assert table.loc[row.pair_id, "ssim"] == pytest.approx(expected, abs=1e-5)
    # the gray output's ab histogram sits in the neutral bin, so delta_his is |HI(gt, ref) - HI(gray, ref)|
    row = split.table[split.table["reference_kind"] == "retrieved"].iloc[0]
    import torch

    def hist(rgb):
        return ab_histogram(torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous())

    gt = read_rgb(split.target_file(row))
    ref_hist = hist(read_rgb(split.reference_file(row)))
    expected = abs(float(histogram_intersection(hist(gt), ref_hist) - histogram_intersection(hist(rgb_to_gray(gt)),
                                                                                             ref_hist)))
    assert table.loc[row["pair_id"], "delta_his"] == pytest.approx(expected, abs=1e-12)
    assert expected > 0.01


def test_resume_finishes_only_what_is_missing(image_split, tmp_path):
    split, path = image_split
    out = tmp_path / "out"
    run_baseline("luminance-rank", path, out, workers=0, progress=False)
    first = split.table["pair_id"].iloc[0]
    (out / f"{first}.png").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    run = run_baseline("luminance-rank", path, out, resume=True, workers=0, progress=False)
    assert (run.written, run.skipped_existing) == (1, len(split.table) - 1)
    assert (out / f"{first}.png").is_file()
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png") if p.name in before} == before


def test_existing_outputs_are_never_silently_overwritten_or_mixed(image_split, tmp_path):
    split, path = image_split
    out = tmp_path / "out"
    run_baseline("gray", path, out, workers=0, progress=False)
    with pytest.raises(ColorbenchError, match="already holds .* pass --resume"):
        run_baseline("gray", path, out, workers=0, progress=False)
    with pytest.raises(ColorbenchError, match="outputs of another run"):
        run_baseline("reinhard", path, out, resume=True, workers=0, progress=False)
    run = run_baseline("reinhard", path, out, overwrite=True, workers=0, progress=False)
    assert run.written == len(split.table)


def test_randomised_outputs_do_not_depend_on_workers(image_split, tmp_path):
    split, path = image_split
    run_baseline("welsh", path, tmp_path / "a", seed=3, workers=0, progress=False)
    run_baseline("welsh", path, tmp_path / "b", seed=3, workers=2, progress=False)
    run_baseline("welsh", path, tmp_path / "c", seed=4, workers=0, progress=False)
    same = [np.array_equal(read_rgb(tmp_path / "a" / f"{pid}.png"), read_rgb(tmp_path / "b" / f"{pid}.png"))
            for pid in split.table["pair_id"]]
    other = [np.array_equal(read_rgb(tmp_path / "a" / f"{pid}.png"), read_rgb(tmp_path / "c" / f"{pid}.png"))
             for pid in split.table["pair_id"]]
    assert all(same) and not all(other)


def test_masked_baseline_needs_an_object_split(image_split, object_split, tmp_path):
    with pytest.raises(ColorbenchError, match="needs an object-level split"):
        run_baseline("reinhard-masked", image_split[1], tmp_path / "x", workers=0, progress=False)
    split, path = object_split
    run = run_baseline("reinhard-masked", path, tmp_path / "y", workers=0, progress=False)
    assert run.written == len(split.table)


def test_cli_runs_and_reports_bad_input(image_split, tmp_path, cli):
    split, path = image_split
    result = cli("baseline", "gray", "--split", path, "--out", tmp_path / "out", "--workers", "0")
    assert result.returncode == 0, result.stderr
    assert f"wrote {len(split.table)} outputs" in result.stdout
    assert_one_line_error(cli("baseline", "gray", "--split", tmp_path / "nope.parquet", "--out", tmp_path / "o"),
                          "nope.parquet", "does not exist")
    assert_one_line_error(cli("baseline", "gray", "--split", path, "--out", tmp_path / "out"), "--resume")
    bad = cli("baseline", "sepia", "--split", path, "--out", tmp_path / "o")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_a_baseline_returning_the_wrong_image_is_named(image_split, tmp_path, monkeypatch):
    import baselines.registry as registry

    half = registry.BaselineSpec("half", lambda pair, rng: pair.target_gray[::2], (), "returns half the rows")
    with registry.BASELINES.override("half", half), \
            pytest.raises(ColorbenchError, match=r"baseline half returned uint8 \(\d+, \d+, 3\) for pair .*expected "
                                                 r"uint8"):
        run_baseline("half", image_split[1], tmp_path / "out", workers=0, progress=False)


@pytest.fixture(scope="module")
def free_split(tiny_coco, tmp_path_factory):
    split = build_image_level(tiny_coco[0], references=0, workers=0, progress=False)
    return split, split.save(tmp_path_factory.mktemp("split") / "free.parquet")


@pytest.mark.parametrize("name", ["reinhard", "welsh", "luminance-rank"])
def test_a_baseline_needing_a_reference_is_refused_on_a_reference_free_split(free_split, tmp_path, name):
    from baselines.registry import get_baseline

    split, path = free_split
    assert get_baseline(name).needs_reference
    with pytest.raises(ColorbenchError, match=rf"baseline {name} needs a reference; split {split.split_id} has no "
                                              "references"):
        run_baseline(name, path, tmp_path / "out", workers=0, progress=False)
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_the_cli_refusal_is_one_line_and_names_the_baselines_that_run(free_split, tmp_path, cli):
    split, path = free_split
    result = cli("baseline", "reinhard", "--split", path, "--out", tmp_path / "out")
    assert_one_line_error(result, "baseline reinhard needs a reference",
                          f"split {split.split_id} has no references (built with --references 0)",
                          "run a reference-free baseline such as gray or oracle")


def test_gray_and_oracle_run_on_a_reference_free_split(free_split, tmp_path):
    from baselines.registry import get_baseline, reference_free_baselines

    split, path = free_split
    assert reference_free_baselines() == ["gray", "oracle"]
    assert not get_baseline("gray").needs_reference and not get_baseline("oracle").needs_reference
    for name in ("gray", "oracle"):
        run = run_baseline(name, path, tmp_path / name, workers=0, progress=False)
        assert run.written == len(split.table) == 7
    for row in split.table.itertuples():
        gt = read_rgb(split.target_file(row))
        assert (read_rgb(tmp_path / "gray" / f"{row.pair_id}.png") == rgb_to_gray(gt)).all()
        assert (read_rgb(tmp_path / "oracle" / f"{row.pair_id}.png") == gt).all()
