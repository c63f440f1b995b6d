"""Protocols: every entry cites its source, scores a tiny split of its kind and records its rules."""

import json

import numpy as np
import pytest
from PIL import Image

from bench import score
from bench.core.errors import ColorbenchError
from bench.core.images import read_rgb, write_png
from bench.eval_prep import center_crop_resize, squash
from bench.metrics.registry import METRICS, get_metric
from bench.protocols import PROTOCOLS, get_protocol
from pairing import build_image_level, build_imagenet10k, build_imagenet_val5k, build_object_level
from tests.helpers import assert_one_line_error

QUIET = {"workers": 0, "progress": False}


def _photo(seed: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))


@pytest.fixture(scope="module")
def splits(tiny_coco, tmp_path_factory):
    """A tiny split of each kind a protocol asks for, saved: name -> path."""
    root = tmp_path_factory.mktemp("protocol-splits")
    val = root / "val"
    (val / "n01000001").mkdir(parents=True)
    lines = []
    for index in range(1, 6):
        name = f"ILSVRC2012_val_{index:08d}.JPEG"
        Image.fromarray(_photo(index, 48 + 4 * index, 64)).save(val / name, quality=95)
        (val / "n01000001" / name).write_bytes((val / name).read_bytes())
        lines.append(f"/n01000001/{name} 1")
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    built = {"image-level": build_image_level(tiny_coco[0], features="histogram", top_k=1, synthetic=1, **QUIET),
             "object-level": build_object_level(tiny_coco[0], tiny_coco[1], refs=1, synthetic=1, **QUIET),
             "imagenet10k": build_imagenet10k(val, root / "list.txt", pool_images=None, top_k=0, synthetic=1,
                                              device="cpu", **QUIET),
             "imagenet-val5k": build_imagenet_val5k(val, count=5, **QUIET)}
    return {name: split.save(root / f"{name}.parquet") for name, split in built.items()}


def _outputs(split_path, folder, prep=None, size=256):
    """The ground truth with a colour cast (at the protocol's evaluation size when it resizes)."""
    from bench.core.splits import load_split

    split = load_split(split_path)
    folder.mkdir(parents=True)
    for row in split.table.itertuples():
        rgb = read_rgb(split.target_file(row))
        rgb = {"squash": squash, "center_crop_resize": center_crop_resize}[prep](rgb, size) if prep else rgb
        write_png(folder / f"{row.pair_id}.png", np.clip(rgb.astype(int) + [14, -9, 4], 0, 255).astype(np.uint8))
    return folder


def test_every_protocol_cites_its_source_and_names_real_metrics_and_settings():
    assert set(PROTOCOLS) >= {"msa-image", "msa-object", "spcolor-imagenet10k", "ct2-imagenet-val5k",
                              "ddcolor-imagenet-val5k"}
    assert PROTOCOLS.incomplete() == {}
    for name, protocol in PROTOCOLS.items():
        assert all(metric in METRICS for metric in protocol.metrics), name
        assert "/" in protocol.source or "paper" in protocol.source, name
        assert protocol.config() is not None  # every setting is a ScoreConfig field with a valid value
    ct2, ddcolor = get_protocol("ct2-imagenet-val5k").config(), get_protocol("ddcolor-imagenet-val5k").config()
    assert (ct2.fid_backbone, ct2.fid_input_range, ddcolor.fid_input_range) == ("torchvision", "minus_one_one",
                                                                                  "zero_one")
    assert (ct2.colorfulness_form, ddcolor.colorfulness_form) == ("abs", "abs")
    with pytest.raises(ColorbenchError, match="did you mean"):
        get_protocol("ct2-imagenet")


