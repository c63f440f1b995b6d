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


def test_a_model_trained_here_colorizes_from_the_views_it_trained_on(random_weights):
    """SA's training views and its colorize preprocessing are one function: the arrays a trained model
    sees when it colorizes a pair equal those of the training sample of the same pair (8-bit views);
    the released model keeps the released float pipeline."""
    import numpy as np

    from reference_models.sa.model import SAConfig, SAGenerator
    from reference_models.sa.training import SATask
    from reference_models.training.config import TrainConfig
    from tests.helpers import colour_image

    random_weights("vgg19_bn")
    target, reference = colour_image(0, 61, 47), colour_image(1, 50, 70)
    task = SATask(TrainConfig(model={"input_size": 32, "superpixel_segments": 32}))
    sample = task.sample(task.view(target, None, "target"), task.view(reference, None, "reference"),
                         np.random.default_rng(0))
    trained = SAGenerator.from_config(task.model_config)
    prepared = trained.preparer()(target, reference, None, None)
    np.testing.assert_allclose(prepared.target_map, sample["target_map"][0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(prepared.reference_l, sample["reference_l"][0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(prepared.reference_rgb.transpose(2, 0, 1), sample["reference_rgb"], rtol=0, atol=1e-6)
    for level, labels in enumerate(prepared.target_labels):
        assert np.array_equal(labels, sample["target_labels"][level])
        assert np.array_equal(prepared.reference_labels[level], sample["reference_labels"][level])
    released = SAGenerator.from_config(SAConfig(input_size=32, superpixel_segments=32))
    assert released.official_compat and not released.preparer().keywords["quantize"]
