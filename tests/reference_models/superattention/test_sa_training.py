"""SA with the shared trainer, and the authors' checkpoint through ``colorbench colorize sa``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.core.errors import ColorbenchError
from bench.core.images import read_rgb
from reference_models.superattention.config import SAConfig
from reference_models.superattention.released_preprocess import preprocess_pair
from reference_models.superattention.sa import SAGenerator
from reference_models.superattention.training import SATask
from reference_models.training.config import TrainConfig
from reference_models.training.loop import train
from tests.helpers import colour_image
from tests.reference_models.superattention.test_sa_model import random_official_checkpoint

SMALL = {"input_size": 32, "superpixels": {"base_segments": 32}}


def test_sa_trains_with_the_shared_loop(training_splits, tmp_path, random_weights, monkeypatch):
    random_weights("vgg19_bn")
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "sa.json"
    config.write_text(json.dumps({"batch_size": 2, "workers": 0, "model": SMALL,
                                  "task": {"loss": {"lpips_weight": 0, "smooth_l1_weight": 20}}}))
    run = train("sa", training_splits[0], tmp_path / "run", config_file=config, max_steps=2, device="cpu",
                progress=False)
    assert run.steps == 2 and run.first_loss > 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"] == SMALL and saved["task"]["loss"]["smooth_l1_weight"] == 20
    task = SATask(TrainConfig.from_dict(saved))
    assert (task.task_config.lr, task.task_config.betas) == (1e-5, (0.9, 0.999))  # the authors' training code
    assert task.model_config.superpixels.levels == 3 and not task.model_config.official_compat
    with pytest.raises(ColorbenchError, match="official_compat"):
        SATask(TrainConfig(model={**SMALL, "official_compat": True}))
    with pytest.raises(ColorbenchError, match="sa model setting: superpixels.levels must be 3"):
        SATask(TrainConfig(model={"superpixels": {"levels": 4}}))


def test_the_authors_checkpoint_colorizes_a_pair_from_the_cli(tiny_coco, tmp_path, random_weights, cli):
    random_weights("vgg19_bn")
    checkpoint = tmp_path / "checkpoint.pt"
    random_official_checkpoint(checkpoint)
    target, reference = tiny_coco[0] / "000000000001.jpg", tiny_coco[0] / "000000000003.jpg"
    result = cli("colorize", "sa", "--checkpoint", checkpoint, "--target", target, "--reference", reference,
                 "--out", tmp_path / "sa.png", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert read_rgb(tmp_path / "sa.png").shape == read_rgb(target).shape


def test_a_model_trained_here_colorizes_from_the_views_it_trained_on(random_weights):
    """SA's training samples and its colorize preprocessing are one function: a trained model
    colorizes a pair from exactly the training sample of that pair (8-bit views); the released
    model keeps the released float pipeline."""
    random_weights("vgg19_bn")
    target, reference = colour_image(0, 61, 47), colour_image(1, 50, 70)
    task = SATask(TrainConfig(model=SMALL))
    sample = task.sample(task.view(target, None, "target"), task.view(reference, None, "reference"),
                         np.random.default_rng(0))
    trained = SAGenerator.from_config(task.model_config)
    prepared = trained.preparer()(target, reference, None, None)
    for name, value in sample.items():
        if name.endswith("labels"):
            assert all(np.array_equal(a, b) for a, b in zip(prepared[name], value, strict=True)), name
        else:
            assert np.array_equal(prepared[name], value), name
    assert prepared["target_input"].shape == (3, 32, 32) and len(prepared["target_labels"]) == 3
    rgb = trained.colorize_prepared([prepared])[0]
    assert rgb.shape == (3, 47, 61)
    released = SAGenerator.from_config(SAConfig.from_dict(SMALL))
    assert released.official_compat and released.preparer().func is preprocess_pair
