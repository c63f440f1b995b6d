"""Training SPColor with the shared loop (tiny widths at 192 x 192, the discriminator's smallest
input; VGG19 with random stand-in weights): the k-means prior fit on the split, checkpoints that
hold only what training changes, an exact resume with the discriminator and schedules, colorize,
and bad input as one line."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from safetensors.torch import load_file

from bench.core.errors import ColorbenchError
from reference_models import colorize_split, load
from reference_models.spcolor.training import SPColorTask, spcolor_config
from reference_models.training.config import TrainConfig
from reference_models.training.loop import train
from tests.helpers import assert_one_line_error

#: batch 2, no workers, a checkpoint and a log row every step
TINY_SPCOLOR = {"batch_size": 2, "workers": 0, "checkpoint_every": 1, "log_every": 1,
                "model": {"preset": "tiny", "image_size": 192}}


@pytest.fixture
def setup(random_weights, tmp_path, monkeypatch):
    random_weights("vgg19")
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tiny-spcolor.json"
    path.write_text(json.dumps(TINY_SPCOLOR))
    return path


@pytest.fixture(scope="module")
def trained(training_splits, build_offline, tmp_path_factory):
    """One run of a single step on the image-level split, shared by the tests that only need a trained
    checkpoint (each would otherwise train its own)."""
    folder = tmp_path_factory.mktemp("spcolor-trained")
    setup = folder / "tiny-spcolor.json"
    setup.write_text(json.dumps(TINY_SPCOLOR))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLORBENCH_CACHE", str(folder / "cache"))
        return build_offline(["vgg19"], lambda: train("spcolor", training_splits[0], folder / "run", config_file=setup,
                                                       max_steps=1, device="cpu", progress=False))


def _log(run_dir) -> dict[str, dict]:
    """The logged losses by step (not the seconds)."""
    return {row["step"]: {k: v for k, v in row.items() if k != "seconds"}
            for row in csv.DictReader((run_dir / "log.csv").open())}


def test_resume_continues_exactly_and_checkpoints_hold_what_training_changes(training_splits, tmp_path, setup):
    """3 steps at once = 2 steps, stop, resume to 3: the same losses at every step and the same
    weights (networks, discriminator, schedules and k-means centres all restored)."""
    straight = train("spcolor", training_splits[0], tmp_path / "a", config_file=setup, max_steps=3, device="cpu",
                     progress=False)
    train("spcolor", training_splits[0], tmp_path / "b", config_file=setup, max_steps=2, device="cpu", progress=False)
    resumed = train("spcolor", training_splits[0], tmp_path / "b", config_file=setup, max_steps=3, device="cpu",
                    resume=True, progress=False)
    assert (resumed.steps, resumed.total_steps) == (1, 3) and resumed.weights_digest == straight.weights_digest
    assert _log(tmp_path / "a") == _log(tmp_path / "b") and len(_log(tmp_path / "a")) == 3
    first = _log(tmp_path / "a")["1"]
    assert {"loss", "discriminator", "l1", "smp", "adversarial", "smoothness"} <= set(first)
    assert float(first["loss"]) > 0 and float(first["discriminator"]) > 0

    weights = load_file(str(straight.checkpoint))
    assert all(k.startswith(("correspondence.", "colornet.")) or k == "prior.centroids" for k in weights)
    assert weights["prior.centroids"].shape == (5, 1024)  # fit on the split's targets, k = 5 (tiny)
    assert not any(k.startswith("vgg.") for k in weights)  # the frozen VGG19 comes from its own file
    state = torch.load(straight.checkpoint.with_name("step-00000003.state.pt"), weights_only=True)
    assert len(state["optimizers"]) == 2 and state["task"]["schedulers"][0]["last_epoch"] == 3
    assert any(k.startswith("attention.") for k in state["task"]["discriminator"])
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["epochs"] is None and config["p_synthetic"] == 0.0 and config["task"] == {}  # the paper's run


def test_a_trained_checkpoint_colorizes_a_split_without_masks(trained, training_splits, tmp_path, setup):
    from bench.core.images import read_rgb
    from bench.core.splits import load_split

    run = trained
    network = load(run.checkpoint)
    assert type(network).__name__ == "SPColor" and network.prior.fitted and network.config.image_size == 192
    weights = load_file(str(run.checkpoint))
    assert all(torch.equal(network.checkpoint_state_dict()[k], v) for k, v in weights.items())
    for split_path in training_splits:  # the object-level split too: SPColor takes no masks
        split = load_split(split_path)
        out = tmp_path / split.level
        done = colorize_split("spcolor", run.checkpoint, split_path, out, device="cpu", batch_size=3, workers=0,
                              progress=False)
        assert done.written == len(split.table)
        assert json.loads((out / "method.json").read_text())["masks"] is False
        row = split.table.iloc[0]
        assert read_rgb(out / f"{row.pair_id}.png").shape == (row.target_height, row.target_width, 3)
    with pytest.raises(ColorbenchError, match="uses no object masks"):
        colorize_split("spcolor", run.checkpoint, training_splits[1], tmp_path / "masked", masks=True, device="cpu",
                       workers=0, progress=False)


def test_the_cli_colorizes_one_pair_and_refuses_masks(trained, tmp_path, setup, tiny_coco, cli):
    from bench.core.images import read_rgb, write_png

    run = trained
    target, reference = tiny_coco[0] / "000000000001.jpg", tiny_coco[0] / "000000000003.jpg"
    result = cli("colorize", "spcolor", "--checkpoint", run.checkpoint, "--target", target, "--reference", reference,
                 "--out", tmp_path / "one.png", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert read_rgb(tmp_path / "one.png").shape == read_rgb(target).shape
    mask = tmp_path / "mask.png"
    write_png(mask, (read_rgb(target) > 100).astype("uint8") * 255)
    assert_one_line_error(cli("colorize", "spcolor", "--checkpoint", run.checkpoint, "--target", target,
                              "--reference", reference, "--target-mask", mask, "--out", tmp_path / "two.png"),
                          "SPColor uses no object masks")
    assert not (tmp_path / "two.png").exists()


def test_colorize_prepared_equals_colorize(trained, setup, tiny_coco):
    from bench.core.images import read_rgb

    run = trained
    network = load(run.checkpoint)
    gray, reference = (read_rgb(tiny_coco[0] / name) for name in ("000000000001.jpg", "000000000003.jpg"))
    prepared = network.colorize_prepared([network.preparer()(gray, reference)])[0]
    direct = network.colorize(torch.from_numpy(gray).permute(2, 0, 1), torch.from_numpy(reference).permute(2, 0, 1))
    torch.testing.assert_close(prepared, direct, atol=1e-6, rtol=0)


def test_settings_go_where_they_belong():
    config = spcolor_config(TrainConfig.from_dict({"batch_size": 4, "max_steps": 7, "model": {
        "preset": "released-code", "num_classes": 9, "generator_lr": 1e-4}}))
    assert (config.generator_lr, config.num_classes) == (1e-4, 9)
    assert config.colornet_lr_multiplier == 20.0 and config.contextual_weight == 0.2  # the preset's
    assert not hasattr(config, "batch_size") and not hasattr(config, "iterations")  # the run's: TrainConfig's
    with pytest.raises(ColorbenchError, match="unknown SPColor setting"):
        spcolor_config(TrainConfig.from_dict({"model": {"num_clases": 3}}))
    with pytest.raises(ColorbenchError, match="unknown SPColor setting.*batch_size"):
        spcolor_config(TrainConfig.from_dict({"model": {"batch_size": 3}}))
    with pytest.raises(ColorbenchError, match="did you mean released-code"):
        spcolor_config(TrainConfig.from_dict({"model": {"preset": "released"}}))
    with pytest.raises(ColorbenchError, match="prior_fit_image"):
        SPColorTask(TrainConfig.from_dict({"task": {"prior_fit_image": 3}}))
    with pytest.raises(ColorbenchError, match="prior_fit_images must be an integer"):
        SPColorTask(TrainConfig.from_dict({"task": {"prior_fit_images": "all"}}))
    assert SPColorTask(TrainConfig.from_dict({"task": {"prior_fit_images": 3}})).task_config.prior_fit_images == 3
    with pytest.raises(ColorbenchError, match=r"loss, lr belong in the \[task\] table"):
        TrainConfig.from_dict({"lr": 1e-3, "loss": "sa-code"})  # a config file of the old layout
    paper = SPColorTask.default_config(1)
    assert (paper.batch_size, paper.epochs, paper.max_steps, paper.p_synthetic) == (16, None, 120_000, 0.0)


@pytest.mark.parametrize("case", ["level", "key", "vgg19", "stego"])
def test_bad_input_is_one_line_and_writes_nothing(case, training_splits, tmp_path, setup, cli, monkeypatch):
    out = tmp_path / "run"
    config = dict(TINY_SPCOLOR)
    split = training_splits[0]
    if case == "level":
        split = training_splits[1]
        expected = ("spcolor phase 1 trains on image-level splits", "object level")
    elif case == "key":
        config["model"] = {**config["model"], "num_clases": 3}
        expected = ("unknown SPColor setting(s) num_clases", "known:")
    elif case == "vgg19":
        home = tmp_path / "empty_torch_home"
        home.mkdir()
        monkeypatch.setenv("TORCH_HOME", str(home))
        expected = ("vgg19-dcbb9e9d.pth", "hub/checkpoints")
    else:  # the paper's prior without its checkpoint
        config["model"] = {**config["model"], "prior": "stego", "num_classes": 27}
        expected = ("cocostuff27_vit_base_5.ckpt", "prior=\"kmeans\"")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert_one_line_error(cli("train", "spcolor", "--split", split, "--out", out, "--config", path, "--max-steps", "1",
                              "--device", "cpu"), *expected)
    assert not out.exists()
