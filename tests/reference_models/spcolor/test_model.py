"""The whole SPColor model (tiny config; VGG19 with random stand-in weights), its config and optimisers.

Numbers here exercise code paths only; random weights never give meaningful colours.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.color import rgb_to_lab
from bench.core.errors import ColorbenchError
from bench.testing import calibration_batch
from reference_models.spcolor.config import SPColorConfig, preset
from reference_models.spcolor.data import make_training_sample
from reference_models.spcolor.model import SPColor, SPColorOutput
from reference_models.spcolor.optim import build_optimizers, build_schedulers
from reference_models.spcolor.prior import KMeansPrior, PriorOutput, gray_from_l
from reference_models.spcolor.vgg import SPColorVGG
from tests.helpers import colour_image

TINY = preset("tiny")


class SpyPrior:
    """Classes from gray bands of the image (target class 3 exists only in dark regions); records its inputs."""

    def __init__(self, num_classes: int = 5, out_size: int = 16, gray_reference: bool = False):
        self.num_classes, self.out_size, self.gray_reference = num_classes, out_size, gray_reference
        self.seen: list[torch.Tensor] = []

    def __call__(self, images: torch.Tensor) -> PriorOutput:
        self.seen.append(images.clone())
        small = torch.nn.functional.interpolate(images.mean(1, keepdim=True), size=(self.out_size,) * 2,
                                                mode="area")[:, 0]
        classes = (small * self.num_classes).long().clamp(0, self.num_classes - 1)
        return PriorOutput(classes, 0.5 + 0.5 * small)


@pytest.fixture(scope="module")
def vgg(build_offline):
    return build_offline(["vgg19"], SPColorVGG)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    samples = [make_training_sample(colour_image(i, 90, 70), colour_image(i + 10, 80, 80), rng, TINY)
               for i in range(3)]
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}


def test_forward_shapes_and_similarity(vgg, batch):
    torch.manual_seed(0)
    prior = KMeansPrior(TINY.num_classes, vgg=vgg, input_size=64, out_size=16).fit(calibration_batch(64)[:4] / 255.0)
    model = SPColor(TINY, prior=prior, vgg=vgg)
    out = model(batch["target_l_input"], batch["reference_lab"], batch["reference_rgb"],
                prior_l=batch["target_lab"][:, :1])
    out.ab.sum().backward()
    assert model.correspondence.theta.weight.grad is not None  # trained jointly through the correspondence
    assert all(p.grad is None for p in model.vgg.parameters())
    out = SPColorOutput(*(x.detach() if isinstance(x, torch.Tensor) else x for x in out))
    assert out.ab.shape == (3, 2, 64, 64) and out.warped_ab.shape == (3, 2, 64, 64)
    assert out.similarity.shape == (3, 1, 64, 64) and out.matched.shape == (3, 1, 64, 64)
    assert float(out.similarity.min()) >= 0.0 and float(out.similarity.max()) <= 1.0
    assert float(out.ab.abs().max()) < 128.0
    unrelated = ~out.matched
    assert bool((out.similarity[unrelated] == 0).all())
    assert bool((out.warped_ab[unrelated.expand_as(out.warped_ab)] == 0).all())
    assert out.target_maps.classes.shape == (3, 16, 16)


def test_prior_sees_only_the_gray_target(vgg, batch):
    spy = SpyPrior()
    model = SPColor(TINY, prior=spy, vgg=vgg).eval()
    clean_l = batch["target_lab"][:, :1]
    with torch.no_grad():
        out = model(batch["target_l_input"], batch["reference_lab"], batch["reference_rgb"], prior_l=clean_l)
    target_seen, reference_seen = spy.seen
    assert torch.equal(target_seen, gray_from_l(clean_l))  # the clean L's gray image, nothing else
    assert torch.equal(target_seen[:, 0], target_seen[:, 2])
    assert float(rgb_to_lab(target_seen)[:, 1:].abs().max()) < 0.05  # no chroma at all
    assert torch.equal(reference_seen, batch["reference_rgb"])  # gray_reference False: the colour reference
    # the colour ground truth goes nowhere but the losses: another target colour, the same outputs
    recoloured = batch["target_lab"].clone()
    recoloured[:, 1:] = torch.randn_like(recoloured[:, 1:]) * 40
    spy.seen.clear()
    with torch.no_grad():
        again = model(batch["target_l_input"], batch["reference_lab"], batch["reference_rgb"],
                      prior_l=recoloured[:, :1])
    assert torch.equal(out.ab, again.ab) and torch.equal(spy.seen[0], target_seen)
    gray_spy = SpyPrior(gray_reference=True)
    SPColor(TINY, prior=gray_spy, vgg=vgg).semantic_maps(clean_l, batch["reference_rgb"])
    assert torch.equal(gray_spy.seen[1][:, 0], gray_spy.seen[1][:, 1])  # the reference made gray too


def test_colorize_keeps_the_targets_size_and_lightness(vgg):
    model = SPColor(TINY, prior=SpyPrior(), vgg=vgg)
    gray = torch.from_numpy(colour_image(20, 50, 40)).permute(2, 0, 1)
    reference = torch.from_numpy(colour_image(21, 70, 60)).permute(2, 0, 1)
    rgb = model.colorize(gray, reference)
    assert rgb.shape == (3, 40, 50) and rgb.dtype == torch.float32
    assert 0.0 <= float(rgb.min()) and float(rgb.max()) <= 1.0
    lightness_in = rgb_to_lab(gray.float() / 255.0)[0]
    assert float((rgb_to_lab(rgb)[0] - lightness_in).abs().mean()) < 2.0  # the target's own L (up to gamut clipping)
    batched = model.colorize(torch.stack([gray, gray]), torch.stack([reference, reference]))
    assert batched.shape == (2, 3, 40, 50)
    # a batch of two sums in another order than one image; the softmax at tau = 0.01 magnifies it
    torch.testing.assert_close(batched[0], rgb, atol=2e-3, rtol=0)
    assert model.training  # colorize restores the mode
    with pytest.raises(ValueError, match="as many images"):
        model.colorize(torch.stack([gray, gray]), reference)


def test_trainable_state_and_frozen_parts(vgg):
    model = SPColor(TINY, prior=SpyPrior(), vgg=vgg)
    state = model.checkpoint_state_dict()
    assert state and all(k.startswith(("correspondence.", "colornet.")) for k in state)
    other = SPColor(TINY, prior=SpyPrior(), vgg=vgg)
    other.load_checkpoint_state_dict(state)
    assert all(torch.equal(other.state_dict()[k], v) for k, v in state.items())
    with pytest.raises(RuntimeError, match="missing"):
        other.load_checkpoint_state_dict({k: v for k, v in state.items() if "theta" not in k})
    model.train()
    assert model.colornet.training and not model.vgg.training
    with pytest.raises(ValueError, match="classes"):
        SPColor(TINY, prior=SpyPrior(num_classes=4), vgg=vgg)


def test_paper_size_shapes(vgg):
    """The paper's configuration (k = 22, 256 x 256, full widths), one image, shapes only."""
    model = SPColor(SPColorConfig(), prior=SpyPrior(num_classes=22, out_size=64), vgg=vgg).eval()
    g = torch.Generator().manual_seed(0)
    lab = torch.cat([torch.rand(1, 1, 256, 256, generator=g) * 100, torch.randn(1, 2, 256, 256, generator=g) * 20], 1)
    with torch.no_grad():
        out = model(lab[:, :1], lab, torch.rand(1, 3, 256, 256, generator=g))
    assert out.ab.shape == (1, 2, 256, 256) and out.similarity.shape == (1, 1, 256, 256)
    assert sum(p.numel() for p in model.correspondence.parameters()) > 5_000_000  # 256-wide residual blocks
    assert model.correspondence.theta.in_features == 256 and model.colornet.conv10_ab.in_channels == 128


