"""The scorer: one pass, exact per-image values, object crops, caching, resume, bad input."""

import json
import shutil
from contextlib import ExitStack, contextmanager
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

import bench.scorer as scorer_module
from bench import compare, score
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.images import read_rgb, write_png
from bench.metrics.registry import METRICS, MetricSpec, get_metric
from bench.pairs_io import bbox_of
from bench.score_state import Checkpoint, ScoreState
from pairing import build_image_level, build_object_level
from tests.helpers import assert_one_line_error

FAST = ["ssim", "psnr", "delta_his", "colorfulness"]


@pytest.fixture(scope="module")
def image_split(tiny_coco, tmp_path_factory):
    split = build_image_level(tiny_coco[0], features="histogram", top_k=1, synthetic=1, workers=0, progress=False)
    path = split.save(tmp_path_factory.mktemp("split") / "image.parquet")
    return split, path


@pytest.fixture(scope="module")
def object_split(tiny_coco, tmp_path_factory):
    split = build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, workers=0, progress=False)
    return split, split.save(tmp_path_factory.mktemp("split") / "object.parquet")


def write_outputs(split, folder, transform=lambda rgb, row: rgb):
    folder.mkdir(parents=True, exist_ok=True)
    for row in split.table.itertuples():
        gt = read_rgb(split.target_file(row))
        write_png(folder / f"{row.pair_id}.png", transform(gt, row))
    return folder


def shifted(rgb, row):
    """A plausible, imperfect output: the ground truth with a colour cast."""
    return np.clip(rgb.astype(int) + [12, -8, 5], 0, 255).astype(np.uint8)


def test_oracle_scores_perfectly_and_files_are_written(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "oracle")
    result = score(path, pred, metrics=FAST, out_dir=tmp_path / "out", workers=0, progress=False)
    table = pd.read_parquet(tmp_path / "out" / "per_image.parquet")
    assert table.pair_id.tolist() == split.table.pair_id.tolist()
    assert np.allclose(table.ssim, 1.0) and np.isinf(table.psnr).all() and np.allclose(table.delta_his, 0.0)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary == json.loads(json.dumps(result.summary))
    assert summary["split_id"] == split.split_id and summary["method"] == "oracle"
    assert summary["metrics"]["ssim"]["value"] == pytest.approx(1.0) and summary["metrics"]["ssim"]["n"] == len(table)
    assert summary["metrics"]["psnr"]["value"] == "inf" and summary["metrics"]["psnr"]["direction"] == "higher"
    assert summary["metrics"]["delta_his"]["direction"] == "lower"
    assert summary["meta"]["colorbench_version"] and summary["meta"]["device"] == "cpu"


def test_per_image_values_equal_the_anchor(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "cast", shifted)
    result = score(path, pred, metrics=["ssim"], workers=0, progress=False, batch_size=3)
    for row, value in zip(split.table.itertuples(), result.per_image.ssim):
        gt = read_rgb(split.target_file(row))
        expected = structural_similarity(gt, shifted(gt, row), gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=255, channel_axis=-1)
        assert value == pytest.approx(expected, abs=1e-5)
    lo, hi = result.summary["metrics"]["ssim"]["ci95"]
    assert lo <= result.summary["metrics"]["ssim"]["value"] <= hi


def test_object_level_scores_the_crops(object_split, tmp_path):
    split, path = object_split
    pred = write_outputs(split, tmp_path / "cast", shifted)
    result = score(path, pred, metrics=["ssim"], level="both", workers=0, progress=False)
    assert {"ssim", "ssim@object"} <= set(result.per_image.columns)
    assert result.summary["level"] == "both" and "ssim@object" in result.summary["metrics"]
    from bench.core.coco import decode_rle

    for row, value in zip(split.table.itertuples(), result.per_image["ssim@object"]):
        top, bottom, left, right = bbox_of(decode_rle(row.target_mask))
        gt = read_rgb(split.target_file(row))[top:bottom, left:right]
        expected = structural_similarity(gt, shifted(gt, row), gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=255, channel_axis=-1)
        assert value == pytest.approx(expected, abs=1e-5)
    only = score(path, pred, metrics=["ssim"], level="object", workers=0, progress=False)
    assert list(only.per_image.columns) == ["pair_id", "ssim@object"]


