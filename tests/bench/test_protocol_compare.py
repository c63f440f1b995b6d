"""protocol_sensitivity: the same outputs under every rule set, each image decoded once, equal to single runs."""

from collections import Counter

import numpy as np
import pytest

import bench.pairs_io as pairs_io
from bench import protocol_sensitivity, score
from bench.core.images import read_rgb, write_png
from bench.demo_data import demo_annotations_path, demo_images_dir
from pairing import build_folder

QUIET = {"workers": 0, "progress": False}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The bundled photographs as an image-level split, and outputs: each ground truth desaturated
    with a warm cast (a plausible, imperfect colorization)."""
    root = tmp_path_factory.mktemp("demo-compare")
    split = build_folder(demo_images_dir(), annotations=demo_annotations_path(), features="histogram", top_k=1,
                         synthetic=0, **QUIET)
    path = split.save(root / "split.parquet")
    pred = root / "pred"
    pred.mkdir()
    for row in split.table.itertuples():
        rgb = read_rgb(split.target_file(row)).astype(np.float64)
        gray = rgb.mean(axis=2, keepdims=True)
        write_png(pred / f"{row.pair_id}.png", np.clip(0.6 * rgb + 0.4 * gray + [10, 0, -12], 0, 255).astype(np.uint8))
    return split, path, pred


def test_sensitivity_table_on_the_demo_photographs(demo, random_weights, monkeypatch, capsys):
    split, path, pred = demo
    random_weights("inception_fid", "inception_v3_torchvision")
    reads = Counter()
    read_file = pairs_io.read_file

    def counting(file):
        reads[str(file)] += 1
        return read_file(file)

    monkeypatch.setattr(pairs_io, "read_file", counting)
    result = protocol_sensitivity(path, pred, partial_batch=2, **QUIET)
    outputs = [f for f in reads if f.startswith(str(pred))]
    assert len(outputs) == len(split.table) and set(Counter({f: reads[f] for f in outputs}).values()) == {1}
    compare_reads = sum(reads.values())
    reads.clear()
    score(path, pred, metrics=["ssim"], **QUIET)
    assert compare_reads == sum(reads.values())  # no more decoding than one scoring run, for every rule set

    wide = result.wide()
    text = result.format()
    with capsys.disabled():  # the table, shown with -s (random stand-in Inception weights: FID rows exercise code)
        print("\n" + text)
    assert text.splitlines()[0].split()[:2] == ["ssim", "psnr"] and "\nspread " in text
    for rules in ("default", "resize: squash 256", "colourfulness: abs", "gt through Lab", "msa-image",
                  "ct2-imagenet-val5k", "ddcolor-imagenet-val5k"):
        assert rules in wide.columns, rules
    assert "msa-object" not in wide.columns  # an object protocol does not fit an image split
    # Each rule set changes its own metrics' values, and the spread is what the columns show.
    assert wide.loc["colorfulness", "colourfulness: abs"] != pytest.approx(wide.loc["colorfulness", "default"])
    assert wide.loc["fid", "fid: torchvision [-1,1]"] != pytest.approx(wide.loc["fid", "default"])
    assert wide.loc["fid", "fid: torchvision [0,1]"] != pytest.approx(wide.loc["fid", "fid: torchvision [-1,1]"])
    row = wide.loc["ssim"].drop("spread").dropna()
    assert wide.loc["ssim", "spread"] == pytest.approx(row.max() - row.min())
    assert all(isinstance(reason, str) and reason for reasons in result.skipped.values()
               for reason in reasons.values())  # what could not run (weights absent here) is named, never a number

    # Each column equals a plain scoring run under those settings.
    plain = score(path, pred, metrics=["ssim", "colorfulness_diff", "colorfulness_set_diff", "fid"], **QUIET)
    for key in ("ssim", "colorfulness_diff", "colorfulness_set_diff", "fid"):
        assert wide.loc[key, "default"] == pytest.approx(plain.summary["metrics"][key]["value"], rel=1e-9)
    ddcolor = score(path, pred, metrics=["fid", "colorfulness", "colorfulness_set_diff"], resize=False,
                    config={"image_transform": "squash", "fid_backbone": "torchvision",
                            "fid_input_range": "zero_one", "colorfulness_form": "abs"}, **QUIET)
    for key, entry in ddcolor.summary["metrics"].items():
        assert wide.loc[key, "ddcolor-imagenet-val5k"] == pytest.approx(entry["value"], rel=1e-9), key