def test_config_from_dict_and_presets():
    config = SPColorConfig.from_dict({"num_classes": 10, "colornet_widths": [8, 16, 16, 32]})
    assert config.colornet_widths == (8, 16, 16, 32) and config.num_classes == 10
    with pytest.raises(ColorbenchError, match="num_clases"):
        SPColorConfig.from_dict({"num_clases": 10})
    with pytest.raises(ColorbenchError, match="did you mean paper"):
        preset("papr")
    with pytest.raises(ValueError, match="prior"):
        SPColorConfig(prior="segformer")
    with pytest.raises(ValueError, match="multiple of 16"):
        SPColorConfig(image_size=100)
    released = preset("released-code")
    assert (released.num_classes, released.colornet_lr_multiplier, released.amsgrad, released.lr_gamma) == (27, 20.0,
                                                                                                           True, 0.5)
    paper = SPColorConfig()
    assert (paper.generator_lr, paper.discriminator_lr, paper.betas, paper.lr_milestones) == (2e-5, 2e-4, (0.5, 0.999),
                                                                                              (100_000,))
    assert (paper.image_size, paper.self_reference_probability) == (256, 0.2)
    # a checkpoint written up to c6011d6 stored the run's batch and iterations in the model config
    old = {**paper.as_dict(), "batch_size": 8, "iterations": 120_000}
    assert SPColorConfig.from_record(old) == paper


def test_optimisers_and_schedules(vgg):
    from reference_models.spcolor.discriminator import Discriminator

    model = SPColor(TINY, prior=SpyPrior(), vgg=vgg)
    critic = Discriminator(ndf=4)
    for name, colour_rate, amsgrad in (("paper", 2e-5, False), ("released-code", 4e-4, True)):
        config = preset(name)
        opt_g, opt_d = build_optimizers(model, critic, config)
        assert [g["lr"] for g in opt_g.param_groups] == [2e-5, pytest.approx(colour_rate)]
        assert opt_g.param_groups[0]["amsgrad"] is amsgrad and opt_g.param_groups[0]["betas"] == (0.5, 0.999)
        assert opt_d.param_groups[0]["lr"] == 2e-4 and opt_d.param_groups[0]["betas"] == (0.5, 0.999)
        trained = {id(p) for g in opt_g.param_groups for p in g["params"]}
        assert trained == {id(p) for p in [*model.correspondence.parameters(), *model.colornet.parameters()]}
    # the paper: /10 at the milestone; the released code: x0.5 every step_size (shortened here)
    for overrides, steps, factor in (({"lr_milestones": (3,)}, 3, 0.1), ({"lr_milestones": (3,)}, 2, 1.0),
                                     ({"lr_schedule": "step", "lr_step_size": 2, "lr_gamma": 0.5}, 4, 0.25)):
        config = preset("paper", **overrides)
        opt_g, opt_d = build_optimizers(model, critic, config)
        sched_g, sched_d = build_schedulers(opt_g, opt_d, config)
        for _ in range(steps):
            opt_g.step(), opt_d.step(), sched_g.step(), sched_d.step()
        assert opt_g.param_groups[0]["lr"] == pytest.approx(2e-5 * factor)
        assert opt_d.param_groups[0]["lr"] == pytest.approx(2e-4 * factor)