def test_object_level_on_an_image_split_is_an_error(image_split, tmp_path):
    split, path = image_split
    with pytest.raises(ColorbenchError, match="needs an object-level split"):
        score(path, write_outputs(split, tmp_path / "p"), metrics=["ssim"], level="object", progress=False)


def test_missing_outputs(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    for pid in split.table.pair_id[:4]:
        (pred / f"{pid}.png").unlink()
    with pytest.raises(ColorbenchError, match=rf"4 of {len(split.table)} outputs are missing.*first: "):
        score(path, pred, metrics=["ssim"], workers=0, progress=False)
    warnings = []
    result = score(path, pred, metrics=["ssim"], workers=0, progress=False, allow_missing=True, warn=warnings.append)
    assert len(result.per_image) == len(split.table) - 4 and result.summary["meta"]["pairs_missing"] == 4
    assert any("4 outputs missing" in w for w in warnings)


def test_extra_files_are_ignored_with_a_warning(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    write_png(pred / "not_a_pair.png", np.zeros((4, 4, 3), np.uint8))
    warnings = []
    score(path, pred, metrics=["psnr"], workers=0, progress=False, warn=warnings.append)
    assert any("not pairs of this split" in w for w in warnings)


def test_size_mismatch_needs_resize(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p", lambda rgb, row: rgb[::2, ::2].copy())
    with pytest.raises(ColorbenchError, match="is 200x128 but its target is 400x256.*--resize"):
        score(path, pred, metrics=["ssim"], workers=0, progress=False)
    result = score(path, pred, metrics=["ssim"], workers=0, progress=False, resize=True, warn=lambda m: None)
    assert result.summary["meta"]["converted_or_resized"] == len(split.table)
    assert (result.per_image.ssim > 0.5).all()


def test_gray_rgba_and_16bit_outputs_are_converted_with_a_warning(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    first, second = split.table.pair_id[:2]
    Image.open(pred / f"{first}.png").convert("L").save(pred / f"{first}.png")
    Image.open(pred / f"{second}.png").convert("RGBA").save(pred / f"{second}.png")
    warnings = []
    result = score(path, pred, metrics=["ssim"], workers=0, progress=False, warn=warnings.append)
    assert any(f"{first}.png: L output converted" in w for w in warnings)
    assert any(f"{second}.png: RGBA output converted" in w for w in warnings)
    assert result.per_image.set_index("pair_id").ssim[second] == pytest.approx(1.0)


def test_a_changed_or_resized_ground_truth_is_refused(coco_copy, tmp_path):
    images, _, _ = coco_copy
    split = build_image_level(images, features="histogram", top_k=1, synthetic=0, workers=0, progress=False)
    pred = write_outputs(split, tmp_path / "p")
    target = images / split.table.target_path.iloc[0]
    Image.open(target).rotate(180).save(target)
    with pytest.raises(ColorbenchError, match=f"image {target} changed since the split was built"):
        score(split, pred, metrics=["ssim"], workers=0, progress=False)
    Image.open(target).resize((64, 48)).save(target)
    small = split.table.assign(target_sha256=None)  # a split without checksums still checks the size
    with pytest.raises(ColorbenchError, match=f"image {target} is 64x48, the split says"):
        score(type(split)(small, split.meta), pred, metrics=["ssim"], workers=0, progress=False)


def test_undecodable_output_names_the_file(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    bad = pred / f"{split.table.pair_id.iloc[3]}.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageReadError, match=bad.name):
        score(path, pred, metrics=["ssim"], workers=0, progress=False)


def test_unknown_metric_and_config_key(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    with pytest.raises(ColorbenchError, match="unknown metric 'ssin'; did you mean ssim"):
        score(path, pred, metrics=["ssin"], progress=False)
    with pytest.raises(ColorbenchError, match="unknown metric setting"):
        score(path, pred, metrics=["ssim"], config={"lpips_h": 0.1}, progress=False)


class _Interrupt(Exception):
    pass


@contextmanager
def interrupted_ssim(after: int):
    """ssim raising _Interrupt on its ``after``-th batch (where a kill would stop a run); yields the
    call counter."""
    real = get_metric("ssim")
    calls = {"n": 0}

    def factory(config, device):
        inner = real.factory(config, device)

        def metric(batch):
            calls["n"] += 1
            if calls["n"] == after:
                raise _Interrupt
            return inner(batch)

        return metric

    with METRICS.override("ssim", replace(real, factory=factory)):
        yield calls


def test_resume_loses_and_duplicates_nothing(image_split, tmp_path, monkeypatch):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p", shifted)
    metrics = ["ssim", "psnr", "delta_his"]  # delta_his: its cached ground-truth side is checkpointed too
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache-full"))
    full = score(path, pred, metrics=metrics, workers=0, progress=False, batch_size=2)
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(scorer_module, "CHECKPOINT_SECONDS", 0.0)
    out = tmp_path / "out"
    with interrupted_ssim(after=3) as calls, pytest.raises(_Interrupt):
        score(path, pred, metrics=metrics, out_dir=out, workers=0, progress=False, batch_size=2)
    assert (out / ".partial" / "rank-0" / "run.json").is_file() and not (out / "summary.json").exists()
    done_before = sum(len(np.load(shard)["pairs"]) for shard in (out / ".partial" / "rank-0").glob("shard-*.npz"))
    assert 0 < done_before < len(split.table)
    resumed = score(path, pred, metrics=metrics, out_dir=out, workers=0, progress=False, batch_size=2,
                    resume=True)
    pd.testing.assert_frame_equal(resumed.per_image, full.per_image)
    assert not (out / ".partial").exists()
    assert calls["n"] >= 3


def test_resume_with_other_settings_is_refused(image_split, tmp_path, monkeypatch):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    out = tmp_path / "out"
    state = ScoreState()
    state.mark_done("x")
    Checkpoint(out / ".partial" / "rank-0", {"split_id": "something else"}).save(state)
    with pytest.raises(ColorbenchError, match="interrupted run that differs from this one.*split_id"):
        score(path, pred, metrics=["ssim"], out_dir=out, resume=True, workers=0, progress=False)


class _CountingSetMetric:
    """A per-set metric that counts extractions: for the ground-truth feature cache."""

    calls = {"pred": 0, "gt": 0}

    def __init__(self, config, device):
        pass

    def record(self):
        return {"name": "counting", "version": 1}

    def extract(self, images):
        return images.double().mean(dim=(2, 3)).cpu().numpy()

    def compute(self, pred, gt):
        return {"value": float(np.abs(pred.mean(0) - gt.mean(0)).sum())}


def test_ground_truth_features_are_cached_per_split(image_split, tmp_path, request):
    split, path = image_split
    extracted = []

    class Counting(_CountingSetMetric):
        def extract(self, images):
            extracted.append(len(images))
            return super().extract(images)

    spec = MetricSpec("counting_set", False, ("gt",), (), "per_set", "a test", Counting, features="counting")
    stack = ExitStack()
    stack.enter_context(METRICS.override("counting_set", spec))
    request.addfinalizer(stack.close)
    first = score(path, write_outputs(split, tmp_path / "a", shifted), metrics=["counting_set"], workers=0,
                  progress=False)
    n = len(split.table)
    assert sum(extracted) == 2 * n  # outputs and ground truths
    extracted.clear()
    second = score(path, write_outputs(split, tmp_path / "b"), metrics=["counting_set"], workers=0, progress=False)
    assert sum(extracted) == n  # only the second method's own outputs
    assert second.summary["metrics"]["counting_set"]["value"] == pytest.approx(0.0, abs=1e-12)
    assert first.summary["metrics"]["counting_set"]["value"] > 0


@pytest.mark.parametrize("fixture", ["image_split", "object_split"])
def test_delta_his_ground_truth_side_is_cached_per_split(fixture, request, tmp_path, monkeypatch):
    """A second method recomputes no reference or ground-truth histogram, and its values equal
    the uncached computation."""
    from bench.metrics.histogram import DeltaHis

    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    split, path = request.getfixturevalue(fixture)
    sides = []
    real_gt_side = DeltaHis.gt_side
    monkeypatch.setattr(DeltaHis, "gt_side", lambda self, batch: sides.append(len(batch)) or real_gt_side(self, batch))
    n, levels = len(split.table), 2 if split.level == "object" else 1
    score(path, write_outputs(split, tmp_path / "a", shifted), metrics=["delta_his"], workers=0, progress=False)
    assert sum(sides) == n * levels
    sides.clear()
    darker = write_outputs(split, tmp_path / "b", lambda rgb, row: (rgb * 0.8).astype(np.uint8))
    cached = score(path, darker, metrics=["delta_his"], workers=0, progress=False)
    assert sum(sides) == 0
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "empty-cache"))
    uncached = score(path, darker, metrics=["delta_his"], workers=0, progress=False)
    assert sum(sides) == n * levels
    pd.testing.assert_frame_equal(cached.per_image, uncached.per_image, check_exact=False, rtol=0, atol=1e-14)
    assert (cached.per_image["delta_his"] > 1e-4).all()


def test_compare_paired_methods(image_split, tmp_path):
    split, path = image_split
    good = score(path, write_outputs(split, tmp_path / "good"), metrics=["ssim"], workers=0, progress=False)
    bad = score(path, write_outputs(split, tmp_path / "bad", shifted), metrics=["ssim"], workers=0, progress=False)
    result = compare(good.per_image, bad.per_image, "ssim", higher_is_better=True, samples=2000)
    assert result["better"] == "a" and result["diff"] > 0 and result["ci95"][0] > 0
    assert result["p_value"] < 0.05 and result["n"] == len(split.table)
    same = compare(good.per_image, good.per_image, "ssim", samples=500)
    assert same["diff"] == 0 and same["p_value"] == 1.0


def test_cli_scores_and_reports_bad_input(image_split, tmp_path, cli):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p", shifted)
    result = cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "out", "--metrics", "ssim,psnr",
                 "--workers", "0")
    assert result.returncode == 0, result.stderr
    assert "ssim" in result.stdout and (tmp_path / "out" / "summary.json").is_file()
    (pred / f"{split.table.pair_id.iloc[0]}.png").unlink()
    assert_one_line_error(cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "o2", "--metrics", "ssim"),
                          "1 of", "outputs are missing", "--allow-missing")
    assert_one_line_error(cli("score", "--split", path, "--pred", tmp_path / "nowhere", "--out", tmp_path / "o3"),
                          "does not exist")
    shutil.rmtree(tmp_path / "out")


def test_cli_undecodable_and_wrong_size_outputs(image_split, tmp_path, cli):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    bad = pred / f"{split.table.pair_id.iloc[2]}.png"
    bad.write_bytes(b"not a png")
    assert_one_line_error(cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "o", "--metrics", "ssim"),
                          str(bad), "cannot decode")
    write_png(bad, np.zeros((10, 10, 3), np.uint8))
    assert_one_line_error(cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "o", "--metrics", "ssim"),
                          bad.name, "is 10x10 but its target is", "--resize")
    resized = cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "o", "--metrics", "ssim", "--resize")
    assert resized.returncode == 0 and "resized" in resized.stderr
    assert not (tmp_path / "o" / ".partial").exists()


