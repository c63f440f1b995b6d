"""The shared training loop: checkpoints, exact resume, logs, and every bad input as one line."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from safetensors.torch import load_file

from bench.core.errors import ColorbenchError
from reference_models.training.loop import train
from tests.helpers import assert_one_line_error
from tests.reference_models.conftest import TINY


def _weights(run_dir, step):
    return load_file(str(run_dir / "checkpoints" / f"step-{step:08d}.safetensors"))


def test_a_short_run_writes_its_checkpoints_settings_and_log(training_splits, tmp_path, tiny_config, monkeypatch):
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    run = train("msa", training_splits[0], tmp_path / "run", config_file=tiny_config, max_steps=3, device="cpu",
                progress=False)
    assert (run.steps, run.total_steps) == (3, 3) and run.first_loss > 0 and len(run.weights_digest) == 64
    out = tmp_path / "run"
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 3
    assert run.checkpoint == out / "checkpoints" / "step-00000003.safetensors"
    config = json.loads((out / "config.json").read_text())
    assert config["batch_size"] == 2 and config["epochs"] == 40 and config["max_steps"] == 3  # the paper's, resolved
    assert config["task"] == {"loss": {"lpips_weight": 0}}
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and {"loss", "smooth_l1", "lpips"} <= set(rows[0])
    state = torch.load(out / "checkpoints" / "step-00000003.state.pt", weights_only=True)
    assert state["step"] == 3 and "optimizers" in state and "rng" in state
    with pytest.raises(ColorbenchError, match="already holds a training run .* pass --resume"):
        train("msa", training_splits[0], out, config_file=tiny_config, max_steps=4, device="cpu", progress=False)


def test_resume_continues_exactly(training_splits, tmp_path, tiny_config, monkeypatch):
    """3 steps, stop, resume to 5 = 5 steps at once: the same losses at every step, the same weights."""
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    straight = train("msa", training_splits[0], tmp_path / "a", config_file=tiny_config, max_steps=5, device="cpu",
                     progress=False)
    train("msa", training_splits[0], tmp_path / "b", config_file=tiny_config, max_steps=3, device="cpu", progress=False)
    resumed = train("msa", training_splits[0], tmp_path / "b", config_file=tiny_config, max_steps=5, device="cpu",
                    resume=True, progress=False)
    assert resumed.steps == 2 and resumed.total_steps == 5
    assert resumed.weights_digest == straight.weights_digest
    a, b = _weights(tmp_path / "a", 5), _weights(tmp_path / "b", 5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = {row["step"]: row["loss"] for row in csv.DictReader((tmp_path / "b" / "log.csv").open())}
    assert log == {row["step"]: row["loss"] for row in csv.DictReader((tmp_path / "a" / "log.csv").open())}
    with pytest.raises(ColorbenchError, match=r"other settings \(task\.lr\)"):
        train("msa", training_splits[0], tmp_path / "b", config_file=tiny_config, config={"task": {"lr": 1e-3}},
              max_steps=6, device="cpu", resume=True, progress=False)


def test_phase_two_starts_from_phase_one(training_splits, tmp_path, tiny_config, monkeypatch):
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    first = train("msa", training_splits[0], tmp_path / "p1", config_file=tiny_config, max_steps=1, device="cpu",
                  progress=False)
    second = train("msa", training_splits[1], tmp_path / "p2", phase=2, init=first.checkpoint,
                   config_file=tiny_config, max_steps=2, device="cpu", progress=False)
    assert second.steps == 2 and json.loads((tmp_path / "p2" / "run.json").read_text())["phase"] == 2


@pytest.mark.parametrize("case", ["level", "key", "weights", "other-model", "other-shape"])
def test_bad_input_is_one_line_and_writes_nothing(case, training_splits, tmp_path, tiny_config, cli, monkeypatch,
                                                 empty_torch_home):
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    image = str(training_splits[0])
    out = tmp_path / "run"
    args = ["train", "msa", "--split", image, "--out", out, "--config", tiny_config, "--max-steps", "1",
            "--device", "cpu"]
    if case == "level":  # phase 2 is the masked phase: it needs objects
        args += ["--phase", "2"]
        expected = ("msa phase 2 trains on object-level splits", "image level")
    elif case == "key":
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**TINY, "learning_rate": 1}))
        args[args.index("--config") + 1] = bad
        expected = ("unknown training setting(s) learning_rate", "known:")
    elif case == "weights":
        pretrained = tmp_path / "pretrained.json"
        pretrained.write_text(json.dumps({**TINY, "model": {**TINY["model"], "pretrained_color_encoder": True,
                                                            "color_layers": ["relu1_2", "relu2_2", "relu3_4",
                                                                             "relu4_4"]}}))
        args[args.index("--config") + 1] = pretrained
        expected = ("vgg19-dcbb9e9d.pth",)
    else:
        other = tmp_path / "other.safetensors"
        from safetensors.torch import save_file

        if case == "other-model":
            save_file({"w": torch.zeros(1)}, str(other), metadata={"colorbench_model": "spcolor"})
            expected = ("holds a spcolor model, not msa",)
        else:
            save_file({"encoder.blocks.0.0.weight": torch.zeros(1)}, str(other), metadata={"colorbench_model": "msa"})
            expected = ("does not fit msa with this configuration",)
        args += ["--init", other]
    assert_one_line_error(cli(*args), *expected)
    assert not out.exists()
