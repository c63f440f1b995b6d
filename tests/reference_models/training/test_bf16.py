"""``amp = "bf16"``: a training step of each model under bf16 autocast, also on a CPU (where ``auto``
means float32), through the real loop; the precision of each part is tested next to it."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from reference_models.spcolor.training import SPColorTask
from reference_models.superattention.training import MSATask, SATask
from reference_models.training.loop import train
from tests.reference_models.conftest import TINY
from tests.reference_models.spcolor.test_training import TINY_SPCOLOR

#: (task, random weights, the tests' tiny settings with every loss term on: LPIPS (AlexNet, the
#: smaller network) for MSA, the contextual loss for SPColor, and terms that must come out > 0)
CONFIGS = {
    "msa": (MSATask, ("alexnet",), {**TINY, "task": {"loss": {"lpips_weight": 0.15, "lpips_net": "alexnet"}}},
            ("smooth_l1", "lpips")),
    "sa": (SATask, ("vgg19_bn",), {"batch_size": 2, "workers": 0,
                                   "task": {"loss": {"lpips_weight": 0, "smooth_l1_weight": 20}},
                                   "model": {"input_size": 32, "superpixels": {"base_segments": 32}}}, ("smooth_l1",)),
    "spcolor": (SPColorTask, ("vgg19",),
                {**TINY_SPCOLOR, "model": {**TINY_SPCOLOR["model"], "contextual_weight": 0.2}},
                ("discriminator", "adversarial", "smoothness", "contextual")),
}


@pytest.mark.parametrize("model", list(CONFIGS))
def test_a_bf16_step_runs_under_autocast_and_gives_finite_losses(model, training_splits, tmp_path, random_weights,
                                                                 monkeypatch):
    task, weights, config, positive = CONFIGS[model]
    random_weights(*weights)
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    autocast_on = []  # at each forward of the network: was bf16 autocast on?
    build = task.build_model

    def build_model(self):
        net = build(self)
        net.register_forward_hook(lambda *args: autocast_on.append(
            torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16))
        return net

    monkeypatch.setattr(task, "build_model", build_model)
    run = train(model, training_splits[0], tmp_path / "run", config={**config, "amp": "bf16"}, max_steps=1,
                device="cpu", progress=False)
    assert run.steps == 1 and autocast_on and all(autocast_on)
    (row,) = csv.DictReader((tmp_path / "run" / "log.csv").open())
    terms = {name: float(value) for name, value in row.items() if name not in ("step", "epoch", "seconds")}
    assert all(math.isfinite(value) for value in terms.values()), terms
    assert all(terms[name] > 0 for name in ("loss", *positive)), terms