def test_cli_missing_network_named_when_asked_skipped_by_default(image_split, tmp_path, cli, empty_torch_home):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    assert_one_line_error(cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "o", "--metrics", "lpips"),
                          "alexnet-owt-7be5be79.pth")
    result = cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "o", "--workers", "0")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert {"lpips", "fid", "fid_inf", "lpips_r"} <= set(summary["skipped"])
    assert "vgg19-dcbb9e9d.pth" in summary["skipped"]["lpips_r"]
    assert "lpips" not in summary["metrics"] and "ssim" in summary["metrics"]
    assert summary["skipped"]["top1"] == "the split has no class labels"


# --- results that can never silently mix or lose work ------------------------------------------------


def _interrupted_run(path, pred, out, monkeypatch, metrics=("ssim", "psnr")):
    """Score into ``out`` and stop after the first checkpoint (as a kill -9 would)."""
    with monkeypatch.context() as patch, interrupted_ssim(after=3), pytest.raises(_Interrupt):
        patch.setattr(scorer_module, "CHECKPOINT_SECONDS", 0.0)
        score(path, pred, metrics=list(metrics), out_dir=out, workers=0, progress=False, batch_size=1)
    assert list((out / ".partial" / "rank-0").glob("shard-*.npz")), "no checkpoint was written"


