"""SPColor's losses: the paper's weights, the self-reference L1, and each term's defining property."""

from __future__ import annotations

import math

import pytest
import torch

from reference_models.spcolor.config import preset
from reference_models.spcolor.losses import (
    SPColorLoss,
    contextual_loss,
    relativistic_lsgan_discriminator,
    relativistic_lsgan_generator,
    self_reference_l1,
    shift_batch,
    similarity_masked_perceptual,
    smoothness_loss,
)
from reference_models.spcolor.model import SPColorOutput
from reference_models.spcolor.prior import PriorOutput


def test_paper_weights():
    cfg = preset("paper")
    assert (cfg.l1_weight, cfg.smp_weight, cfg.adversarial_weight, cfg.smoothness_weight) == (2.0, 0.01, 0.4, 2.0)
    assert cfg.contextual_weight == 0.0 and preset("released-code").contextual_weight == 0.2


def test_l1_counts_self_reference_samples_only():
    pred = torch.zeros(4, 2, 3, 3)
    target = torch.zeros(4, 2, 3, 3)
    target[0] += 2.0  # self-reference, error 2
    target[1] += 100.0  # not a self-reference: must not count
    target[2] += 4.0  # self-reference, error 4
    flags = torch.tensor([True, False, True, False])
    assert float(self_reference_l1(pred, target, flags)) == pytest.approx(3.0)  # (2 + 4) / 2 self-references
    assert float(self_reference_l1(pred, target, flags, "released")) == pytest.approx(6.0 / (2 + 1e-5) / 4)
    assert float(self_reference_l1(pred, target, torch.zeros(4, dtype=torch.bool))) == 0.0
    with pytest.raises(ValueError, match=r"\(B,\)"):
        self_reference_l1(pred, target, flags[:3])


def test_smp_is_masked_by_one_minus_similarity():
    g = torch.Generator().manual_seed(0)
    pred, gt = torch.randn(2, 8, 4, 4, generator=g), torch.randn(2, 8, 4, 4, generator=g)
    full = similarity_masked_perceptual(pred, gt, torch.zeros(2, 1, 16, 16))
    assert float(full) == pytest.approx(float(((pred - gt) ** 2).mean()))  # S = 0: the plain perceptual loss
    assert float(similarity_masked_perceptual(pred, gt, torch.ones(2, 1, 16, 16))) == 0.0  # S = 1: no penalty
    half = torch.zeros(2, 1, 16, 16)
    half[..., :8] = 1.0
    assert float(similarity_masked_perceptual(pred, gt, half)) == pytest.approx(
        float(((pred - gt)[..., 2:] ** 2).sum() / (pred - gt).numel()))


def test_relativistic_lsgan_values():
    real, fake = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [2.0]])  # means 2 and 1
    # D: [mean((r - 1 - 1)^2) + mean((f - 2 + 1)^2)] / 2 = [(1 + 1)/2 + (1 + 1)/2] / 2 = 1
    assert float(relativistic_lsgan_discriminator(real, fake)) == pytest.approx(1.0)
    # G: [mean((r - 1 + 1)^2) + mean((f - 2 - 1)^2)] / 2 = [(1 + 9)/2 + (9 + 1)/2] / 2 = 5
    assert float(relativistic_lsgan_generator(real, fake)) == pytest.approx(5.0)
    assert torch.equal(shift_batch(torch.arange(4.0)), torch.tensor([3.0, 0.0, 1.0, 2.0]))


def test_smoothness_zero_for_flat_colour_and_positive_for_noise():
    lab = torch.cat([torch.full((1, 1, 8, 8), 50.0), torch.zeros(1, 2, 8, 8)], 1)
    ab = torch.full((1, 2, 8, 8), 20.0)
    # interior pixels average equal neighbours; border ones also see the zero padding (as released)
    assert float(smoothness_loss(lab, ab)) < 1e-3
    noisy = ab + torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(0)) * 10
    assert float(smoothness_loss(lab, noisy)) > 10.0


def test_contextual_loss_zero_for_identical_features():
    x = torch.randn(2, 16, 5, 5, generator=torch.Generator().manual_seed(0))
    assert float(contextual_loss(x, x).max()) < 1e-6
    assert float(contextual_loss(x, torch.randn(2, 16, 5, 5)).min()) > 0.1