CASES = {  # protocol -> (split kind, outputs' preparation, metric keys the summary must hold)
    "msa-image": ("image-level", None, {"ssim", "lpips", "fid", "lpips_r", "delta_his"}),
    "msa-object": ("object-level", None, {"lpips@object", "fid@object", "fid_inf@object", "lpips_r@object",
                                          "delta_his@object"}),
    "spcolor-imagenet10k": ("imagenet10k", None, {"fid", "top1", "top5"}),
    "ct2-imagenet-val5k": ("imagenet-val5k", "center_crop_resize",
                           {"ssim", "psnr", "lpips_vgg", "fid", "colorfulness", "colorfulness_set_diff"}),
    "ddcolor-imagenet-val5k": ("imagenet-val5k", "squash", {"fid", "colorfulness", "colorfulness_set_diff"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_protocol_scores_a_tiny_split_and_records_its_rules(name, splits, random_weights, tmp_path):
    kind, prep, keys = CASES[name]
    protocol = get_protocol(name)
    networks = {network for metric in protocol.metrics
                for network in get_metric(metric).networks_for(protocol.config())}
    random_weights(*(n for n in networks if not n.endswith("_linear")))
    pred = _outputs(splits[kind], tmp_path / "pred", prep)
    result = score(splits[kind], pred, protocol=name, out_dir=tmp_path / "out", **QUIET)
    assert set(result.summary["metrics"]) == keys
    assert result.summary["level"] == ("object" if protocol.level == "object" else "image")
    recorded = json.loads((tmp_path / "out" / "summary.json").read_text())["meta"]
    assert recorded["protocol"]["name"] == name and recorded["protocol"]["source"] == protocol.source
    assert recorded["protocol"]["overrides"] == {}
    for key, value in protocol.settings:
        assert recorded["config"][key] == (list(value) if isinstance(value, tuple) else value), key
    if protocol.config().fid_backbone == "torchvision":
        assert result.summary["metrics"]["fid"]["backbone"] == "torchvision"
        assert "inception_v3_torchvision" in recorded["networks"]
    for entry in result.summary["metrics"].values():
        assert entry["value"] is not None


def test_a_split_that_does_not_fit_is_refused_in_one_line(splits, tmp_path, cli):
    pred = _outputs(splits["image-level"], tmp_path / "pred")
    with pytest.raises(ColorbenchError, match="protocol spcolor-imagenet10k scores splits built by imagenet10k"):
        score(splits["image-level"], pred, protocol="spcolor-imagenet10k", **QUIET)
    with pytest.raises(ColorbenchError, match="fixes the metrics"):
        score(splits["image-level"], pred, protocol="msa-image", metrics=["ssim"], **QUIET)
    result = cli("score", "--split", str(splits["image-level"]), "--pred", str(pred), "--out", str(tmp_path / "o"),
                 "--protocol", "msa-object")
    assert_one_line_error(result, "protocol msa-object scores splits built by object-level")


def test_settings_given_with_a_protocol_override_it_and_are_recorded(splits, tmp_path):
    pred = _outputs(splits["imagenet-val5k"], tmp_path / "pred", "squash")
    result = score(splits["imagenet-val5k"], pred, protocol="ddcolor-imagenet-val5k", out_dir=tmp_path / "out",
                   config={"colorfulness_form": "hasler", "fid_inf_seed": 0}, **QUIET)
    meta = result.summary["meta"]
    assert meta["protocol"]["overrides"] == {"colorfulness_form": "hasler"}  # a default-valued key changes nothing
    assert meta["config"]["colorfulness_form"] == "hasler" and meta["config"]["image_transform"] == "squash"


def test_a_reference_free_split_skips_reference_metrics_with_the_reason(splits, tmp_path, random_weights):
    pred = _outputs(splits["imagenet-val5k"], tmp_path / "pred")
    result = score(splits["imagenet-val5k"], pred, metrics=["ssim", "lpips_r", "delta_his", "colorfulness"],
                   **QUIET)
    assert set(result.summary["metrics"]) == {"ssim", "colorfulness"}
    for name in ("lpips_r", "delta_his"):
        assert "needs a reference" in result.summary["skipped"][name]
        assert "has no references (built by imagenet-val5k)" in result.summary["skipped"][name]
    default = score(splits["imagenet-val5k"], pred, **QUIET)  # the default set: the same rule
    assert "lpips_r" in default.summary["skipped"] and "delta_his" in default.summary["skipped"]
    assert "ssim" in default.summary["metrics"]