def test_resume_refuses_a_checkpoint_of_other_outputs(image_split, tmp_path, monkeypatch, cli):
    """kill -9 'score --pred A --out O', then 'score --pred B --out O --resume' must not mix A's rows into B's."""
    split, path = image_split
    pred_a = write_outputs(split, tmp_path / "A", shifted)
    pred_b = write_outputs(split, tmp_path / "B")
    out = tmp_path / "O"
    _interrupted_run(path, pred_a, out, monkeypatch)
    result = cli("score", "--split", path, "--pred", pred_b, "--out", out, "--metrics", "ssim,psnr", "--workers", "0",
                 "--method", "A", "--resume")
    assert_one_line_error(result, "differs from this one", "pred_dir", "outputs")
    assert not (out / "summary.json").exists()
    # the same folder, one output rewritten since: named
    first = split.table.pair_id.iloc[0]
    write_png(pred_a / f"{first}.png", np.zeros((split.table.target_height.iloc[0], split.table.target_width.iloc[0],
                                                   3), np.uint8))
    with pytest.raises(ColorbenchError, match=rf"outputs: 1 file\(s\) changed since \(e\.g\. {first}\.png\)"):
        score(path, pred_a, metrics=["ssim", "psnr"], out_dir=out, workers=0, progress=False, resume=True)
    with pytest.raises(ColorbenchError, match="method: "):
        score(path, pred_a, metrics=["ssim", "psnr"], method="renamed", out_dir=out, workers=0, progress=False,
              resume=True)