class _Vgg(torch.nn.Module):
    """Stand-in features: fixed random 1x1 projections of RGB at the VGG strides."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = {name: torch.randn(8, 3, generator=g) for name in ("relu3_2", "relu4_2", "relu5_2")}

    def forward(self, rgb):
        out = {}
        for name, stride in (("relu3_2", 4), ("relu4_2", 8), ("relu5_2", 16)):
            out[name] = torch.einsum("oc,bchw->bohw", self.w[name], torch.nn.functional.avg_pool2d(rgb, stride))
        return out


class _Critic(torch.nn.Module):
    def forward(self, lab):
        return lab.mean(dim=(1, 2, 3))[:, None] / 50.0


def _output(ab, similarity, ref_features):
    maps = PriorOutput(torch.zeros(2, 4, 4, dtype=torch.long), torch.ones(2, 4, 4))
    return SPColorOutput(ab, ab.detach(), similarity, similarity > 0, maps, maps, ref_features)


def test_generator_terms_carry_the_configured_weights():
    g = torch.Generator().manual_seed(0)
    target_lab = torch.cat([torch.rand(2, 1, 32, 32, generator=g) * 100,
                            torch.randn(2, 2, 32, 32, generator=g) * 20], 1)
    ab = (torch.randn(2, 2, 32, 32, generator=g) * 20).requires_grad_(True)
    sim = torch.rand(2, 1, 32, 32, generator=g)
    flags = torch.tensor([True, False])
    vgg = _Vgg()
    ref_features = vgg(torch.rand(2, 3, 32, 32, generator=g))
    out = _output(ab, sim, ref_features)
    unit = preset("paper", l1_weight=1.0, smp_weight=1.0, adversarial_weight=1.0, smoothness_weight=1.0,
                  contextual_weight=1.0)
    scaled = preset("paper", contextual_weight=0.2)
    one = SPColorLoss(unit, vgg).generator_loss(out, target_lab, flags, _Critic())
    paper = SPColorLoss(scaled, vgg).generator_loss(out, target_lab, flags, _Critic())
    value = {name: (float(getattr(paper, name).detach()), float(getattr(one, name).detach())) for name in paper._fields}
    for name, weight in (("l1", 2.0), ("smp", 0.01), ("adversarial", 0.4), ("smoothness", 2.0), ("contextual", 0.2)):
        assert value[name][0] == pytest.approx(weight * value[name][1], rel=1e-5), name
        assert value[name][1] != 0.0, name
    assert value["total"][0] == pytest.approx(sum(value[n][0] for n in paper._fields[:-1]), rel=1e-6)
    off = SPColorLoss(preset("paper"), vgg).generator_loss(out, target_lab, flags, _Critic())
    assert float(off.contextual.detach()) == 0.0  # off by default
    paper.total.backward()
    assert ab.grad is not None and math.isfinite(float(ab.grad.abs().sum()))
    critic = SPColorLoss(preset("paper"), vgg).discriminator_loss(ab, target_lab, _Critic())
    assert critic.requires_grad is False  # the fakes are detached for the discriminator's step


def test_smp_acts_on_the_caffe_feature_scale():
    """The 0.01 was tuned on the released Caffe VGG19's features: torchvision's are brought to that scale
    (x TORCHVISION_TO_CAFFE_FEATURE_SCALE, so the loss x its square); the Caffe VGG itself is not rescaled."""
    from reference_models.spcolor.config import TORCHVISION_TO_CAFFE_FEATURE_SCALE, SPColorConfig

    assert SPColorConfig().smp_scale == TORCHVISION_TO_CAFFE_FEATURE_SCALE == 57.63
    assert SPColorConfig(vgg_input="caffe").smp_scale == 1.0
    assert SPColorConfig(smp_feature_scale=3.0).smp_scale == 3.0
    assert preset("released-code").smp_scale == TORCHVISION_TO_CAFFE_FEATURE_SCALE  # it keeps torchvision's VGG
    with pytest.raises(ValueError, match="smp_feature_scale"):
        SPColorConfig(smp_feature_scale=0.0)
    g = torch.Generator().manual_seed(1)
    target_lab = torch.cat([torch.rand(2, 1, 32, 32, generator=g) * 100,
                            torch.randn(2, 2, 32, 32, generator=g) * 20], 1)
    ab = torch.randn(2, 2, 32, 32, generator=g) * 20
    vgg = _Vgg()
    out = _output(ab, torch.rand(2, 1, 32, 32, generator=g), vgg(torch.rand(2, 3, 32, 32, generator=g)))
    flags = torch.tensor([True, False])
    only_smp = {"l1_weight": 0.0, "adversarial_weight": 0.0, "smoothness_weight": 0.0}
    scaled = SPColorLoss(preset("paper", **only_smp), vgg).generator_loss(out, target_lab, flags)
    plain = SPColorLoss(preset("paper", smp_feature_scale=1.0, **only_smp), vgg).generator_loss(out, target_lab, flags)
    assert float(scaled.smp) == pytest.approx(float(plain.smp) * 57.63 ** 2, rel=1e-5)
    assert float(scaled.total) == pytest.approx(float(scaled.smp))

    class _Caffe(torch.nn.Module):  # features 57.63x torchvision's, as a Caffe-scale network would give
        def forward(self, rgb):
            return {name: value * 57.63 for name, value in vgg(rgb).items()}

    caffe = SPColorLoss(preset("paper", vgg_input="caffe", **only_smp), _Caffe()).generator_loss(out, target_lab, flags)
    assert float(caffe.smp) == pytest.approx(float(scaled.smp), rel=1e-5)


# bf16 autocast (training on a GPU): each loss gives what float32 gives on the same values.
AMP = {"device_type": "cpu", "dtype": torch.bfloat16}


def test_contextual_loss_under_bf16_autocast_is_the_float32_loss():
    """Features as a bfloat16 VGG gives them, an output resembling its reference: ``1 - cos`` near its
    minimum, over that minimum and h = 0.1, magnifies bfloat16's rounding (in bfloat16 these losses
    were off by 0.4% and 1.5%)."""
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(2, 64, 8, 8, generator=g).relu().bfloat16()
    pred = (ref.float() + torch.randn(2, 64, 8, 8, generator=g)).bfloat16()
    leaf = pred.float().requires_grad_(True)
    expected = contextual_loss(leaf, ref.float())
    (expected_grad,) = torch.autograd.grad(expected.sum(), leaf)
    leaf = pred.clone().requires_grad_(True)
    with torch.autocast(**AMP):
        mixed = contextual_loss(leaf, ref)
    (grad,) = torch.autograd.grad(mixed.sum(), leaf)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, expected, rtol=1e-5, atol=0)
    torch.testing.assert_close(grad.float(), expected_grad, rtol=0, atol=1e-2 * float(expected_grad.abs().max()))


def test_relativistic_losses_take_bf16_logits_in_float32():
    real, fake = torch.tensor([[100.5], [101.0]]).bfloat16(), torch.tensor([[100.0], [100.25]]).bfloat16()
    for loss in (relativistic_lsgan_discriminator, relativistic_lsgan_generator):
        with torch.autocast(**AMP):
            mixed = loss(real, fake)
        assert mixed.dtype == torch.float32
        assert float(mixed) == float(loss(real.float(), fake.float()))


class _ConvVgg(torch.nn.Module):
    """Stand-in features from convolutions, so that autocast would run them in bfloat16."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.convs = torch.nn.ModuleDict({name: torch.nn.Conv2d(3, 16, stride, stride=stride)
                                          for name, stride in (("relu3_2", 4), ("relu4_2", 8), ("relu5_2", 16))})

    def forward(self, rgb):
        return {name: conv(rgb).relu() for name, conv in self.convs.items()}


