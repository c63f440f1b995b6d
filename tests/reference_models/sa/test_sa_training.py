"""SA with the shared trainer, and the authors' checkpoint through ``colorbench colorize sa``."""

from __future__ import annotations

import json

from bench.core.images import read_rgb
from reference_models.training.loop import train
from tests.reference_models.sa.test_sa_model import random_official_checkpoint


def test_sa_trains_with_the_shared_loop(training_splits, tmp_path, random_weights, monkeypatch):
    random_weights("vgg19_bn")
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "sa.json"
    config.write_text(json.dumps({"batch_size": 2, "workers": 0, "loss": {"lpips_weight": 0, "smooth_l1_weight": 20},
                                  "model": {"input_size": 32, "superpixel_segments": 32}}))
    run = train("sa", training_splits[0], tmp_path / "run", config_file=config, max_steps=2, device="cpu",
                progress=False)
    assert run.steps == 2 and run.first_loss > 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"] == {"input_size": 32, "superpixel_segments": 32} and saved["lr"] == 1e-5


def test_the_authors_checkpoint_colorizes_a_pair_from_the_cli(tiny_coco, tmp_path, random_weights, cli):
    random_weights("vgg19_bn")
    checkpoint = tmp_path / "checkpoint.pt"
    random_official_checkpoint(checkpoint)
    target, reference = tiny_coco[0] / "000000000001.jpg", tiny_coco[0] / "000000000003.jpg"
    result = cli("colorize", "sa", "--checkpoint", checkpoint, "--target", target, "--reference", reference,
                 "--out", tmp_path / "sa.png", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert read_rgb(tmp_path / "sa.png").shape == read_rgb(target).shape