def test_resume_of_the_same_run_with_other_metrics_is_named(image_split, tmp_path, monkeypatch):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p", shifted)
    _interrupted_run(path, pred, tmp_path / "o", monkeypatch)
    with pytest.raises(ColorbenchError, match="metrics: "):
        score(path, pred, metrics=["ssim"], out_dir=tmp_path / "o", workers=0, progress=False, resume=True)
    with pytest.raises(ColorbenchError, match="config: "):
        score(path, pred, metrics=["ssim", "psnr"], out_dir=tmp_path / "o", workers=0, progress=False, resume=True,
              config={"bootstrap_samples": 10})


def test_an_existing_result_is_kept_without_overwrite(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    out = tmp_path / "out"
    score(path, pred, metrics=["psnr"], out_dir=out, workers=0, progress=False)
    before = (out / "summary.json").read_bytes()
    with pytest.raises(ColorbenchError, match=r"already holds a result \(summary\.json, per_image\.parquet\); pass "
                                              r"--overwrite"):
        score(path, pred, metrics=["ssim"], out_dir=out, workers=0, progress=False)
    assert (out / "summary.json").read_bytes() == before
    score(path, pred, metrics=["ssim"], out_dir=out, workers=0, progress=False, overwrite=True)
    assert "ssim" in json.loads((out / "summary.json").read_text())["metrics"]


def test_a_second_run_into_the_same_folder_is_refused(image_split, tmp_path, cli):
    from bench.core.paths import exclusive_lock

    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    with exclusive_lock(tmp_path / "out", "scoring run"):  # as a run in progress holds it
        result = cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "out", "--metrics", "psnr")
    assert_one_line_error(result, str(tmp_path / "out"), "in use by another colorbench scoring run")
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.fixture(scope="module")
def many_sizes_split(tmp_path_factory):
    """A split whose 12 targets all have different sizes (the case that never checkpointed)."""
    from pairing import FilterSettings, build_folder
    from tests.helpers import colour_image

    folder = tmp_path_factory.mktemp("sizes")
    for i in range(12):
        Image.fromarray(colour_image(40 + i, 60 + 7 * i, 40 + 5 * i)).save(folder / f"img{i:02d}.png")
    split = build_folder(folder, features="histogram", top_k=1, synthetic=0, filters=FilterSettings(enabled=False),
                         workers=0, progress=False)
    return split, split.save(tmp_path_factory.mktemp("split") / "sizes.parquet")


def test_a_split_of_many_sizes_checkpoints_as_it_goes(many_sizes_split, tmp_path, monkeypatch):
    split, path = many_sizes_split
    assert split.table[["target_width", "target_height"]].drop_duplicates().shape[0] == len(split.table)
    pred = write_outputs(split, tmp_path / "p", shifted)
    out = tmp_path / "out"
    monkeypatch.setattr(scorer_module, "CHECKPOINT_SECONDS", 0.0)
    with interrupted_ssim(after=8), pytest.raises(_Interrupt):
        score(path, pred, metrics=["ssim", "psnr"], out_dir=out, workers=0, progress=False)
    saved = sum(len(np.load(shard)["pairs"]) for shard in (out / ".partial" / "rank-0").glob("shard-*.npz"))
    assert saved == 7  # every pair finished before the interruption is in the checkpoint
    resumed = score(path, pred, metrics=["ssim", "psnr"], out_dir=out, workers=0, progress=False, resume=True)
    full = score(path, pred, metrics=["ssim", "psnr"], workers=0, progress=False)
    pd.testing.assert_frame_equal(resumed.per_image, full.per_image)