def test_generator_loss_under_bf16_autocast_is_the_float32_loss():
    """The output's ab arrive in bfloat16 (the colour network under autocast); the perceptual
    features of the output and the ground truth, which differ little, are taken in float32."""
    g = torch.Generator().manual_seed(0)
    lab = torch.cat([torch.rand(2, 1, 32, 32, generator=g) * 60 + 20, torch.randn(2, 2, 32, 32, generator=g) * 20], 1)
    ab = (lab[:, 1:] + torch.randn(2, 2, 32, 32, generator=g)).bfloat16()
    vgg = _ConvVgg()
    with torch.no_grad():
        ref_features = vgg(torch.rand(2, 3, 32, 32, generator=g))
    sim = torch.rand(2, 1, 32, 32, generator=g)
    flags = torch.tensor([True, False])
    config = preset("paper", contextual_weight=0.2)
    expected = SPColorLoss(config, vgg).generator_loss(_output(ab.float(), sim, ref_features), lab, flags, _Critic())
    with torch.autocast(**AMP):
        mixed = SPColorLoss(config, vgg).generator_loss(_output(ab, sim, ref_features), lab, flags, _Critic())
    for name in mixed._fields:
        value = getattr(mixed, name)
        assert value.dtype == torch.float32, name
        torch.testing.assert_close(value, getattr(expected, name), rtol=1e-5, atol=0, msg=name)
