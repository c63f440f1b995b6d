"""Colorizing with a trained checkpoint: every pair of a split (scored as any method's outputs),
one pair of a user's photos, a checkpoint round trip, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.core.images import read_rgb, write_png
from reference_models import colorize_split, create_model, load
from reference_models.training.checkpoints import save_checkpoint
from tests.helpers import assert_one_line_error
from tests.reference_models.conftest import TINY_MSA


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny, untrained MSA saved as ``colorbench train`` saves one."""
    torch.manual_seed(0)
    model = create_model("msa", **TINY_MSA)
    folder = tmp_path_factory.mktemp("checkpoint")
    return save_checkpoint(folder, 1, model, "msa", model.config.as_dict(), {}), model


def test_a_checkpoint_loads_into_the_same_network(tiny_checkpoint, tiny_coco):
    path, model = tiny_checkpoint
    loaded = load(path)
    assert type(loaded) is type(model) and loaded.config == model.config.for_loading()
    gray = torch.from_numpy(read_rgb(tiny_coco[0] / "000000000001.jpg")).permute(2, 0, 1)
    reference = torch.from_numpy(read_rgb(tiny_coco[0] / "000000000003.jpg")).permute(2, 0, 1)
    assert torch.equal(loaded.colorize(gray, reference), model.eval().colorize(gray, reference))


def test_every_pair_is_written_at_its_size_and_scored(tiny_checkpoint, training_splits, tmp_path):
    from bench import score
    from bench.core.splits import load_split

    path, _ = tiny_checkpoint
    for split_path, masks in zip(training_splits, (False, True)):
        split = load_split(split_path)
        out = tmp_path / split.level
        run = colorize_split("msa", path, split_path, out, device="cpu", batch_size=3, workers=0, progress=False)
        assert run.written == len(split.table)
        for row in split.table.itertuples():
            assert read_rgb(out / f"{row.pair_id}.png").shape == (row.target_height, row.target_width, 3)
        manifest = json.loads((out / "method.json").read_text())
        assert manifest["method"] == "msa" and manifest["masks"] is masks and len(manifest["checkpoint_sha256"]) == 64
        result = score(split_path, out, metrics=["ssim", "psnr"], workers=0, progress=False)
        assert result.summary["pairs"]["scored"] == len(split.table)
        again = colorize_split("msa", path, split_path, out, device="cpu", workers=0, resume=True, progress=False)
        assert (again.written, again.skipped_existing) == (0, len(split.table))


def test_the_gray_target_keeps_its_lightness(tiny_checkpoint, training_splits, tmp_path):
    """A method predicts colour: the output's CIELAB L is the target's (up to uint8 rounding and gamut clipping)."""
    from bench.core.color import rgb_to_gray, rgb_to_lab
    from bench.core.splits import load_split

    path, _ = tiny_checkpoint
    split = load_split(training_splits[0])
    colorize_split("msa", path, split, tmp_path / "out", device="cpu", workers=0, progress=False)
    row = split.table.iloc[0]
    gray = rgb_to_gray(read_rgb(split.root("images") / row.target_path))
    out = read_rgb(tmp_path / "out" / f"{row.pair_id}.png")
    assert np.median(np.abs(rgb_to_lab(out)[..., 0] - rgb_to_lab(gray)[..., 0])) < 1.0


def test_the_cli_colorizes_one_pair_and_reports_bad_input(tiny_checkpoint, tiny_coco, tmp_path, cli):
    path, _ = tiny_checkpoint
    target, reference = tiny_coco[0] / "000000000001.jpg", tiny_coco[0] / "000000000003.jpg"
    mask = tmp_path / "mask.png"
    write_png(mask, np.pad(np.full((100, 100), 255, np.uint8), ((50, 106), (100, 200))))
    result = cli("colorize", "msa", "--checkpoint", path, "--target", target, "--reference", reference,
                 "--target-mask", mask, "--out", tmp_path / "one.png", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert read_rgb(tmp_path / "one.png").shape == read_rgb(target).shape
    assert_one_line_error(cli("colorize", "msa", "--checkpoint", path, "--target", target, "--out", tmp_path / "x.png"),
                          "--target and --reference")
    assert_one_line_error(cli("colorize", "msa", "--checkpoint", tmp_path / "none.safetensors", "--target", target,
                              "--reference", reference, "--out", tmp_path / "x.png"), "none.safetensors",
                          "does not exist")
    assert_one_line_error(cli("colorize", "spcolor", "--checkpoint", path, "--target", target, "--reference",
                              reference, "--out", tmp_path / "x.png"), "holds a msa model, not spcolor")
    assert not (tmp_path / "x.png").exists()


def test_model_settings_are_checked(tmp_path):
    from bench.core.errors import ColorbenchError

    with pytest.raises(ColorbenchError, match="unknown MSA setting.*fusoin"):
        create_model("msa", fusoin="add")
    with pytest.raises(ColorbenchError, match="did you mean msa"):
        create_model("mas")
    plain = tmp_path / "plain.pt"
    torch.save({"w": torch.zeros(1)}, plain)
    with pytest.raises(ColorbenchError, match="does not say which model"):
        load(plain)


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="gloo processes on Linux")
def test_two_processes_colorize_what_one_does(tiny_checkpoint, training_splits, tmp_path, cli):
    """``torchrun --nproc_per_node 2 colorbench colorize`` (gloo, CPU): each process colorizes its share of
    the pairs; one pair per batch in both runs, so every output equals the one-process run's."""
    from tests.helpers import run_torchrun

    path, _ = tiny_checkpoint
    for split_path in training_splits:  # image level, and object level with the masks
        args = ["colorize", "msa", "--checkpoint", path, "--split", split_path, "--device", "cpu", "--workers", "0",
                "--batch-size", "1"]
        out = tmp_path / split_path.stem
        single = cli(*args, "--out", out / "one")
        assert single.returncode == 0, single.stderr
        launch = run_torchrun(tmp_path / "logs" / split_path.stem, *args, "--out", out / "two")
        assert launch.codes == {0: 0, 1: 0}, launch.output[-3000:]
        one, two = (sorted((out / name).glob("*.png")) for name in ("one", "two"))
        assert [p.name for p in one] == [p.name for p in two] and len(one) > 2
        for a, b in zip(one, two):
            assert np.array_equal(read_rgb(a), read_rgb(b)), a.name
        assert (out / "one" / "method.json").read_bytes() == (out / "two" / "method.json").read_bytes()