def test_waiting_pairs_stay_within_the_pixel_budget(many_sizes_split, tmp_path, monkeypatch):
    """Decoded pairs waiting for a batch never exceed the budget, however many sizes the split has."""
    split, path = many_sizes_split
    pred = write_outputs(split, tmp_path / "p")
    largest = int((split.table.target_width * split.table.target_height).max())
    budget = 3 * largest
    peak = {"pixels": 0}
    real_add = scorer_module._Pass.add

    def add(self, item):
        real_add(self, item)
        peak["pixels"] = max(peak["pixels"], self.pending_pixels)

    monkeypatch.setattr(scorer_module._Pass, "add", add)
    result = score(path, pred, metrics=["ssim"], workers=0, progress=False, batch_pixels=budget)
    assert 0 < peak["pixels"] <= scorer_module.MAX_PENDING_BATCHES * budget
    assert np.allclose(result.per_image["ssim"], 1.0)


def test_partial_results_say_so(image_split, tmp_path):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    (pred / f"{split.table.pair_id.iloc[0]}.png").unlink()
    result = score(path, pred, metrics=["psnr"], workers=0, progress=False, allow_missing=True)
    assert result.summary["pairs"]["scored"] == len(split.table) - 1
    assert result.summary["pairs"]["total"] == len(split.table)


@pytest.mark.parametrize("args, message", [
    (["--workers", "-1"], "argument --workers: '-1' is not a whole number >= 0"),
    (["--batch-size", "0"], "argument --batch-size: '0' is not a whole number >= 1"),
    (["--batch-pixels", "many"], "argument --batch-pixels: 'many' is not a whole number >= 1"),
])
def test_cli_numbers_are_checked_by_the_parser(image_split, tmp_path, cli, args, message):
    split, path = image_split
    result = cli("score", "--split", path, "--pred", tmp_path, "--out", tmp_path / "o", *args)
    assert_one_line_error(result, message)


def test_cli_out_that_is_a_file_fails_before_any_work(image_split, tmp_path, cli):
    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    (tmp_path / "taken").write_text("a file")
    result = cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "taken", "--metrics", "ssim")
    assert_one_line_error(result, "--out", "taken is a file; it must be a folder")
    assert "scoring" not in result.stderr  # no progress bar: nothing was scored


def test_lossy_and_16_bit_outputs_are_warned_about(image_split, tmp_path):
    from tests.helpers import png_16bit

    split, path = image_split
    pred = write_outputs(split, tmp_path / "p")
    first, second = split.table.pair_id.iloc[:2]
    Image.open(pred / f"{first}.png").save(pred / f"{first}.png", format="JPEG")  # a JPEG named .png
    rgb = read_rgb(pred / f"{second}.png")
    (pred / f"{second}.png").write_bytes(png_16bit(rgb.astype(np.uint16) * 257))
    warnings = []
    result = score(path, pred, metrics=["psnr"], workers=0, progress=False, warn=warnings.append)
    assert any(f"{first}.png: a JPEG file named .png (lossy outputs change every metric)" in w for w in warnings)
    assert any(f"{second}.png: 16-bit RGB output reduced to 8 bits per channel" in w for w in warnings)
    assert result.summary["meta"]["converted_or_resized"] == 2
    assert np.isinf(result.per_image.set_index("pair_id").loc[second, "psnr"])  # the high byte is the image


def test_moved_images_are_found_with_images_and_pool_images(coco_copy, tmp_path, cli):
    images, _, _ = coco_copy
    split = build_image_level(images, features="histogram", top_k=1, synthetic=1, workers=0, progress=False)
    path = split.save(tmp_path / "split.parquet")
    pred = write_outputs(split, tmp_path / "p", shifted)
    moved = images.rename(tmp_path / "moved")
    assert_one_line_error(cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "o", "--metrics", "psnr"),
                          "no such file")
    result = cli("score", "--split", path, "--pred", pred, "--out", tmp_path / "o", "--metrics", "psnr", "--images",
                 moved, "--pool-images", moved, "--workers", "0")
    assert result.returncode == 0, result.stderr
    result = cli("baseline", "gray", "--split", path, "--out", tmp_path / "g", "--images", moved, "--pool-images",
                 moved, "--workers", "0")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "g").glob("*.png"))) == len(split.table)
