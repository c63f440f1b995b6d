"""MSA's loss: SmoothL1 on ab / 127 + LPIPS on RGB in [-1, 1], its presets, and its gradients."""

import pytest
import torch
from torch import nn

from bench.core.errors import ColorbenchError
from reference_models.superattention.losses import (
    LOSS_PRESETS,
    ColorizationLoss,
    LossConfig,
    ab_to_rgb,
    get_loss_config,
)


class RecordingLpips(nn.Module):
    """A differentiable stand-in for lpips.LPIPS that records what it is given."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, a, b):
        self.seen.append((a.detach(), b.detach()))
        return (a - b).square().mean(dim=(1, 2, 3), keepdim=True)


def batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    target_l = torch.rand(2, 1, 16, 16, generator=gen) * 0.6 + 0.2
    target_ab = (torch.rand(2, 2, 16, 16, generator=gen) - 0.5) * 0.6
    pred_ab = (torch.rand(2, 2, 16, 16, generator=gen) - 0.5) * 0.6
    return pred_ab.requires_grad_(True), target_ab, target_l


def test_presets():
    assert LOSS_PRESETS["paper"] == LossConfig(smooth_l1_weight=2.0, lpips_weight=0.15, lpips_net="vgg16")
    assert LOSS_PRESETS["sa-code"] == LossConfig(smooth_l1_weight=20.0, lpips_weight=0.15, lpips_net="vgg16")
    assert get_loss_config("sa-code").smooth_l1_weight == 20.0
    with pytest.raises(ColorbenchError, match="did you mean sa-code"):
        get_loss_config("sa_code")
    with pytest.raises(ColorbenchError, match="lpips_wieght"):
        LossConfig.from_dict({"lpips_wieght": 1.0})
    assert LossConfig.from_dict(LOSS_PRESETS["paper"].as_dict()) == LOSS_PRESETS["paper"]
    with pytest.raises(ValueError, match="lpips_net"):
        LossConfig(lpips_net="squeeze")


def test_terms_and_weights():
    pred_ab, target_ab, target_l = batch()
    fake = RecordingLpips()
    paper = ColorizationLoss("paper", lpips_model=fake)(pred_ab, target_ab, target_l)
    expected_l1 = torch.nn.functional.smooth_l1_loss(pred_ab, target_ab)
    assert paper.smooth_l1 == pytest.approx(expected_l1.item())
    assert paper.total.item() == pytest.approx(2.0 * paper.smooth_l1.item() + 0.15 * paper.lpips.item())
    sa = ColorizationLoss("sa-code", lpips_model=fake)(pred_ab, target_ab, target_l)
    assert sa.total.item() - paper.total.item() == pytest.approx(18.0 * expected_l1.item())
    # what LPIPS sees: RGB in [-1, 1] with the ground truth's L and the two ab
    a, b = fake.seen[0]
    assert a.min() >= -1 and a.max() <= 1 and a.shape == (2, 3, 16, 16)
    assert torch.allclose(b, ab_to_rgb(target_l * 100, target_ab * 127) * 2 - 1)
    assert torch.allclose(a, ab_to_rgb(target_l * 100, pred_ab.detach() * 127) * 2 - 1)


def test_identity_is_zero_and_gradients_flow_through_lpips():
    pred_ab, target_ab, target_l = batch(1)
    zero = ColorizationLoss("paper", lpips_model=RecordingLpips())(target_ab.clone(), target_ab, target_l)
    assert zero.total.item() == 0.0
    only_lpips = ColorizationLoss(LossConfig(smooth_l1_weight=0.0, lpips_weight=1.0), lpips_model=RecordingLpips())
    only_lpips(pred_ab, target_ab, target_l).total.backward()
    assert pred_ab.grad.abs().sum() > 0  # through kornia's lab_to_rgb


def test_no_lpips_loads_nothing():
    loss = ColorizationLoss(LossConfig(lpips_weight=0.0))
    assert loss.lpips is None
    pred_ab, target_ab, target_l = batch(2)
    terms = loss(pred_ab, target_ab, target_l)
    assert terms.lpips.item() == 0.0 and terms.total.item() == pytest.approx(2.0 * terms.smooth_l1.item())


def test_real_lpips_network_is_differentiable(random_weights):
    random_weights("alexnet")
    loss = ColorizationLoss(LossConfig(lpips_net="alexnet"))  # bench.metrics.lpips.load_lpips, frozen
    assert not any(p.requires_grad for p in loss.lpips.parameters())
    gen = torch.Generator().manual_seed(3)
    target_l = torch.rand(1, 1, 64, 64, generator=gen) * 0.6 + 0.2
    target_ab = (torch.rand(1, 2, 64, 64, generator=gen) - 0.5) * 0.5
    pred_ab = torch.zeros(1, 2, 64, 64, requires_grad=True)
    terms = loss(pred_ab, target_ab, target_l)
    assert terms.lpips > 0
    terms.total.backward()
    assert pred_ab.grad.abs().sum() > 0
    loss.train()
    assert not loss.lpips.training


def test_exception():
    loss = ColorizationLoss(LossConfig(lpips_weight=0.0))
    pred_ab, target_ab, target_l = batch()
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        loss(pred_ab[:, :1], target_ab, target_l)
    with pytest.raises(ValueError, match="share"):
        loss(pred_ab, target_ab[..., :8], target_l)
    with pytest.raises(TypeError, match="torch.Tensor"):
        loss(pred_ab, target_ab.numpy(), target_l)


class ConvLpips(nn.Module):
    """A stand-in LPIPS built from a convolution, so that autocast would run it in bfloat16."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, a, b):
        return (self.conv(a) - self.conv(b)).square().mean(dim=(1, 2, 3), keepdim=True)


def test_under_bf16_autocast_the_loss_is_the_float32_loss():
    """Whoever calls it under autocast, the loss (colour conversion, LPIPS) runs in float32 on the
    same values: the prediction's ab arrive in bfloat16 and differ from the target's by ~0.01."""
    _, target_ab, target_l = batch(2)
    pred_ab = (target_ab + 0.01 * torch.randn(target_ab.shape, generator=torch.Generator().manual_seed(3))).bfloat16()
    loss = ColorizationLoss("paper", lpips_model=ConvLpips())
    expected = loss(pred_ab.float(), target_ab, target_l)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = loss(pred_ab, target_ab, target_l)
    for name in mixed._fields:
        assert getattr(mixed, name).dtype == torch.float32, name
        torch.testing.assert_close(getattr(mixed, name), getattr(expected, name), rtol=1e-6, atol=0, msg=name)
